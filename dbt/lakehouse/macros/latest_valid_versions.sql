{#- Which version of a record is the one that counts, and the columns carried with it. -#}

{#-
    The order that makes one version of a record the latest: the latest updated_at, then the latest ingestion,
    then the greater file and row. Staging, the latest-valid model and its incremental merge all use it.
-#}
{% macro version_order() -%}
    updated_at desc, _ingested_at desc, _source_file desc, _source_row desc
{%- endmacro %}


{#-
    The staging model of a source with one row per id: the latest valid version from its base model, how many
    distinct valid records the id has (the reconciliation test counts them), and when the id first had a valid
    version (the orphan check: a transaction naming it is valid from then on).
-#}
{% macro latest_valid_versions(source) %}
{%- set key = lakehouse_contract()['sources'][source]['key'] -%}

with

valid_versions as (

    select * from {{ ref('base_lakehouse__' ~ source) }}
    where rejection_rule is null

),

versions as (

    {#- Valid distinct records per id; with the rejected records they account for every delivered record. #}
    select
        {{ key }},
        count(distinct record_key) as version_count,
        min(_ingested_at) as first_valid_ingested_at

    from valid_versions
    group by {{ key }}

),

ranked as (

    select
        *,
        row_number() over (partition by {{ key }} order by {{ version_order() }}) as version_rank

    from valid_versions

),

final as (

    select
        -- the contract's columns, typed
        {%- for column in lakehouse_contract_columns(source) %}
        ranked.{{ column }},
        {%- endfor %}
        ranked.record_key,

        -- lineage of the winning delivery
        versions.version_count,
        versions.first_valid_ingested_at,
        ranked._source_file,
        ranked._source_row,
        ranked._ingested_at,
        ranked._batch_id

    from ranked
    inner join versions on ranked.{{ key }} = versions.{{ key }}
    where ranked.version_rank = 1

)

select * from final

{% endmacro %}


{#-
    A transaction's typed columns, as the base model parses them: the list the intermediate models carry from
    one to the next (ids, strings, numerics, timestamps).
-#}
{% macro transaction_columns() -%}
    {{ return([
        'transaction_id', 'client_id', 'asset_id', 'record_key',
        'transaction_type', 'status', 'channel', 'currency',
        'quantity', 'price', 'amount', 'fee',
        'executed_at', 'updated_at',
    ]) }}
{%- endmacro %}
