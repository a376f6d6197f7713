{#- The base model of a reference source, generated from the landing contract. -#}

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
