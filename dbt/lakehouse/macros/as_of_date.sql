{#- The date ages and tenures are measured at: the `as_of_date` var, or today in UTC. -#}
{% macro as_of_date() -%}
    {%- if var('as_of_date', '') -%}
        date '{{ var("as_of_date") }}'
    {%- else -%}
        current_date
    {%- endif -%}
{%- endmacro %}
