{#-
    Where an incremental run of the model starts: the newest `column` it stored, less `fact_lookback_hours` for a
    load that committed after a later one was built. An empty table (a first run after a failed one) starts from
    the beginning. A scalar subquery, to compare a column with.
-#}
{% macro incremental_watermark(column) -%}
    (
        select coalesce(date_add('hour', -{{ var('fact_lookback_hours') }}, max({{ column }})), {{ epoch() }})
        from {{ this }}
    )
{%- endmacro %}
