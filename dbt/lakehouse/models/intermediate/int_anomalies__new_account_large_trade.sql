{#-
    new_account_large_trade: a settled trade within `new_account_days` of the client's onboarding whose amount
    is above `new_account_amount_multiple` x the exact median trade amount of the client's segment.
-#}

with

trades as (

    {{ settled_transactions(trades_only=true) }}

),

clients as (

    select * from {{ ref('stg_clients') }}

),

segment_trades as (

    select
        trades.*,
        clients.segment,
        clients.onboarded_at,
        count(*) over segment as segment_trade_count,
        row_number() over amount_order as amount_position,
        max(greatest(trades._last_ingested_at, clients._ingested_at)) over segment as contributed_at

    from trades
    inner join clients on trades.client_id = clients.client_id
    where clients.segment is not null
    window
        segment as (partition by clients.segment),
        amount_order as (
            partition by clients.segment
            order by trades.amount, trades.transaction_id
        )

),

segment_medians as (

    select
        segment,
        avg(cast(amount as double)) as median_amount

    from segment_trades
    where amount_position in ((segment_trade_count + 1) / 2, (segment_trade_count + 2) / 2)
    group by segment

),

new_account_trades as (

    select
        segment_trades.*,
        segment_medians.median_amount,
        cast(segment_trades.amount as double) / segment_medians.median_amount as multiple,
        date_diff('hour', segment_trades.onboarded_at, segment_trades.executed_at) as hours_since_onboarding

    from segment_trades
    inner join segment_medians on segment_trades.segment = segment_medians.segment
    where segment_trades.executed_at >= segment_trades.onboarded_at
        and segment_trades.executed_at < segment_trades.onboarded_at + interval '{{ var("new_account_days") }}' day

),

flagged as (

    select
        *,
        multiple as score,
        {{ severity_from_ratio('multiple / ' ~ var('new_account_amount_multiple')) }} as severity,
        format(
            'amount %.2f is %.1fx the %s segment''s median trade %.2f, %d hours after onboarding',
            amount, multiple, segment, median_amount, hours_since_onboarding
        ) as reason,
        contributed_at as detected_at

    from new_account_trades
    where multiple > {{ var('new_account_amount_multiple') }}

),

{{ anomaly_final('new_account_large_trade') }}
