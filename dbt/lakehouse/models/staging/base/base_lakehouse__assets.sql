{#-
    Every delivered asset row, parsed, with the rules it breaks. No row is dropped here: stg_assets keeps
    the valid ones (latest version per id) and stg_assets_rejected the others.
-#}

with

source as (

    select * from {{ source('lakehouse', 'assets') }}

),

cleaned as (

    select
        -- ids
        {{ clean_text('asset_id') }} as asset_id,

        -- strings
        {{ clean_code('symbol') }} as symbol,
        {{ clean_text('asset_name') }} as asset_name,
        {{ clean_enum('asset_class') }} as asset_class,
        {{ clean_text('sector') }} as sector,
        {{ clean_code('currency') }} as currency,
        {{ clean_code('exchange') }} as exchange,
        {{ clean_code('isin') }} as isin,

        -- still text: parsed below, so an unreadable value can be told from a missing one
        {{ clean_text('risk_rating') }} as risk_rating_text,
        {{ clean_text('is_active') }} as is_active_text,
        {{ clean_text('updated_at') }} as updated_at_text,

        -- as delivered
        {%- for column in lakehouse_contract_columns('assets') %}
        {{ column }} as delivered_{{ column }},
        {%- endfor %}
        {{ record_key('assets') }} as record_key,

        -- load metadata
        _source_file,
        _source_row,
        _ingested_at,
        _batch_id

    from source

),

parsed as (

    select
        *,
        {{ parse_integer('risk_rating_text') }} as risk_rating,
        {{ parse_boolean('is_active_text') }} as is_active,
        {{ parse_timestamp('updated_at_text') }} as updated_at

    from cleaned

),

checked as (

    select
        *,
        {#- In priority order: the first broken rule is the one reported. #}
        filter(
            array[
                {{ reject_if('asset_id is null', 'missing_id', 'asset_id') }},
                {{ reject_if('updated_at is null', 'bad_timestamp', 'updated_at') }},
                {{ reject_number('risk_rating', integer_pattern()) }},
                {{ reject_unknown('asset_class') }},
                {{ reject_if('is_active is null', 'unknown_enum', 'is_active') }}
            ],
            broken -> broken is not null
        ) as broken_rules

    from parsed

),

final as (

    select
        -- ids
        asset_id,
        record_key,

        -- strings
        symbol,
        asset_name,
        asset_class,
        sector,
        currency,
        exchange,
        isin,

        -- numerics and booleans
        risk_rating,
        is_active,

        -- timestamps
        updated_at,

        -- validation
        element_at(broken_rules, 1).rule as rejection_rule,
        element_at(broken_rules, 1).column_name as rejected_column,
        element_at(broken_rules, 1).delivered_value as rejected_value,
        array_join(transform(broken_rules, broken -> broken.rule || '(' || broken.column_name || ')'), ', ')
            as broken_rules,

        -- as delivered
        {%- for column in lakehouse_contract_columns('assets') %}
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
