{#-
    price_deviation: a settled trade whose price is more than `price_deviation_pct` away from the exact median
    price of the asset's settled trades that UTC day, when the day has at least `price_deviation_min_trades`.

    Incremental: a trade is judged against its own asset-day alone, so a run recomputes the asset-days its
    changed transactions were or are in, and keeps the rule's other findings (macros/anomaly_scope.sql).
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

{{ scope_days('asset_id') }}

{% endif %}

trades as (

    {{ scoped_rows('settled_trades', 'asset_id') }}

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

deviations as (

    select
        asset_days.*,
        day_medians.median_price,
        abs(cast(asset_days.price as double) - day_medians.median_price) / day_medians.median_price
            as deviation

    from asset_days
    inner join day_medians
        on asset_days.asset_id = day_medians.asset_id
            and asset_days.executed_date = day_medians.executed_date
    where asset_days.day_trade_count >= {{ var('price_deviation_min_trades') }}

),

flagged as (

    select
        *,
        deviation as score,
        {{ severity_from_ratio('deviation / ' ~ var('price_deviation_pct')) }} as severity,
        format(
            'price %.4f is %.1f%% away from the median %.4f of the asset''s %d trades that day',
            price, deviation * 100, median_price, day_trade_count
        ) as reason,
        contributed_at as detected_at

    from deviations
    where deviation > {{ var('price_deviation_pct') }}

),

{{ anomaly_final('price_deviation', keep_stored=is_incremental()) }}
