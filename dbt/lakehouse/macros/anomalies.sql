{#- The output every int_anomalies__<rule> model shares; the rule itself stays in the model. -#}

{#-
    A rule model's last CTEs and select: one row per flagged transaction, in the columns
    transaction_anomaly_detection unions. `flagged` holds the ids, score, severity, reason and detected_at. An
    incremental rule passes keep_stored=is_incremental(): its run adds the stored findings it keeps (CTE `kept`,
    macros/anomaly_scope.sql) to the ones it recomputed.
-#}
{% macro anomaly_final(rule, flagged='flagged', keep_stored=false) %}
findings as (

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

),

final as (

    select * from findings
    {%- if keep_stored %}

    union all

    select * from kept
    {%- endif %}

)

select * from final
{% endmacro %}
