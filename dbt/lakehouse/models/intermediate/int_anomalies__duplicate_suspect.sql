{#-
    duplicate_suspect: another settled transaction of the same client, asset, type, quantity and price (and
    amount, when there is no quantity or price) within `duplicate_window_minutes`. The score is the number of
    such twins.

    Incremental: a finding reads only the client's transactions within `duplicate_window_minutes` either side,
    so a run recomputes the client-days those minutes reach from its changed transactions, and keeps the rule's
    other findings (macros/anomaly_scope.sql).
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

{{ scope_days(
    'client_id',
    reach_back_minutes=var('duplicate_window_minutes'),
    reach_ahead_minutes=var('duplicate_window_minutes'),
) }}

{% endif %}

transactions as (

    {{ scoped_rows('settled', 'client_id') }}

),

duplicate_pairs as (

    select
        this.transaction_id,
        this.client_id,
        this.asset_id,
        this.executed_at,
        twin.transaction_id as twin_transaction_id,
        greatest(this._last_ingested_at, twin._last_ingested_at) as contributed_at

    from transactions as this
    inner join transactions as twin
        on this.client_id = twin.client_id
            and this.asset_id is not distinct from twin.asset_id
            and this.transaction_type = twin.transaction_type
            and this.quantity is not distinct from twin.quantity
            and this.price is not distinct from twin.price
            {#- Dividends and fees carry no quantity or price: their amount must match instead. #}
            and (this.quantity is not null or this.price is not null or this.amount = twin.amount)
            and this.transaction_id != twin.transaction_id
            and this.is_recomputed
            and twin.executed_at between this.executed_at - interval '{{ var("duplicate_window_minutes") }}' minute
            and this.executed_at + interval '{{ var("duplicate_window_minutes") }}' minute

),

flagged as (

    select
        transaction_id,
        client_id,
        asset_id,
        executed_at,
        cast(count(*) as double) as score,
        'medium' as severity,
        format(
            'same client, asset, type, quantity and price as %s within %d minutes',
            array_join(array_sort(array_agg(twin_transaction_id)), ', '),
            {{ var('duplicate_window_minutes') }}
        ) as reason,
        max(contributed_at) as detected_at

    from duplicate_pairs
    group by transaction_id, client_id, asset_id, executed_at

),

{{ anomaly_final('duplicate_suspect', keep_stored=is_incremental()) }}
