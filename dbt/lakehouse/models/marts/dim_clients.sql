{#- One row per client at its latest version, with age, tenure and settled trading history. -#}

with

clients as (

    select * from {{ ref('stg_clients') }}

),

trades as (

    {{ settled_transactions(trades_only=true) }}

),

trade_stats as (

    {{ trade_history('client_id') }}

),

enriched as (

    select
        clients.*,
        date_diff('year', clients.date_of_birth, {{ as_of_date() }}) as age,
        date_diff('day', date(clients.onboarded_at), {{ as_of_date() }}) as tenure_days

    from clients

),

final as (

    select
        -- ids
        enriched.client_id,

        -- strings
        enriched.first_name,
        enriched.last_name,
        enriched.email,
        enriched.country_code,
        enriched.segment,
        enriched.risk_profile,
        enriched.kyc_status,
        cast(
            case
                when enriched.age < 25 then 'under 25'
                when enriched.age < 35 then '25-34'
                when enriched.age < 45 then '35-44'
                when enriched.age < 55 then '45-54'
                when enriched.age < 65 then '55-64'
                when enriched.age >= 65 then '65+'
            end
            as varchar
        ) as age_band,

        -- numerics
        enriched.age,
        enriched.tenure_days,
        coalesce(trade_stats.trade_count, 0) as lifetime_trade_count,

        -- dates and timestamps
        enriched.date_of_birth,
        enriched.onboarded_at,
        trade_stats.first_trade_at,
        trade_stats.last_trade_at,
        enriched.updated_at,
        enriched._ingested_at

    from enriched
    left join trade_stats on enriched.client_id = trade_stats.client_id

)

select * from final
