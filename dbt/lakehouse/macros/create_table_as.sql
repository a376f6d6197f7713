{% macro trino__create_table_as(temporary, relation, sql, on_exists=None) -%}
  {#- dbt's scratch tables (`__dbt_tmp`: unit tests, incremental merges) are created and dropped within one
      statement sequence. A run interrupted in between (Trino restarted, a worker killed) leaves one behind, and
      every later build of that model would then fail with TABLE_ALREADY_EXISTS. Replacing it instead lets a
      retry recover by itself. -#}
  {%- if temporary and on_exists is none -%}
    {%- set on_exists = 'replace' -%}
  {%- endif -%}
  {{ dbt.trino__create_table_as(temporary, relation, sql, on_exists) }}
{%- endmacro %}
