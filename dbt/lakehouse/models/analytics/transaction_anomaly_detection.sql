{#-
    One row per settled transaction and rule it trips: the union of the rule models
    (models/intermediate/int_anomalies__<rule>.sql), each holding one rule with its thresholds (vars).
    detected_at is the newest ingestion among the rows that made the rule fire, never the run time, so a
    rebuild on the same data gives the same table; anomaly_id is stable so alerts fire once per anomaly.
-#}

{%- set rules = [
    'amount_outlier',
    'price_deviation',
    'velocity_burst',
    'duplicate_suspect',
    'oversell',
    'kyc_violation',
    'new_account_large_trade',
] %}

with

anomalies as (

    {%- for rule in rules %}
    select * from {{ ref('int_anomalies__' ~ rule) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

final as (

    select
        -- ids
        lower(to_hex(md5(to_utf8(transaction_id || '|' || rule)))) as anomaly_id,
        transaction_id,
        client_id,
        asset_id,

        -- the finding
        rule,
        score,
        severity,
        reason,

        -- timestamps
        executed_at,
        detected_at

    from anomalies

)

select * from final
