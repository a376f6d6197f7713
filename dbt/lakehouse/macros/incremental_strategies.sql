{#- Two incremental strategies dbt-trino lacks: each changes the table in one MERGE, so one Iceberg commit. -#}

{#-
    incremental_strategy='sync': make the table equal the model's rows.

    For a model whose incremental run selects all it should hold: the stored rows it keeps and the rows it
    recomputed. Rows it no longer selects are deleted, changed rows updated and new rows inserted; an unchanged
    row is not rewritten. dbt's delete+insert would take two commits, and a failure between them would leave the
    table without the deleted rows until the next run. unique_key names the one column that identifies a row.
-#}
{% macro get_incremental_sync_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set key = single_unique_key(arg_dict) -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | list %}

    merge into {{ target }} as stored
    using (
        select
            {%- for column in columns %}
            wanted.{{ column }},
            {%- endfor %}
            coalesce(wanted.{{ key }}, existing.{{ key }}) as sync_key,
            wanted.{{ key }} is null as is_dropped

        from {{ arg_dict['temp_relation'] }} as wanted
        full outer join {{ target }} as existing on wanted.{{ key }} = existing.{{ key }}
    ) as incoming
    on stored.{{ key }} = incoming.sync_key

    when matched and incoming.is_dropped then delete

    when matched and not (
        {%- for column in columns %}
        stored.{{ column }} is not distinct from incoming.{{ column }}{{ ' and' if not loop.last }}
        {%- endfor %}
    ) then {{ merge_update_and_insert(columns) }}
{% endmacro %}


{#-
    incremental_strategy='merge_or_delete': dbt's merge on unique_key, and deletes. An incoming row whose
    `delete_when_null` column (a model config) is null says its key no longer belongs in the table: the stored
    row with that key is deleted, and the incoming row is not inserted.
-#}
{% macro get_incremental_merge_or_delete_sql(arg_dict) %}
    {%- set key = single_unique_key(arg_dict) -%}
    {%- set marker = config.get('delete_when_null') -%}
    {%- if not marker -%}
        {{ exceptions.raise_compiler_error("incremental_strategy 'merge_or_delete' needs config delete_when_null") }}
    {%- endif -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | list %}

    merge into {{ arg_dict['target_relation'] }} as stored
    using {{ arg_dict['temp_relation'] }} as incoming
    on stored.{{ key }} = incoming.{{ key }}

    when matched and incoming.{{ marker }} is null then delete

    when matched then {{ merge_update_and_insert(columns, insert_unless_null=marker) }}
{% endmacro %}


{#- The strategies' last clauses: update a matched row from `incoming`, insert one not matched. -#}
{% macro merge_update_and_insert(columns, insert_unless_null=none) %}
    update set
        {%- for column in columns %}
        {{ column }} = incoming.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}

    when not matched {%- if insert_unless_null %} and incoming.{{ insert_unless_null }} is not null{% endif %}
    then insert ({{ columns | join(', ') }})
    values ({% for column in columns %}incoming.{{ column }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}


{% macro single_unique_key(arg_dict) %}
    {%- set key = arg_dict['unique_key'] -%}
    {%- if key is not string -%}
        {{ exceptions.raise_compiler_error('this incremental strategy needs unique_key: one column name') }}
    {%- endif -%}
    {{ return(key) }}
{% endmacro %}
