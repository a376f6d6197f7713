{#-
    The columns every base and staging model shares around its own: the record as delivered, its identity and
    load metadata, and the rules it breaks. The per-source models hold only what differs: columns, parsing, rules.
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


{#- The loader's metadata: where and when a row was delivered. -#}
{% macro load_metadata_columns() -%}
        -- load metadata
        _source_file,
        _source_row,
        _ingested_at,
        _batch_id
{%- endmacro %}
