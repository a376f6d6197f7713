{#- One row per client: its latest valid version. -#}

with

clients as (

    select * from {{ ref('base_lakehouse__clients') }}
    where rejection_rule is null

),

versions as (

    {#- Valid distinct records per id; with the rejected records they account for every delivered record. #}
    select
        client_id,
        count(distinct record_key) as version_count

    from clients
    group by client_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by client_id
            order by updated_at desc, _ingested_at desc, _source_file desc, _source_row desc
        ) as version_rank

    from clients

),

final as (

    select
        -- ids
        ranked.client_id,
        ranked.record_key,

        -- strings
        ranked.first_name,
        ranked.last_name,
        ranked.email,
        ranked.country_code,
        ranked.segment,
        ranked.risk_profile,
        ranked.kyc_status,

        -- dates and timestamps
        ranked.date_of_birth,
        ranked.onboarded_at,
        ranked.updated_at,

        -- lineage of the winning delivery
        versions.version_count,
        ranked._source_file,
        ranked._source_row,
        ranked._ingested_at,
        ranked._batch_id

    from ranked
    inner join versions on ranked.client_id = versions.client_id
    where ranked.version_rank = 1

)

select * from final
