{#-
    oversell: a settled sell after which the client's running quantity of the asset (settled buys less sells,
    in executed_at then transaction_id order) is below zero. The score is the quantity short.
-#}

with

trades as (

    {{ settled_transactions(trades_only=true) }}

),

positions as (

    select
        *,
        sum(if(transaction_type = 'buy', quantity, -quantity)) over running as running_quantity,
        max(_last_ingested_at) over running as contributed_at

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

{{ anomaly_final('oversell') }}
