{#-
    One row per transaction: its latest valid version (int_transactions__latest_valid) and how many distinct
    valid records it has, which the reconciliation test counts. Built in the intermediate layer, into the
    staging schema its readers know, because validity includes the orphan check.

    Incremental (merge on transaction_id): a run recounts only the transactions that may have changed since the
    newest row it stored (less the lookback): those with a new latest version, and those with a new delivery,
    which can add a valid version that does not win. An older delivery made valid by a late client or asset
    file counts too. A full refresh gives the same table.
-#}

{{ config(
    schema='staging',
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='transaction_id',
    on_schema_change='append_new_columns',
    properties={'partitioning': "ARRAY['day(executed_at)']"},
) }}

{#- Incremental runs read these to find new deliveries and late clients and assets. #}
-- depends_on: {{ ref('base_lakehouse__transactions') }}
-- depends_on: {{ ref('stg_clients') }}
-- depends_on: {{ ref('stg_assets') }}

with

{% if is_incremental() %}

watermark as (

    select {{ incremental_watermark('_last_ingested_at') }} as changed_after

),

changed_transactions as (

    {#- A new latest version, or a delivered row that may add a valid version that does not win. #}
    select transaction_id
    from {{ ref('int_transactions__latest_valid') }}
    where _last_ingested_at > (select watermark.changed_after from watermark)

    union distinct

    {{ transaction_rows_since('transaction_id', '(select watermark.changed_after from watermark)') }}

),

{% endif %}

latest as (

    select latest_valid.*
    from {{ ref('int_transactions__latest_valid') }} as latest_valid
    {% if is_incremental() %}
    inner join changed_transactions on latest_valid.transaction_id = changed_transactions.transaction_id
    {% endif %}

),

valid_versions as (

    {% if is_incremental() %}
    {#- The changed ids' rows are picked before the orphan check, not after it (macros/orphan_checks.sql). #}
    select *
    from (
        {{ orphan_checks(
            where='transaction_id in (select changed_transactions.transaction_id from changed_transactions)'
        ) | indent(8) }}
    )
    {% else %}
    select *
    from {{ ref('int_transactions__orphan_checked') }}
    {% endif %}
    where rejection_rule is null

),

versions as (

    {#- Valid distinct records per id; with the rejected records they account for every delivered record. #}
    select
        transaction_id,
        count(distinct record_key) as version_count

    from valid_versions
    group by transaction_id

),

final as (

    select
        latest.*,
        versions.version_count

    from latest
    inner join versions on latest.transaction_id = versions.transaction_id

)

select * from final
