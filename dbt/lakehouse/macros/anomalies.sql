{#- The output every int_anomalies__<rule> model shares; the rule itself stays in the model. -#}

{#-
    A rule model's last CTE and select: one row per flagged transaction, in the columns
    transaction_anomaly_detection unions. `flagged` holds the ids, score, severity, reason and detected_at.
-#}
{% macro anomaly_final(rule, flagged='flagged', keep_stored=false) %}
final as (

    select
        -- ids
        transaction_id,
        client_id,
        asset_id,

        -- the finding
        cast('{{ rule }}' as varchar) as rule,
        cast(score as double) as score,
        cast(severity as varchar) as severity,
        cast(reason as varchar) as reason,

        -- timestamps
        executed_at,
        detected_at

    from {{ flagged }}

)

select * from final
{%- if keep_stored %}

union all

select * from kept
{%- endif %}
{% endmacro %}
