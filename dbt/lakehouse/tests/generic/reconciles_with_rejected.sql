{#-
    Proves no delivered record is lost: the distinct records delivered to a raw table (its contract columns
    exactly as delivered, see record_key) equal the valid ones (each staging row counts itself and its
    older valid versions, `version_count`) plus the rejected ones (one row per record). It counts the
    delivered side from the raw table itself, not from the models it checks.
-#}
{% test reconciles_with_rejected(model, delivered, rejected, contract, version_count_column='version_count') %}

with

delivered as (

    select count(distinct {{ record_key(contract) }}) as records
    from {{ delivered }}

),

valid as (

    select coalesce(sum({{ version_count_column }}), 0) as records
    from {{ model }}

),

rejected as (

    select count(*) as records
    from {{ rejected }}

),

final as (

    select
        delivered.records as delivered_records,
        valid.records as valid_records,
        rejected.records as rejected_records

    from delivered
    cross join valid
    cross join rejected
    where delivered.records != valid.records + rejected.records

)

select * from final

{% endtest %}
