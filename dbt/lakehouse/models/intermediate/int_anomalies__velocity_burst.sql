{#-
    velocity_burst: a client's `velocity_burst_count`th or later settled transaction (of any type) within
    `velocity_burst_minutes`. The score is how many of the client's transactions the window up to it holds.

    Incremental: a finding reads only the client's transactions of the `velocity_burst_minutes` up to it, so a
    run recomputes the client-days those minutes reach from its changed transactions, and keeps the rule's other
    findings (macros/anomaly_scope.sql).
-#}

{{ config(
    materialized='incremental',
    incremental_strategy='sync',
    unique_key='transaction_id',
    on_schema_change='fail',
) }}

-- depends_on: {{ ref('base_lakehouse__transactions') }}

with

settled as (

    {{ settled_transactions() }}

),

{% if is_incremental() %}

{{ changed_versions() }}

{{ scope_days('client_id', reach_back_minutes=var('velocity_burst_minutes')) }}

{% endif %}

transactions as (

    {{ scoped_rows('settled', 'client_id') }}

),

client_sequences as (

    select
        *,
        {#- The client's Nth transaction counting back lies inside the window: this is the Nth or later. #}
        lag(executed_at, {{ var('velocity_burst_count') - 1 }}) over client_order as burst_start_at,
        count(*) over recent_window as window_count,
        max(_last_ingested_at) over recent_window as contributed_at

    from transactions
    window
        client_order as (
            partition by client_id
            order by executed_at, transaction_id
        ),
        recent_window as (
            partition by client_id
            order by executed_at
            range between interval '{{ var("velocity_burst_minutes") }}' minute preceding and current row
        )

),

flagged as (

    select
        *,
        cast(window_count as double) as score,
        {{ severity_from_ratio('window_count / ' ~ var('velocity_burst_count') ~ '.0') }} as severity,
        format(
            '%d transactions by the client within %d minutes up to this one',
            window_count, {{ var('velocity_burst_minutes') }}
        ) as reason,
        contributed_at as detected_at

    from client_sequences
    where burst_start_at >= executed_at - interval '{{ var("velocity_burst_minutes") }}' minute
        and is_recomputed

),

{{ anomaly_final('velocity_burst', keep_stored=is_incremental()) }}
