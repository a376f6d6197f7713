{#-
    The rejected-rows model of a source: one row per distinct delivered record that cannot be made valid, with
    the first rule it breaks (all of them in broken_rules) and where it was last delivered. A record delivered
    again is one row. The three stg_<source>_rejected models differ only in their source, key and the model
    that checked every rule (`checked`, default the source's base model).

    With `changed_rows` (a query of checked rows: every delivery of the records an incremental run looks at
    again), that run's rows instead: the current state of just those records, a record that is valid now
    included, with rejection_rule null (to be deleted if stored).
-#}

{% macro rejected_records(source, key_column, checked=none, changed_rows=none) %}

with

rejected as (

    {%- if changed_rows %}
    {{ changed_rows }}
    {%- else %}
    select * from {{ ref(checked or 'base_lakehouse__' ~ source) }}
    where rejection_rule is not null
    {%- endif %}

),

deliveries as (

    select
        record_key,
        count(*) as delivery_count,
        min(_ingested_at) as first_ingested_at

    from rejected
    group by record_key

),

latest_delivery as (

    select
        *,
        row_number() over (
            partition by record_key
            order by _ingested_at desc, _source_file desc, _source_row desc
        ) as delivery_rank

    from rejected

),

final as (

    select
        -- ids
        latest_delivery.record_key,
        latest_delivery.{{ key_column }},

        -- validation
        latest_delivery.rejection_rule,
        latest_delivery.rejected_column,
        latest_delivery.rejected_value,
        latest_delivery.broken_rules,

        -- as delivered
        {%- for column in lakehouse_contract_columns(source) %}
        latest_delivery.delivered_{{ column }},
        {%- endfor %}

        -- lineage of the latest delivery
        deliveries.delivery_count,
        deliveries.first_ingested_at,
        latest_delivery._source_file,
        latest_delivery._source_row,
        latest_delivery._ingested_at,
        latest_delivery._batch_id

    from latest_delivery
    inner join deliveries on latest_delivery.record_key = deliveries.record_key
    where latest_delivery.delivery_rank = 1

)

select * from final

{% endmacro %}
