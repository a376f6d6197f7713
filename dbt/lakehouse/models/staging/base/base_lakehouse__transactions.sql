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
        _source_file,
        _source_row,
        _ingested_at,
        _batch_id

    from source

),

parsed as (

    select
        cleaned.*,
        try_cast(quantity_text as decimal(28, 8)) as quantity,
        try_cast(price_text as decimal(28, 8)) as price,
        try_cast(amount_text as decimal(28, 8)) as amount,
        try_cast(fee_text as decimal(28, 8)) as fee_delivered,
        {{ parse_timestamp('executed_at_text') }} as executed_at,
        {{ parse_timestamp('updated_at_text') }} as updated_at,
        known_clients.client_id is not null as is_known_client,
        known_assets.asset_id is not null as is_known_asset

    from cleaned
    left join known_clients on cleaned.client_id = known_clients.client_id
    left join known_assets on cleaned.asset_id = known_assets.asset_id

),

checked as (

    select
        *,
        {#- In priority order: the first broken rule is the one reported. #}
        filter(
            array[
                {{ reject_if('transaction_id is null', 'missing_id', 'transaction_id') }},
                {{ reject_if('updated_at_text is null', 'missing_value', 'updated_at') }},
                {{ reject_if('updated_at is null and updated_at_text is not null', 'invalid_timestamp', 'updated_at') }},
                {{ reject_if('executed_at_text is null', 'missing_value', 'executed_at') }},
                {{ reject_if('executed_at is null and executed_at_text is not null', 'invalid_timestamp', 'executed_at') }},
                {{ reject_if('transaction_type is null', 'missing_value', 'transaction_type') }},
                {{ reject_if("transaction_type not in " ~ enum_values_sql('transaction_type'), 'unknown_enum', 'transaction_type') }},
                {{ reject_if('status is null', 'missing_value', 'status') }},
                {{ reject_if("status not in " ~ enum_values_sql('status'), 'unknown_enum', 'status') }},
                {{ reject_if("channel not in " ~ enum_values_sql('channel'), 'unknown_enum', 'channel') }},
                {{ reject_if('quantity is null and quantity_text is not null', 'invalid_number', 'quantity') }},
                {{ reject_if('price is null and price_text is not null', 'invalid_number', 'price') }},
                {{ reject_if('amount is null and amount_text is not null', 'invalid_number', 'amount') }},
                {{ reject_if('fee_delivered is null and fee_text is not null', 'invalid_number', 'fee') }},
                {{ reject_if('client_id is null', 'missing_value', 'client_id') }},
                {{ reject_if("asset_id is null and transaction_type in ('buy', 'sell', 'dividend')", 'missing_value', 'asset_id') }},
                {{ reject_if('currency is null', 'missing_value', 'currency') }},
                {{ reject_if('amount_text is null', 'missing_value', 'amount') }},
                {{ reject_if("quantity_text is null and transaction_type in ('buy', 'sell')", 'missing_value', 'quantity') }},
                {{ reject_if("price_text is null and transaction_type in ('buy', 'sell')", 'missing_value', 'price') }},
                {{ reject_if("quantity <= 0 and transaction_type in ('buy', 'sell')", 'non_positive_quantity', 'quantity') }},
                {{ reject_if("price <= 0 and transaction_type in ('buy', 'sell')", 'non_positive_price', 'price') }},
                {{ reject_if('amount <= 0', 'non_positive_amount', 'amount') }},
                {{ reject_if(
                    "abs(amount - quantity * price) > " ~ var('amount_tolerance') ~ " and transaction_type in ('buy', 'sell')",
                    'amount_mismatch', 'amount'
                ) }},
                {{ reject_if('fee_delivered < 0', 'negative_fee', 'fee') }},
                {{ reject_if('client_id is not null and not is_known_client', 'unknown_client', 'client_id') }},
                {{ reject_if('asset_id is not null and not is_known_asset', 'unknown_asset', 'asset_id') }}
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
        coalesce(fee_delivered, 0) as fee,

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
