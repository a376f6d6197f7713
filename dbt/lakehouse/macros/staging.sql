{#-
    The pieces every base and staging model shares, so the per-source models hold only what differs:
    their columns, parsing and rules.
-#}

{#- A cleaned CTE's tail: each contract column as delivered, the record's identity and the load metadata. -#}
{% macro delivery_columns(source) -%}
        -- as delivered
        {%- for column in lakehouse_contract_columns(source) %}
        {{ column }} as delivered_{{ column }},
        {%- endfor %}
        {{ record_key(source) }} as record_key,

        {{ load_metadata_columns() }}
{%- endmacro %}


{#-
    The broken rules of a row from a list of reject_if(...) entries in priority order: an array of
    row(rule, column_name, delivered_value), empty for a valid row.
-#}
{% macro broken_rules(entries) -%}
    filter(
            array[
                {{ entries | join(',\n                ') }}
            ],
            broken -> broken is not null
        )
{%- endmacro %}


{#-
    A final CTE's tail: the first broken rule (the one reported), every broken rule as text, the delivered
    values and the load metadata. `rules` is an array from broken_rules().
-#}
{% macro validation_columns(source, rules='broken_rules') -%}
        -- validation
        element_at({{ rules }}, 1).rule as rejection_rule,
        element_at({{ rules }}, 1).column_name as rejected_column,
        element_at({{ rules }}, 1).delivered_value as rejected_value,
        array_join(transform({{ rules }}, broken -> broken.rule || '(' || broken.column_name || ')'), ', ')
            as broken_rules,

        {{ delivered_columns(source) }}
{%- endmacro %}


{#- The delivered values and the load metadata, carried through to the rejected-rows models. -#}
{% macro delivered_columns(source) -%}
        -- as delivered
        {%- for column in lakehouse_contract_columns(source) %}
        delivered_{{ column }},
        {%- endfor %}

        {{ load_metadata_columns() }}
{%- endmacro %}


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


{#- The loader's metadata: where and when a row was delivered. -#}
{% macro load_metadata_columns() -%}
        -- load metadata
        _source_file,
        _source_row,
        _ingested_at,
        _batch_id
{%- endmacro %}


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


{#-
    A base model driven by the landing contract's column types (include/contract.yml): every delivered row of
    `source_name`, cleaned by type (string trimmed, code upper-case, enum lower-case; `clean_as` overrides a column's
    type, with 'lower' for lower-case text), parsed (integer, decimal, boolean, date, timestamp; their clean
    text stays in <column>_text so an unreadable value can be told from a missing one), and checked against
    `rules`, reject_if(...) entries in priority order. No row is dropped.
-#}
{% macro base_rows(source_name, rules, clean_as={}) %}
{%- set types = lakehouse_contract()['sources'][source_name]['types'] -%}
{%- set parsed_types = ['integer', 'decimal', 'boolean', 'date', 'timestamp'] -%}

with

source as (

    select * from {{ source('lakehouse', source_name) }}

),

cleaned as (

    select
        {%- for column, type in types.items() %}
        {%- set how = clean_as.get(column, type) %}
        {%- if how in parsed_types %}
        {{ clean_text(column) }} as {{ column }}_text,
        {%- elif how == 'code' %}
        {{ clean_code(column) }} as {{ column }},
        {%- elif how == 'enum' %}
        {{ clean_enum(column) }} as {{ column }},
        {%- elif how == 'lower' %}
        lower({{ clean_text(column) }}) as {{ column }},
        {%- else %}
        {{ clean_text(column) }} as {{ column }},
        {%- endif %}
        {%- endfor %}

        {{ delivery_columns(source_name) }}

    from source

),

parsed as (

    select
        *
        {%- for column, type in types.items() if type in parsed_types %},
        {%- set text = column ~ '_text' %}
        {%- if type == 'integer' %}
        {{ parse_integer(text) }} as {{ column }}
        {%- elif type == 'decimal' %}
        {{ parse_decimal(text) }} as {{ column }}
        {%- elif type == 'boolean' %}
        {{ parse_boolean(text) }} as {{ column }}
        {%- elif type == 'date' %}
        {{ parse_date(text) }} as {{ column }}
        {%- else %}
        {{ parse_timestamp(text) }} as {{ column }}
        {%- endif %}
        {%- endfor %}

    from cleaned

),

checked as (

    select
        *,
        {{ broken_rules(rules) }} as broken_rules

    from parsed

),

final as (

    select
        -- the contract's columns, typed
        {%- for column in types %}
        {{ column }},
        {%- endfor %}
        record_key,

        {{ validation_columns(source_name) }}

    from checked

)

select * from final

{% endmacro %}
