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

twin_windows as (

    {#- One window per set of possible twins, instead of a self-join: the rows are read and sorted once. A record
        with no quantity, price or amount has no twin, so it gets a window of its own. #}
    select
        transaction_id,
        client_id,
        asset_id,
        executed_at,
        is_recomputed,
        array_agg(transaction_id) over twins as window_transaction_ids,
        max(_last_ingested_at) over twins as contributed_at

    from transactions
    window twins as (
        partition by
            client_id,
            asset_id,
            transaction_type,
            quantity,
            price,
            {#- Dividends and fees carry no quantity or price: their amount must match instead. #}
            if(quantity is null and price is null, amount),
            if(quantity is null and price is null and amount is null, transaction_id)
        order by executed_at
        range between interval '{{ var("duplicate_window_minutes") }}' minute preceding
        and interval '{{ var("duplicate_window_minutes") }}' minute following
    )

),

flagged as (

    select
        transaction_id,
        client_id,
        asset_id,
        executed_at,
        cast(cardinality(window_transaction_ids) - 1 as double) as score,
        'medium' as severity,
        format(
            'same client, asset, type, quantity and price as %s within %d minutes',
            array_join(array_sort(filter(window_transaction_ids, twin -> twin != transaction_id)), ', '),
            {{ var('duplicate_window_minutes') }}
        ) as reason,
        {#- The newest of the pairs' contributions: a twin exists, so the window's newest is one of them. #}
        contributed_at as detected_at

    from twin_windows
    where cardinality(window_transaction_ids) > 1
        and is_recomputed

),

{{ anomaly_final('duplicate_suspect', keep_stored=is_incremental()) }}
