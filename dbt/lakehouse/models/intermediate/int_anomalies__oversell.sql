{#-
    oversell: a settled sell after which the client's running quantity of the asset (settled buys less sells,
    in executed_at then transaction_id order) is below zero. The score is the quantity short.

    Incremental: a change at t moves only the running quantities of its client-asset pair from t on. A run
    recomputes those, starting from what the pair's earlier trades add up to (`carried`, exact decimals, so the
    sums equal a full build's), and keeps the rule's other findings (macros/anomaly_scope.sql).
-#}

{{ config(
    materialized='incremental',
    incremental_strategy='sync',
    unique_key='transaction_id',
    on_schema_change='fail',
) }}

-- depends_on: {{ ref('base_lakehouse__transactions') }}

with

settled_trades as (

    {{ settled_transactions(trades_only=true) }}

),

{% if is_incremental() %}

{{ changed_versions() }}

recompute_from as (

    select
        client_id,
        asset_id,
        min(executed_at) as executed_at

    from changed_versions
    where client_id is not null
        and asset_id is not null
    group by client_id, asset_id

),

kept as (

    select stored.*
    from {{ this }} as stored
    left join recompute_from
        on stored.client_id = recompute_from.client_id
            and stored.asset_id = recompute_from.asset_id
    where recompute_from.executed_at is null
        or stored.executed_at < recompute_from.executed_at

),

carried as (

    select
        settled_trades.client_id,
        settled_trades.asset_id,
        sum(if(settled_trades.transaction_type = 'buy', settled_trades.quantity, -settled_trades.quantity))
            as quantity,
        max(settled_trades._last_ingested_at) as contributed_at

    from settled_trades
    inner join recompute_from
        on settled_trades.client_id = recompute_from.client_id
            and settled_trades.asset_id = recompute_from.asset_id
    where settled_trades.executed_at < recompute_from.executed_at
    group by settled_trades.client_id, settled_trades.asset_id

),

trades as (

    select
        settled_trades.*,
        coalesce(carried.quantity, 0) as carried_quantity,
        coalesce(carried.contributed_at, {{ epoch() }}) as carried_contributed_at

    from settled_trades
    inner join recompute_from
        on settled_trades.client_id = recompute_from.client_id
            and settled_trades.asset_id = recompute_from.asset_id
    left join carried
        on settled_trades.client_id = carried.client_id
            and settled_trades.asset_id = carried.asset_id
    where settled_trades.executed_at >= recompute_from.executed_at

),

{% else %}

trades as (

    select
        *,
        0 as carried_quantity,
        {{ epoch() }} as carried_contributed_at

    from settled_trades

),

{% endif %}

positions as (

    select
        *,
        carried_quantity + sum(if(transaction_type = 'buy', quantity, -quantity)) over running
            as running_quantity,
        greatest(carried_contributed_at, max(_last_ingested_at) over running) as contributed_at

    from trades
    window running as (
        partition by client_id, asset_id
        order by executed_at, transaction_id
        rows between unbounded preceding and current row
    )

),

flagged as (

    select
        *,
        cast(-running_quantity as double) as score,
        'high' as severity,
        format(
            'sell of %s leaves the client short %s of the asset',
            cast(quantity as varchar), cast(-running_quantity as varchar)
        ) as reason,
        contributed_at as detected_at

    from positions
    where transaction_type = 'sell'
        and running_quantity < 0

),

{{ anomaly_final('oversell', keep_stored=is_incremental()) }}
