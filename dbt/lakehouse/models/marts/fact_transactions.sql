{#-
    One row per valid transaction at its latest version: keys, measures and the signed cash flow. The client's
    and asset's attributes are reached through dim_clients and dim_assets, so a new client or asset version
    rewrites no transaction.

    An incremental run merges only the rows of int_transactions__latest_valid that changed since the newest one
    stored (less a lookback): a new version, or an older row made valid by a late client or asset file. That
    model already settled which version wins, so a full refresh gives the same table.
-#}

with

latest as (

    select * from {{ ref('int_transactions__latest_valid') }}

    {% if is_incremental() %}
    where _last_ingested_at > {{ incremental_watermark('_last_ingested_at') }}
    {% endif %}

),

final as (

    select
        {%- for column in transaction_columns() if column != 'record_key' %}
        {{ column }},
        {%- endfor %}
        date(executed_at) as executed_date,
        {#- Cash from the client's point of view: money in is positive. #}
        cast(
            case transaction_type
                when 'buy' then -(amount + fee)
                when 'sell' then amount - fee
                when 'dividend' then amount
                when 'fee' then -amount
            end
            as decimal(28, 8)
        ) as cash_flow,

        -- lineage
        _source_file,
        _source_row,
        _ingested_at,
        _last_ingested_at

    from latest

)

select * from final
