{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='transaction_id',
        on_schema_change='append_new_columns',
    )
}}

{#-
    One row per valid transaction at its latest version, with the asset's and client's current
    attributes and the signed cash flow.

    Incremental runs read only raw rows ingested since the newest row already merged (less a lookback),
    plus the rows of clients and assets that changed since then: a late client or asset file turns
    rejected transactions valid, and a new client or asset version changes the joined attributes.
    Each candidate competes with the stored version of its id under the same order stg_transactions
    uses, so a late but older version never overwrites a newer one and a full refresh gives the same table.
-#}

with

transactions as (

    select * from {{ ref('base_lakehouse__transactions') }}
    where rejection_rule is null

),

clients as (

    select * from {{ ref('stg_clients') }}

),

assets as (

    select * from {{ ref('stg_assets') }}

),

{% if is_incremental() %}

watermark as (

    {#- An empty table (first run after a failed one) reads everything. #}
    select
        coalesce(
            date_add('hour', -{{ var('fact_lookback_hours') }}, max(_last_ingested_at)),
            timestamp '1970-01-01 00:00:00.000000 UTC'
        ) as ingested_after

    from {{ this }}

),

changed_clients as (

    select clients.client_id
    from clients
    cross join watermark
    where clients._ingested_at > watermark.ingested_after

),

changed_assets as (

    select assets.asset_id
    from assets
    cross join watermark
    where assets._ingested_at > watermark.ingested_after

),

new_transactions as (

    select transactions.*
    from transactions
    cross join watermark
    where transactions._ingested_at > watermark.ingested_after
        or transactions.client_id in (select changed_clients.client_id from changed_clients)
        or transactions.asset_id in (select changed_assets.asset_id from changed_assets)

),

{% endif %}

candidates as (

    select
        transaction_id,
        client_id,
        asset_id,
        transaction_type,
        status,
        channel,
        currency,
        quantity,
        price,
        amount,
        fee,
        executed_at,
        updated_at,
        _source_file,
        _source_row,
        _ingested_at

    from {{ 'new_transactions' if is_incremental() else 'transactions' }}

    {% if is_incremental() %}

    union all

    select
        transaction_id,
        client_id,
        asset_id,
        transaction_type,
        status,
        channel,
        currency,
        quantity,
        price,
        amount,
        fee,
        executed_at,
        updated_at,
        _source_file,
        _source_row,
        _ingested_at

    from {{ this }} as stored
    where stored.transaction_id in (select new_transactions.transaction_id from new_transactions)

    {% endif %}

),

latest as (

    select * from (
        select
            *,
            row_number() over (
                partition by transaction_id
                order by updated_at desc, _ingested_at desc, _source_file desc, _source_row desc
            ) as version_rank

        from candidates
    )
    where version_rank = 1

),

final as (

    select
        -- ids
        latest.transaction_id,
        latest.client_id,
        latest.asset_id,

        -- strings
        latest.transaction_type,
        latest.status,
        latest.channel,
        latest.currency,
        assets.symbol as asset_symbol,
        assets.asset_name,
        assets.asset_class,
        assets.sector as asset_sector,
        clients.segment as client_segment,
        clients.risk_profile as client_risk_profile,
        clients.country_code as client_country_code,
        clients.kyc_status as client_kyc_status,

        -- numerics
        latest.quantity,
        latest.price,
        latest.amount,
        latest.fee,
        {#- Cash from the client's point of view: money in is positive. #}
        cast(
            case latest.transaction_type
                when 'buy' then -(latest.amount + latest.fee)
                when 'sell' then latest.amount - latest.fee
                when 'dividend' then latest.amount
                when 'fee' then -latest.amount
            end
            as decimal(28, 8)
        ) as cash_flow,

        -- timestamps
        latest.executed_at,
        date(latest.executed_at) as executed_date,
        latest.updated_at,

        -- lineage
        latest._source_file,
        latest._source_row,
        latest._ingested_at,
        {#- The newest ingestion that shaped this row; incremental runs start from its maximum. #}
        greatest(
            latest._ingested_at,
            clients._ingested_at,
            coalesce(assets._ingested_at, latest._ingested_at)
        ) as _last_ingested_at

    from latest
    inner join clients on latest.client_id = clients.client_id
    left join assets on latest.asset_id = assets.asset_id

)

select * from final
