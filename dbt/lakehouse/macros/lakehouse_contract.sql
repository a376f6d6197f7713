{#-
    The landing contract, read from lakehouse_contract() (macros/generated/contract.sql, generated from
    include/contract.yml). The base models, the rejected-rows models, the reconciliation test and the
    accepted_values tests all read it from here, so they agree with the loader and the generator.
-#}

{#- The contract columns of a raw table, in delivery order. -#}
{% macro lakehouse_contract_columns(table_name) -%}
    {{ return(lakehouse_contract()['sources'][table_name]['columns']) }}
{%- endmacro %}


{#-
    The values of an enumeration, lower-case (staging lower-cases what is delivered). Also the `values` of
    accepted_values tests: dbt renders test arguments natively, so `"{{ lakehouse_enum('status') }}"` is a list.
-#}
{% macro lakehouse_enum(name) -%}
    {{ return(lakehouse_contract()['enums'][name]) }}
{%- endmacro %}


{#- The row-level reject reasons, in precedence order. -#}
{% macro lakehouse_row_reasons() -%}
    {{ return(lakehouse_contract()['row_reasons']) }}
{%- endmacro %}


{#- `(...)` list of string literals, for SQL `in`. -#}
{% macro sql_string_list(values) -%}
    ({%- for value in values -%}'{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%})
{%- endmacro %}


{#- `in (...)` list of an enumeration, for SQL. -#}
{% macro enum_values_sql(name) -%}
    {{ sql_string_list(lakehouse_enum(name)) }}
{%- endmacro %}


{#-
    A delivered record's identity: its contract columns exactly as delivered. JSON keeps a null apart
    from the string 'null' and from ''. Load metadata and unknown extra columns are not part of it, so a
    record repeated within or across files has one key.
-#}
{% macro record_key(table_name, prefix='') -%}
    lower(to_hex(md5(to_utf8(json_format(cast(array[
        {%- for column in lakehouse_contract_columns(table_name) %}
        {{ prefix ~ column }}{{ "," if not loop.last }}
        {%- endfor %}
    ] as json))))))
{%- endmacro %}
