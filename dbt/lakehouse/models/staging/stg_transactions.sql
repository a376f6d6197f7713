{#-
    One row per transaction: its latest valid version. fact_transactions reaches the same rows
    incrementally; both order versions the same way (see the rank below).
-#}

with

transactions as (

    select * from {{ ref('base_lakehouse__transactions') }}
    where rejection_rule is null

),

versions as (

    {#- Valid distinct records per id; with the rejected records they account for every delivered record. #}
    select
        transaction_id,
        count(distinct record_key) as version_count

    from transactions
    group by transaction_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by transaction_id
            order by updated_at desc, _ingested_at desc, _source_file desc, _source_row desc
        ) as version_rank

    from transactions

),

final as (

    select
        -- ids
        ranked.transaction_id,
        ranked.client_id,
        ranked.asset_id,
        ranked.record_key,

        -- strings
        ranked.transaction_type,
        ranked.status,
        ranked.channel,
        ranked.currency,

        -- numerics
        ranked.quantity,
        ranked.price,
        ranked.amount,
        ranked.fee,

        -- timestamps
        ranked.executed_at,
        ranked.updated_at,

        -- lineage of the winning delivery
        versions.version_count,
        ranked._source_file,
        ranked._source_row,
        ranked._ingested_at,
        ranked._batch_id

    from ranked
    inner join versions on ranked.transaction_id = versions.transaction_id
    where ranked.version_rank = 1

)

select * from final
