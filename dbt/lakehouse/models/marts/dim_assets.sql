{#- One row per asset at its latest version, with its settled trading history. -#}

with

assets as (

    select * from {{ ref('stg_assets') }}

),

trades as (

    {{ settled_transactions(trades_only=true) }}

),

trade_stats as (

    {{ trade_history('asset_id') }}

),

latest_trades as (

    select
        asset_id,
        price,
        executed_at,
        row_number() over (
            partition by asset_id
            order by executed_at desc, transaction_id desc
        ) as recency_rank

    from trades

),

final as (

    select
        -- ids
        assets.asset_id,

        -- strings
        assets.symbol,
        assets.asset_name,
        assets.asset_class,
        assets.sector,
        assets.currency,
        assets.exchange,
        assets.isin,

        -- numerics and booleans
        assets.risk_rating,
        assets.is_active,
        latest_trades.price as latest_settled_price,
        coalesce(trade_stats.trade_count, 0) as trade_count,

        -- timestamps
        latest_trades.executed_at as latest_settled_price_at,
        trade_stats.first_trade_at,
        trade_stats.last_trade_at,
        assets.updated_at,
        assets._ingested_at

    from assets
    left join trade_stats on assets.asset_id = trade_stats.asset_id
    left join latest_trades
        on assets.asset_id = latest_trades.asset_id
            and latest_trades.recency_rank = 1

)

select * from final
