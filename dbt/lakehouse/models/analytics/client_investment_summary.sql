{#-
    One row per client and currency of its settled transactions; a client with none gets one row with a
    null currency and zero totals. Ratios that divide by nothing (no buys, no trades) are null.
-#}

with

clients as (

    select * from {{ ref('dim_clients') }}

),

assets as (

    select * from {{ ref('dim_assets') }}

),

settled as (

    select * from {{ ref('fact_transactions') }}
    where status = 'settled'

),

totals as (

    select
        client_id,
        currency,
        count_if(transaction_type in ('buy', 'sell')) as trade_count,
        coalesce(sum(amount) filter (where transaction_type = 'buy'), 0) as buy_amount,
        coalesce(sum(amount) filter (where transaction_type = 'sell'), 0) as sell_amount,
        coalesce(sum(amount) filter (where transaction_type = 'dividend'), 0) as dividend_amount,
        {#- Commission on every transaction, plus the fee transactions themselves. #}
        sum(fee) + coalesce(sum(amount) filter (where transaction_type = 'fee'), 0) as fees_paid,
        count(distinct asset_id) filter (where transaction_type in ('buy', 'sell')) as distinct_assets,
        min(executed_at) filter (where transaction_type in ('buy', 'sell')) as first_trade_at,
        max(executed_at) filter (where transaction_type in ('buy', 'sell')) as last_trade_at

    from settled
    group by client_id, currency

),

positions as (

    select
        client_id,
        currency,
        asset_id,
        sum(if(transaction_type = 'buy', quantity, -quantity)) as net_quantity

    from settled
    where transaction_type in ('buy', 'sell')
    group by client_id, currency, asset_id

),

market_values as (

    select
        positions.client_id,
        positions.currency,
        sum(positions.net_quantity * assets.latest_settled_price) as market_value

    from positions
    inner join assets on positions.asset_id = assets.asset_id
    group by positions.client_id, positions.currency

),

class_amounts as (

    select
        settled.client_id,
        settled.currency,
        assets.asset_class,
        sum(settled.amount) as traded_amount

    from settled
    inner join assets on settled.asset_id = assets.asset_id
    where settled.transaction_type in ('buy', 'sell')
    group by settled.client_id, settled.currency, assets.asset_class

),

class_mix as (

    select
        client_id,
        currency,
        {#- min_by on (amount desc, class asc) picks the largest class, ties to the alphabetically first. #}
        min_by(asset_class, row(-traded_amount, asset_class)) as largest_asset_class,
        {#-
            sum((a / total)^2) written as sum(a^2) / total^2: both sums are exact decimals, so the result
            does not depend on the order Trino happens to add floating-point terms in.
        #}
        cast(sum(traded_amount * traded_amount) as double)
        / nullif(power(cast(sum(traded_amount) as double), 2), 0) as concentration_hhi

    from class_amounts
    group by client_id, currency

),

summaries as (

    select
        totals.*,
        coalesce(market_values.market_value, 0) as market_value,
        class_mix.largest_asset_class,
        class_mix.concentration_hhi

    from totals
    left join market_values
        on totals.client_id = market_values.client_id
            and totals.currency = market_values.currency
    left join class_mix
        on totals.client_id = class_mix.client_id
            and totals.currency = class_mix.currency

),

final as (

    select
        -- ids
        clients.client_id,
        summaries.currency,

        -- client attributes
        clients.segment,
        clients.risk_profile,
        clients.country_code,

        -- activity
        coalesce(summaries.trade_count, 0) as trade_count,
        coalesce(summaries.distinct_assets, 0) as distinct_assets,
        summaries.first_trade_at,
        summaries.last_trade_at,

        -- amounts
        cast(coalesce(summaries.buy_amount, 0) as decimal(38, 8)) as buy_amount,
        cast(coalesce(summaries.sell_amount, 0) as decimal(38, 8)) as sell_amount,
        cast(coalesce(summaries.dividend_amount, 0) as decimal(38, 8)) as dividend_amount,
        cast(coalesce(summaries.fees_paid, 0) as decimal(38, 8)) as fees_paid,
        cast(coalesce(summaries.buy_amount - summaries.sell_amount, 0) as decimal(38, 8)) as net_invested,
        cast(coalesce(summaries.market_value, 0) as decimal(38, 8)) as market_value,

        -- ratios
        cast(
            (
                summaries.market_value + summaries.sell_amount + summaries.dividend_amount
                - summaries.buy_amount - summaries.fees_paid
            ) as double
        ) / nullif(cast(summaries.buy_amount as double), 0) as total_return,
        cast(summaries.buy_amount + summaries.sell_amount as double) / nullif(summaries.trade_count, 0)
            as avg_trade_amount,
        summaries.largest_asset_class,
        summaries.concentration_hhi

    from clients
    left join summaries on clients.client_id = summaries.client_id

)

select * from final
