{#-
    The transactions a measure counts: settled ones at their latest valid version (from `model`). With
    trades_only, the settled buys and sells (a trade); pending, cancelled and failed ones never moved a price
    or a position. The dimensions, the anomaly rules and the analytics all count the same rows.
-#}
{% macro settled_transactions(trades_only=false, model='int_transactions__latest_valid') -%}
    select * from {{ ref(model) }}
    where status = 'settled'
        {%- if trades_only %}
        and transaction_type in ('buy', 'sell')
        {%- endif %}
{%- endmacro %}


{#- A dimension's settled trading history per `key` (client_id or asset_id), from its `trades` CTE. -#}
{% macro trade_history(key) -%}
    select
        {{ key }},
        count(*) as trade_count,
        min(executed_at) as first_trade_at,
        max(executed_at) as last_trade_at

    from trades
    group by {{ key }}
{%- endmacro %}
