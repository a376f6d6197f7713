{#-
    kyc_violation: a settled trade by a client whose kyc_status is not verified, or in an inactive asset.
    Critical for a rejected client, else high. The client's and asset's current versions made it fire, so
    their ingestion counts in detected_at.
-#}

with

trades as (

    {{ settled_transactions(trades_only=true) }}

),

clients as (

    select
        client_id,
        kyc_status,
        _ingested_at

    from {{ ref('stg_clients') }}

),

assets as (

    select
        asset_id,
        is_active,
        _ingested_at

    from {{ ref('stg_assets') }}

),

flagged as (

    select
        trades.*,
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
        greatest(trades._last_ingested_at, clients._ingested_at, assets._ingested_at) as detected_at

    from trades
    inner join clients on trades.client_id = clients.client_id
    inner join assets on trades.asset_id = assets.asset_id
    where coalesce(clients.kyc_status, 'missing') != 'verified'
        or not assets.is_active

),

{{ anomaly_final('kyc_violation') }}
