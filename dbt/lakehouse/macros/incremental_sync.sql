{#-
    incremental_strategy='sync': make the table equal the model's rows, in one MERGE (one Iceberg commit).

    For a model whose incremental run selects all it should hold: the stored rows it keeps and the rows it
    recomputed. Rows it no longer selects are deleted, changed rows updated and new rows inserted; an unchanged
    row is not rewritten. dbt's delete+insert would take two commits, and a failure between them would leave the
    table without the deleted rows until the next run. unique_key names the one column that identifies a row.
-#}
{% macro get_incremental_sync_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | list -%}
    {%- if key is not string -%}
        {{ exceptions.raise_compiler_error("incremental_strategy 'sync' needs unique_key: one column name") }}
    {%- endif %}

    merge into {{ target }} as stored
    using (
        select
            {%- for column in columns %}
            incoming.{{ column }},
            {%- endfor %}
            coalesce(incoming.{{ key }}, existing.{{ key }}) as sync_key,
            incoming.{{ key }} is null as is_dropped

        from {{ source }} as incoming
        full outer join {{ target }} as existing on incoming.{{ key }} = existing.{{ key }}
    ) as changes
    on stored.{{ key }} = changes.sync_key

    when matched and changes.is_dropped then delete

    when matched and not (
        {%- for column in columns %}
        stored.{{ column }} is not distinct from changes.{{ column }}{{ ' and' if not loop.last }}
        {%- endfor %}
    ) then update set
        {%- for column in columns %}
        {{ column }} = changes.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}

    when not matched then insert ({{ columns | join(', ') }})
    values ({% for column in columns %}changes.{{ column }}{{ ', ' if not loop.last }}{% endfor %})
{% endmacro %}
