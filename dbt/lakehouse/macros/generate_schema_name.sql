{#-
    Models land in the schema their folder names (staging, marts, analytics), without dbt's usual
    `<target schema>_` prefix: the schemas are part of the product's contract with its readers.
    The `schema_suffix` var lets the integration tests build a full copy beside them.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set schema = target.schema if custom_schema_name is none else custom_schema_name | trim -%}
    {{ schema ~ var('schema_suffix', '') }}
{%- endmacro %}
