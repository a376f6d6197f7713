{#-
    Every delivered transaction row, parsed, with the rules it breaks. No row is dropped here:
    stg_transactions keeps the valid ones (latest version per id), stg_transactions_rejected the others,
    and fact_transactions reads the newly ingested valid rows.
    A row naming a client or asset that has no valid version is rejected; it becomes valid by itself once
    the late client or asset arrives, because this view is evaluated against the current stg_ tables.
-#}

with

source as (

    select * from {{ source('lakehouse', 'transactions') }}

),

known_clients as (

    select client_id from {{ ref('stg_clients') }}

),

known_assets as (

    select asset_id from {{ ref('stg_assets') }}

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

        -- as delivered
        {%- for column in lakehouse_contract_columns('transactions') %}
        {{ column }} as delivered_{{ column }},
        {%- endfor %}
        {{ record_key('transactions') }} as record_key,

        -- load metadata
        {{ landing_date('_source_file') }} as landing_date,
        _source_file,
        _source_row,
        _ingested_at,
        _batch_id

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
        known_clients.client_id is not null as is_known_client,
        known_assets.asset_id is not null as is_known_asset,
        known_currencies.currency_code is not null as is_known_currency,
        {#- A file outside the dt= layout is judged by the day it was loaded (then only "not in the future"). #}
        with_timezone(
            cast(coalesce(cleaned.landing_date, date(cleaned._ingested_at)) as timestamp), 'UTC'
        ) as landing_day_start

    from cleaned
    left join known_clients on cleaned.client_id = known_clients.client_id
    left join known_assets on cleaned.asset_id = known_assets.asset_id
    left join known_currencies on cleaned.currency = known_currencies.currency_code

),

checked as (

    select
        *,
        {#- In priority order: the first broken rule is the one reported. #}
        filter(
            array[
                {{ reject_if('transaction_id is null', 'missing_id', 'transaction_id') }},
                {{ reject_if('executed_at is null', 'bad_timestamp', 'executed_at') }},
                {{ reject_if('updated_at is null', 'bad_timestamp', 'updated_at') }},
                {#- dt is the day of executed_at: a trade far before it, or after it ends (the year 2999), is not
                    a delivery error the marts could absorb. #}
                {%- set latest_executed_at = "date_add('hour', 24 + " ~ var('executed_at_skew_hours')
                    ~ ", landing_day_start)" %}
                {%- set earliest_executed_at = "date_add('day', -" ~ var('executed_at_max_days_before_dt')
                    ~ ", landing_day_start)" %}
                {{ reject_if(
                    'executed_at >= ' ~ latest_executed_at
                    ~ ' or (landing_date is not null and executed_at < ' ~ earliest_executed_at ~ ')',
                    'implausible_timestamp', 'executed_at'
                ) }},
                {{ reject_number('quantity', decimal_pattern()) }},
                {{ reject_number('price', decimal_pattern()) }},
                {{ reject_number('amount', decimal_pattern()) }},
                {{ reject_number('fee', decimal_pattern()) }},
                {{ reject_unknown('transaction_type') }},
                {{ reject_unknown('channel') }},
                {{ reject_unknown('status') }},
                {{ reject_if('not is_known_currency', 'unknown_currency', 'currency') }},
                {#- A null quantity, price or amount fails these comparisons too, so it is caught with them. #}
                {%- set amount_matches = 'abs(amount - quantity * price) <= ' ~ var('amount_tolerance') %}
                {{ reject_if(
                    'is_trade and not coalesce(quantity > 0, false)', 'nonpositive_quantity_price', 'quantity'
                ) }},
                {{ reject_if(
                    'is_trade and not coalesce(price > 0, false)', 'nonpositive_quantity_price', 'price'
                ) }},
                {{ reject_if(
                    'is_trade and not coalesce(' ~ amount_matches ~ ', false)', 'amount_mismatch', 'amount'
                ) }},
                {{ reject_if(
                    'not is_trade and not coalesce(amount > 0, false)', 'nonpositive_amount', 'amount'
                ) }},
                {{ reject_if('not is_known_client', 'orphan_reference', 'client_id') }},
                {{ reject_if("asset_id is null and transaction_type != 'fee'", 'orphan_reference', 'asset_id') }},
                {{ reject_if('asset_id is not null and not is_known_asset', 'orphan_reference', 'asset_id') }}
            ],
            broken -> broken is not null
        ) as broken_rules

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

        -- validation
        element_at(broken_rules, 1).rule as rejection_rule,
        element_at(broken_rules, 1).column_name as rejected_column,
        element_at(broken_rules, 1).delivered_value as rejected_value,
        array_join(transform(broken_rules, broken -> broken.rule || '(' || broken.column_name || ')'), ', ')
            as broken_rules,

        -- as delivered
        {%- for column in lakehouse_contract_columns('transactions') %}
        delivered_{{ column }},
        {%- endfor %}

        -- load metadata
        _source_file,
        _source_row,
        _ingested_at,
        _batch_id

    from checked

)

select * from final
