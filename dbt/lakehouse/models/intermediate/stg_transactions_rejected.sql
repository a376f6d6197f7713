{#-
    One row per distinct delivered transaction record that cannot be made valid (macros/rejected_records.sql).
    Built in the intermediate layer, into the staging schema its readers know: the orphan rule it reports needs
    the clients and assets, which only int_transactions__orphan_checked brings together.

    Incremental: a run recomputes only the records delivered since the newest delivery it stored (less the
    lookback), and those a client or asset file that first arrived since can make valid. Such a record, an orphan
    until then, is deleted (merge_or_delete, macros/incremental_strategies.sql). A full refresh gives the same
    table. It checks the orphan rule on those records' rows alone (macros/orphan_checks.sql), not on all history.
-#}

{{ config(
    schema='staging',
    materialized='incremental',
    incremental_strategy='merge_or_delete',
    unique_key='record_key',
    delete_when_null='rejection_rule',
    on_schema_change='append_new_columns',
) }}

{#- Incremental runs read these to find new deliveries and late clients and assets. #}
-- depends_on: {{ ref('base_lakehouse__transactions') }}
-- depends_on: {{ ref('stg_clients') }}
-- depends_on: {{ ref('stg_assets') }}

{%- set changed_rows = none %}
{%- if is_incremental() %}
    {%- set records = transaction_rows_since('record_key', incremental_watermark('_ingested_at')) %}
    {%- set changed_rows = orphan_checks(where='record_key in (' ~ records ~ ')') %}
{%- endif %}

{{ rejected_records('transactions', 'transaction_id', 'int_transactions__orphan_checked', changed_rows) }}
