{#-
    The orphan rule, the contract's last: every row of base_lakehouse__transactions (those matching `where`, a SQL
    condition on its columns, if given) with its own rules (row_rules) and whether its client and asset exist,
    against the current stg_clients and stg_assets. A row naming a client or asset that has no valid version yet
    is rejected; it becomes valid by itself once the late file arrives, and _last_ingested_at says from when.

    A macro, not only the view int_transactions__orphan_checked: an incremental reader that needs some rows by key
    passes `where`, so they are picked first. Trino cannot push such a join below the view's own joins, so through
    the view every row of history would be checked before the filter.
-#}
{% macro orphan_checks(where=none) %}

with

transactions as (

    select * from {{ ref('base_lakehouse__transactions') }}
    {%- if where %}
    where {{ where }}
    {%- endif %}

),

clients as (

    select
        client_id,
        first_valid_ingested_at

    from {{ ref('stg_clients') }}

),

assets as (

    select
        asset_id,
        first_valid_ingested_at

    from {{ ref('stg_assets') }}

),

checked as (

    select
        transactions.*,
        clients.first_valid_ingested_at as client_valid_from,
        assets.first_valid_ingested_at as asset_valid_from,
        concat(
            transactions.row_rules,
            {{ broken_rules([
                reject_if('clients.client_id is null', 'orphan_reference', 'client_id'),
                reject_if("transactions.asset_id is null and transactions.transaction_type != 'fee'",
                          'orphan_reference', 'asset_id'),
                reject_if('transactions.asset_id is not null and assets.asset_id is null',
                          'orphan_reference', 'asset_id'),
            ]) }}
        ) as rules

    from transactions
    left join clients on transactions.client_id = clients.client_id
    left join assets on transactions.asset_id = assets.asset_id

),

final as (

    select
        {%- for column in transaction_columns() %}
        {{ column }},
        {%- endfor %}
        {#- When a valid row became valid: its own ingestion, or the first valid version of its client or asset
            if that came later. Incremental models start from it, so a late client file brings its trades in. #}
        if(
            cardinality(rules) = 0,
            greatest(_ingested_at, client_valid_from, coalesce(asset_valid_from, _ingested_at))
        ) as _last_ingested_at,

        {{ validation_columns('transactions', 'rules') }}

    from checked

)

select * from final

{% endmacro %}
