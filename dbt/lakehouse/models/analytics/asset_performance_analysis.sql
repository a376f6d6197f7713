{#-
    One row per asset per UTC day with settled buys or sells. Returns compare an asset's trading days
    with each other: "previous" and "first" mean the asset's previous and first day with trades.
-#}

with

assets as (

    select * from {{ ref('dim_assets') }}

),

trades as (

    {{ settled_transactions(trades_only=true, model='fact_transactions') }}

),

daily as (

    select
        asset_id,
        executed_date as trade_date,
        count(*) as trade_count,
        sum(quantity) as volume,
        sum(amount) as traded_amount,
        count(distinct client_id) as unique_clients,
        cast(sum(price * quantity) as double) / cast(sum(quantity) as double) as vwap

    from trades
    group by asset_id, executed_date

),

returns as (

    select
        *,
        vwap / lag(vwap) over asset_days - 1 as daily_return,
        vwap / first_value(vwap) over asset_days - 1 as cumulative_return,
        vwap / max(vwap) over asset_days - 1 as drawdown

    from daily
    window asset_days as (
        partition by asset_id
        order by trade_date
    )

),

risk as (

    select
        *,
        {#- The window holds this day and the previous trading days, up to volatility_window_days in all. #}
        case
            when count(daily_return) over volatility_window >= 2
                then stddev_samp(daily_return) over volatility_window
        end as volatility_30d,
        min(drawdown) over (
            partition by asset_id
            order by trade_date
            rows between unbounded preceding and current row
        ) as max_drawdown

    from returns
    window volatility_window as (
        partition by asset_id
        order by trade_date
        rows between {{ var('volatility_window_days') - 1 }} preceding and current row
    )

),

final as (

    select
        -- ids
        risk.asset_id,
        risk.trade_date,

        -- asset attributes
        assets.symbol,
        assets.asset_class,

        -- activity
        risk.trade_count,
        cast(risk.volume as decimal(38, 8)) as volume,
        cast(risk.traded_amount as decimal(38, 8)) as traded_amount,
        risk.unique_clients,

        -- prices and returns
        risk.vwap,
        risk.daily_return,
        risk.cumulative_return,
        risk.volatility_30d,
        risk.drawdown,
        risk.max_drawdown,
        rank() over (
            partition by assets.asset_class, risk.trade_date
            order by risk.cumulative_return desc
        ) as return_rank_in_class

    from risk
    inner join assets on risk.asset_id = assets.asset_id

)

select * from final
