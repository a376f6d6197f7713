{#- One row per asset: its latest valid version. -#}

with

assets as (

    select * from {{ ref('base_lakehouse__assets') }}
    where rejection_rule is null

),

versions as (

    {#- Valid distinct records per id; with the rejected records they account for every delivered record. #}
    select
        asset_id,
        count(distinct record_key) as version_count

    from assets
    group by asset_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by asset_id
            order by updated_at desc, _ingested_at desc, _source_file desc, _source_row desc
        ) as version_rank

    from assets

),

final as (

    select
        -- ids
        ranked.asset_id,
        ranked.record_key,

        -- strings
        ranked.symbol,
        ranked.asset_name,
        ranked.asset_class,
        ranked.sector,
        ranked.currency,
        ranked.exchange,
        ranked.isin,

        -- numerics and booleans
        ranked.risk_rating,
        ranked.is_active,

        -- timestamps
        ranked.updated_at,

        -- lineage of the winning delivery
        versions.version_count,
        ranked._source_file,
        ranked._source_row,
        ranked._ingested_at,
        ranked._batch_id

    from ranked
    inner join versions on ranked.asset_id = versions.asset_id
    where ranked.version_rank = 1

)

select * from final
