{#- The earliest time: the watermark of an empty incremental table, so its first run reads everything. -#}
{% macro epoch() -%}
    timestamp '1970-01-01 00:00:00.000000 UTC'
{%- endmacro %}
