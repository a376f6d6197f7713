{#-
    amount_outlier: a settled trade whose amount lies more than `amount_outlier_z` sample standard deviations
    above the mean of the client's earlier settled trades, when there are at least `amount_outlier_min_trades`
    of them. "Earlier" orders a client's trades by executed_at, then transaction_id.
-#}

with

trades as (

    {{ settled_transactions(trades_only=true) }}

),

client_history as (

    select
        *,
        count(amount) over earlier_trades as earlier_trade_count,
        avg(cast(amount as double)) over earlier_trades as earlier_mean,
        stddev_samp(cast(amount as double)) over earlier_trades as earlier_stddev,
        max(_last_ingested_at) over (
            partition by client_id
            order by executed_at, transaction_id
            rows between unbounded preceding and current row
        ) as contributed_at

    from trades
    window earlier_trades as (
        partition by client_id
        order by executed_at, transaction_id
        rows between unbounded preceding and 1 preceding
    )

),

scored as (

    select
        *,
        (cast(amount as double) - earlier_mean) / earlier_stddev as z_score

    from client_history
    {#- Identical earlier amounts have no spread to measure against. #}
    where earlier_trade_count >= {{ var('amount_outlier_min_trades') }}
        and earlier_stddev > 0

),

flagged as (

    select
        *,
        z_score as score,
        {{ severity_from_ratio('z_score / ' ~ var('amount_outlier_z')) }} as severity,
        format(
            'amount %.2f is %.1f standard deviations above the mean %.2f of the client''s %d earlier trades',
            amount, z_score, earlier_mean, earlier_trade_count
        ) as reason,
        contributed_at as detected_at

    from scored
    where z_score > {{ var('amount_outlier_z') }}

),

{{ anomaly_final('amount_outlier') }}
