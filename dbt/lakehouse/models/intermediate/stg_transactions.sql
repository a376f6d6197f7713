{#-
    One row per transaction: its latest valid version (int_transactions__latest_valid) and how many distinct
    valid records it has, which the reconciliation test counts. Built in the intermediate layer, into the
    staging schema its readers know, because validity includes the orphan check.
-#}

{{ config(schema='staging') }}

with

latest as (

    select * from {{ ref('int_transactions__latest_valid') }}

),

valid_versions as (

    select * from {{ ref('int_transactions__orphan_checked') }}
    where rejection_rule is null

),

versions as (

    {#- Valid distinct records per id; with the rejected records they account for every delivered record. #}
    select
        transaction_id,
        count(distinct record_key) as version_count

    from valid_versions
    group by transaction_id

),

final as (

    select
        latest.*,
        versions.version_count

    from latest
    inner join versions on latest.transaction_id = versions.transaction_id

)

select * from final
