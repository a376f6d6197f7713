{#-
    `column` of every delivered transaction row an incremental run must look at again: the rows loaded after
    `after` (a SQL expression), and the older rows of clients and assets whose first valid version arrived after it
    (a late reference file turns earlier orphans valid). Three branches rather than one OR, so each keeps a filter
    its scan can use; the last two are empty on a day without new clients or assets. The models that call it say
    `-- depends_on:` base_lakehouse__transactions, stg_clients and stg_assets, as they read them only when
    incremental.
-#}
{% macro transaction_rows_since(column, after) %}
    select {{ column }}
    from {{ ref('base_lakehouse__transactions') }}
    where _ingested_at > {{ after }}

    union distinct

    select base.{{ column }}
    from {{ ref('base_lakehouse__transactions') }} as base
    inner join {{ ref('stg_clients') }} as clients on base.client_id = clients.client_id
    where clients.first_valid_ingested_at > {{ after }}

    union distinct

    select base.{{ column }}
    from {{ ref('base_lakehouse__transactions') }} as base
    inner join {{ ref('stg_assets') }} as assets on base.asset_id = assets.asset_id
    where assets.first_valid_ingested_at > {{ after }}
{%- endmacro %}
