{#-
    One row per settled transaction and rule it trips. Every threshold is a var (dbt_project.yml).
    detected_at is the newest ingestion among the rows that made the rule fire, never the run time, so
    a rebuild on the same data gives the same table; anomaly_id is stable so alerts fire once per anomaly.
    "Earlier" and "running" order a client's transactions by executed_at, then transaction_id.
-#}

with

transactions as (

    select * from {{ ref('fact_transactions') }}
    where status = 'settled'

),

trades as (

    select * from transactions
    where transaction_type in ('buy', 'sell')

),

clients as (

    select * from {{ ref('dim_clients') }}

),

assets as (

    select * from {{ ref('dim_assets') }}

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

amount_outliers as (

    select
        transaction_id,
        client_id,
        asset_id,
        executed_at,
        'amount_outlier' as rule,
        z_score as score,
        {{ severity_from_ratio('z_score / ' ~ var('amount_outlier_z')) }} as severity,
        format(
            'amount %.2f is %.1f standard deviations above the mean %.2f of the client''s %d earlier trades',
            amount, z_score, earlier_mean, earlier_trade_count
        ) as reason,
        contributed_at as detected_at

    from (
        select
            *,
            (cast(amount as double) - earlier_mean) / earlier_stddev as z_score

        from client_history
        {#- Identical earlier amounts have no spread to measure against. #}
        where earlier_trade_count >= {{ var('amount_outlier_min_trades') }}
            and earlier_stddev > 0
    )
    where z_score > {{ var('amount_outlier_z') }}

),

asset_days as (

    select
        *,
        count(*) over asset_day as day_trade_count,
        row_number() over (
            partition by asset_id, executed_date
            order by price, transaction_id
        ) as price_position,
        max(_last_ingested_at) over asset_day as contributed_at

    from trades
    window asset_day as (partition by asset_id, executed_date)

),

day_medians as (

    {#- The exact median: the middle price, or the mean of the two middle ones. #}
    select
        asset_id,
        executed_date,
        avg(cast(price as double)) as median_price

    from asset_days
    where price_position in ((day_trade_count + 1) / 2, (day_trade_count + 2) / 2)
    group by asset_id, executed_date

),

price_deviations as (

    select
        asset_days.transaction_id,
        asset_days.client_id,
        asset_days.asset_id,
        asset_days.executed_at,
        'price_deviation' as rule,
        abs(cast(asset_days.price as double) - day_medians.median_price) / day_medians.median_price as score,
        asset_days.price,
        day_medians.median_price,
        asset_days.day_trade_count,
        asset_days.contributed_at

    from asset_days
    inner join day_medians
        on asset_days.asset_id = day_medians.asset_id
            and asset_days.executed_date = day_medians.executed_date
    where asset_days.day_trade_count >= {{ var('price_deviation_min_trades') }}

),

price_outliers as (

    select
        transaction_id,
        client_id,
        asset_id,
        executed_at,
        rule,
        score,
        {{ severity_from_ratio('score / ' ~ var('price_deviation_pct')) }} as severity,
        format(
            'price %.4f is %.1f%% away from the median %.4f of the asset''s %d trades that day',
            price, score * 100, median_price, day_trade_count
        ) as reason,
        contributed_at as detected_at

    from price_deviations
    where score > {{ var('price_deviation_pct') }}

),

client_sequences as (

    select
        *,
        {#- The client's Nth transaction counting back lies inside the window: this is the Nth or later. #}
        lag(executed_at, {{ var('velocity_burst_count') - 1 }}) over client_order as burst_start_at,
        count(*) over recent_window as window_count,
        max(_last_ingested_at) over recent_window as contributed_at

    from transactions
    window
        client_order as (
            partition by client_id
            order by executed_at, transaction_id
        ),
        recent_window as (
            partition by client_id
            order by executed_at
            range between interval '{{ var("velocity_burst_minutes") }}' minute preceding and current row
        )

),

velocity_bursts as (

    select
        transaction_id,
        client_id,
        asset_id,
        executed_at,
        'velocity_burst' as rule,
        cast(window_count as double) as score,
        {{ severity_from_ratio('window_count / ' ~ var('velocity_burst_count') ~ '.0') }} as severity,
        format(
            '%d transactions by the client within %d minutes up to this one',
            window_count, {{ var('velocity_burst_minutes') }}
        ) as reason,
        contributed_at as detected_at

    from client_sequences
    where burst_start_at >= executed_at - interval '{{ var("velocity_burst_minutes") }}' minute

),

duplicate_pairs as (

    select
        this.transaction_id,
        this.client_id,
        this.asset_id,
        this.executed_at,
        twin.transaction_id as twin_transaction_id,
        greatest(this._last_ingested_at, twin._last_ingested_at) as contributed_at

    from transactions as this
    inner join transactions as twin
        on this.client_id = twin.client_id
            and this.asset_id is not distinct from twin.asset_id
            and this.transaction_type = twin.transaction_type
            and this.quantity is not distinct from twin.quantity
            and this.price is not distinct from twin.price
            {#- Dividends and fees carry no quantity or price: their amount must match instead. #}
            and (this.quantity is not null or this.price is not null or this.amount = twin.amount)
            and this.transaction_id != twin.transaction_id
            and twin.executed_at between this.executed_at - interval '{{ var("duplicate_window_minutes") }}' minute
            and this.executed_at + interval '{{ var("duplicate_window_minutes") }}' minute

),

duplicates as (

    select
        transaction_id,
        client_id,
        asset_id,
        executed_at,
        'duplicate_suspect' as rule,
        cast(count(*) as double) as score,
        'medium' as severity,
        format(
            'same client, asset, type, quantity and price as %s within %d minutes',
            array_join(array_sort(array_agg(twin_transaction_id)), ', '),
            {{ var('duplicate_window_minutes') }}
        ) as reason,
        max(contributed_at) as detected_at

    from duplicate_pairs
    group by transaction_id, client_id, asset_id, executed_at

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

oversells as (

    select
        transaction_id,
        client_id,
        asset_id,
        executed_at,
        'oversell' as rule,
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

kyc_violations as (

    select
        trades.transaction_id,
        trades.client_id,
        trades.asset_id,
        trades.executed_at,
        'kyc_violation' as rule,
        1e0 as score,
        if(clients.kyc_status = 'rejected', 'critical', 'high') as severity,
        array_join(
            filter(
                array[
                    if(
                        coalesce(clients.kyc_status, 'missing') != 'verified',
                        'client kyc_status is ' || coalesce(clients.kyc_status, 'missing')
                    ),
                    if(not assets.is_active, 'asset ' || assets.asset_id || ' is not active')
                ],
                part -> part is not null
            ),
            ' and '
        ) as reason,
        trades._last_ingested_at as detected_at

    from trades
    inner join clients on trades.client_id = clients.client_id
    inner join assets on trades.asset_id = assets.asset_id
    where coalesce(clients.kyc_status, 'missing') != 'verified'
        or not assets.is_active

),

segment_trades as (

    select
        trades.*,
        clients.segment,
        clients.onboarded_at,
        count(*) over segment as segment_trade_count,
        row_number() over amount_order as amount_position,
        max(trades._last_ingested_at) over segment as contributed_at

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
        segment_trades.transaction_id,
        segment_trades.client_id,
        segment_trades.asset_id,
        segment_trades.executed_at,
        'new_account_large_trade' as rule,
        cast(segment_trades.amount as double) / segment_medians.median_amount as score,
        segment_trades.amount,
        segment_trades.segment,
        segment_medians.median_amount,
        date_diff('hour', segment_trades.onboarded_at, segment_trades.executed_at) as hours_since_onboarding,
        segment_trades.contributed_at

    from segment_trades
    inner join segment_medians on segment_trades.segment = segment_medians.segment
    where segment_trades.executed_at >= segment_trades.onboarded_at
        and segment_trades.executed_at < segment_trades.onboarded_at + interval '{{ var("new_account_days") }}' day

),

new_account_large_trades as (

    select
        transaction_id,
        client_id,
        asset_id,
        executed_at,
        rule,
        score,
        {{ severity_from_ratio('score / ' ~ var('new_account_amount_multiple')) }} as severity,
        format(
            'amount %.2f is %.1fx the %s segment''s median trade %.2f, %d hours after onboarding',
            amount, score, segment, median_amount, hours_since_onboarding
        ) as reason,
        contributed_at as detected_at

    from new_account_trades
    where score > {{ var('new_account_amount_multiple') }}

),

anomalies as (

    select * from amount_outliers
    union all
    select * from price_outliers
    union all
    select * from velocity_bursts
    union all
    select * from duplicates
    union all
    select * from oversells
    union all
    select * from kyc_violations
    union all
    select * from new_account_large_trades

),

final as (

    select
        -- ids
        lower(to_hex(md5(to_utf8(transaction_id || '|' || rule)))) as anomaly_id,
        transaction_id,
        client_id,
        asset_id,

        -- the finding
        cast(rule as varchar) as rule,
        cast(score as double) as score,
        cast(severity as varchar) as severity,
        cast(reason as varchar) as reason,

        -- timestamps
        executed_at,
        detected_at

    from anomalies

)

select * from final
