{#-
    Every delivered transaction row, parsed, with the row-level rules it breaks. No row is dropped here.
    Whether its client and asset exist is a question about other sources: int_transactions__orphan_checked
    adds that rule (the contract's last), so this model reads nothing but its source and the currency seed.

    A table, unlike the reference sources' base views: as a view, every reader (the latest-valid model, the
    version counts, the rejected rows, their tests) parsed and checked all of history again, several times a
    build (one such pass over 10M rows took 6 min here). Each run appends only the files loaded since the last:
    a row's parsing and rules depend on nothing but the row and the currency seed, so it never changes.
-#}

{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    properties={'partitioning': "ARRAY['day(_ingested_at)']"},
) }}

with

{% if is_incremental() %}

watermark as (

    select {{ incremental_watermark('_ingested_at') }} as loaded_after

),

stored_loads as (

    {#- A file's load is one commit: its rows share _source_file and _ingested_at, and are stored all or none. #}
    select distinct
        _source_file,
        _ingested_at

    from {{ this }}
    where _ingested_at > (select watermark.loaded_after from watermark)

),

{% endif %}

source as (

    select raw.*
    from {{ source('lakehouse', 'transactions') }} as raw

    {% if is_incremental() %}
    left join stored_loads
        on raw._source_file = stored_loads._source_file
            and raw._ingested_at = stored_loads._ingested_at
    where raw._ingested_at > (select watermark.loaded_after from watermark)
        and stored_loads._source_file is null
    {% endif %}

),

known_currencies as (

    select currency_code from {{ ref('iso_4217_currencies') }}

),

cleaned as (

    select
        -- ids
        {{ clean_text('transaction_id') }} as transaction_id,
        {{ clean_text('client_id') }} as client_id,
        {{ clean_text('asset_id') }} as asset_id,

        -- strings
        {{ clean_enum('transaction_type') }} as transaction_type,
        {{ clean_enum('channel') }} as channel,
        {{ clean_enum('status') }} as status,
        {{ clean_code('currency') }} as currency,

        -- still text: parsed below, so an unreadable value can be told from a missing one
        {{ clean_text('quantity') }} as quantity_text,
        {{ clean_text('price') }} as price_text,
        {{ clean_text('amount') }} as amount_text,
        {{ clean_text('fee') }} as fee_text,
        {{ clean_text('executed_at') }} as executed_at_text,
        {{ clean_text('updated_at') }} as updated_at_text,

        -- the landing partition's day
        {{ landing_date('_source_file') }} as landing_date,

        {{ delivery_columns('transactions') }}

    from source

),

parsed as (

    select
        cleaned.*,
        {{ parse_decimal('cleaned.quantity_text') }} as quantity,
        {{ parse_decimal('cleaned.price_text') }} as price,
        {{ parse_decimal('cleaned.amount_text') }} as amount,
        {{ parse_decimal('cleaned.fee_text') }} as fee,
        {{ parse_timestamp('cleaned.executed_at_text') }} as executed_at,
        {{ parse_timestamp('cleaned.updated_at_text') }} as updated_at,
        cleaned.transaction_type in ('buy', 'sell') as is_trade,
        known_currencies.currency_code is not null as is_known_currency,
        {#- A file outside the dt= layout is judged by the day it was loaded (then only "not in the future"). #}
        with_timezone(
            cast(coalesce(cleaned.landing_date, date(cleaned._ingested_at)) as timestamp), 'UTC'
        ) as landing_day_start

    from cleaned
    left join known_currencies on cleaned.currency = known_currencies.currency_code

),

checked as (

    {#- dt is the day of executed_at: a trade far before it, or after it ends (the year 2999), is not a delivery
        error the marts could absorb. A null quantity, price or amount fails the comparisons too. #}
    {%- set latest_executed_at = "date_add('hour', 24 + " ~ var('executed_at_skew_hours')
        ~ ", landing_day_start)" %}
    {%- set earliest_executed_at = "date_add('day', -" ~ var('executed_at_max_days_before_dt')
        ~ ", landing_day_start)" %}
    {%- set amount_matches = 'abs(amount - quantity * price) <= ' ~ var('amount_tolerance') %}
    select
        *,
        {#- In priority order: the first broken rule is the one reported. #}
        {{ broken_rules([
            reject_if('transaction_id is null', 'missing_id', 'transaction_id'),
            reject_if('executed_at is null', 'bad_timestamp', 'executed_at'),
            reject_if('updated_at is null', 'bad_timestamp', 'updated_at'),
            reject_if(
                'executed_at >= ' ~ latest_executed_at
                ~ ' or (landing_date is not null and executed_at < ' ~ earliest_executed_at ~ ')',
                'implausible_timestamp', 'executed_at'
            ),
            reject_number('quantity', decimal_pattern()),
            reject_number('price', decimal_pattern()),
            reject_number('amount', decimal_pattern()),
            reject_number('fee', decimal_pattern()),
            reject_unknown('transaction_type'),
            reject_unknown('channel'),
            reject_unknown('status'),
            reject_if('not is_known_currency', 'unknown_currency', 'currency'),
            reject_if('is_trade and not coalesce(quantity > 0, false)', 'nonpositive_quantity_price', 'quantity'),
            reject_if('is_trade and not coalesce(price > 0, false)', 'nonpositive_quantity_price', 'price'),
            reject_if('is_trade and not coalesce(' ~ amount_matches ~ ', false)', 'amount_mismatch', 'amount'),
            reject_if('not is_trade and not coalesce(amount > 0, false)', 'nonpositive_amount', 'amount'),
        ]) }} as row_rules

    from parsed

),

final as (

    select
        -- ids
        transaction_id,
        client_id,
        asset_id,
        record_key,

        -- strings
        transaction_type,
        status,
        channel,
        currency,

        -- numerics
        quantity,
        price,
        amount,
        {#- The contract: an empty commission means none was charged. #}
        coalesce(fee, 0) as fee,

        -- timestamps
        executed_at,
        updated_at,

        -- the row's own broken rules as an array too: the orphan rules come after them
        row_rules,

        {{ validation_columns('transactions', 'row_rules') }}

    from checked

)

select * from final
