{#-
    One row per transaction: its latest valid version (macros/latest_valid_versions.sql's version_order). The one
    place that decides it: fact_transactions, the dimensions, stg_transactions and the anomaly rules all read it.

    An incremental run reads the rows that became valid since the newest one stored (less a lookback, for rows
    committed late by a concurrent load): those ingested since, and the older rows of clients and assets that
    first arrived since (a late client file). Each competes with the stored version of its id, so a late but
    older version never overwrites a newer one and a full refresh gives the same table.
-#}

{#- Incremental runs read these to find late clients and assets; a full refresh reads every valid row anyway. #}
-- depends_on: {{ ref('stg_clients') }}
-- depends_on: {{ ref('stg_assets') }}

{%- set columns = transaction_columns() + [
    '_source_file', '_source_row', '_ingested_at', '_batch_id', '_last_ingested_at',
] %}

with

valid_versions as (

    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        false as is_stored

    from {{ ref('int_transactions__orphan_checked') }}
    where rejection_rule is null

),

{% if is_incremental() %}

watermark as (

    select {{ incremental_watermark('_last_ingested_at') }} as valid_after

),

newly_known_clients as (

    select stg_clients.client_id
    from {{ ref('stg_clients') }} as stg_clients
    cross join watermark
    where stg_clients.first_valid_ingested_at > watermark.valid_after

),

newly_known_assets as (

    select stg_assets.asset_id
    from {{ ref('stg_assets') }} as stg_assets
    cross join watermark
    where stg_assets.first_valid_ingested_at > watermark.valid_after

),

new_versions as (

    {#- Three branches rather than one OR, so the first keeps its filter on the raw scan's _ingested_at.
        The other two are empty on a day without late clients or assets, and an empty join side ends the scan. #}
    select valid_versions.*
    from valid_versions
    cross join watermark
    where valid_versions._ingested_at > watermark.valid_after

    union all

    select valid_versions.*
    from valid_versions
    inner join newly_known_clients on valid_versions.client_id = newly_known_clients.client_id

    union all

    select valid_versions.*
    from valid_versions
    inner join newly_known_assets on valid_versions.asset_id = newly_known_assets.asset_id

),

{% endif %}

candidates as (

    select * from {{ 'new_versions' if is_incremental() else 'valid_versions' }}

    {% if is_incremental() %}

    union all

    select
        {%- for column in columns %}
        stored.{{ column }},
        {%- endfor %}
        true as is_stored

    from {{ this }} as stored
    where stored.transaction_id in (select new_versions.transaction_id from new_versions)

    {% endif %}

),

ranked as (

    select
        *,
        row_number() over (
            partition by transaction_id
            order by {{ version_order() }}
        ) as version_rank

    from candidates

),

final as (

    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        date(executed_at) as executed_date

    from ranked
    {#- A stored version that still wins is left as it is: the merge touches only ids that changed. #}
    where version_rank = 1
        and not is_stored

)

select * from final
