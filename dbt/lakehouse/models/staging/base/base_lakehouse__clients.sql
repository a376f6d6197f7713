{#-
    Every delivered client row, parsed, with the rules it breaks. No row is dropped here: stg_clients keeps
    the valid ones (latest version per id) and stg_clients_rejected the others.
-#}

with

source as (

    select * from {{ source('lakehouse', 'clients') }}

),

cleaned as (

    select
        -- ids
        {{ clean_text('client_id') }} as client_id,

        -- strings
        {{ clean_text('first_name') }} as first_name,
        {{ clean_text('last_name') }} as last_name,
        lower({{ clean_text('email') }}) as email,
        {{ clean_code('country_code') }} as country_code,
        {{ clean_enum('segment') }} as segment,
        {{ clean_enum('risk_profile') }} as risk_profile,
        {{ clean_enum('kyc_status') }} as kyc_status,

        -- still text: parsed below, so an unreadable value can be told from a missing one
        {{ clean_text('date_of_birth') }} as date_of_birth_text,
        {{ clean_text('onboarded_at') }} as onboarded_at_text,
        {{ clean_text('updated_at') }} as updated_at_text,

        -- as delivered
        {%- for column in lakehouse_contract_columns('clients') %}
        {{ column }} as delivered_{{ column }},
        {%- endfor %}
        {{ record_key('clients') }} as record_key,

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
        {{ parse_date('date_of_birth_text') }} as date_of_birth,
        {{ parse_timestamp('onboarded_at_text') }} as onboarded_at,
        {{ parse_timestamp('updated_at_text') }} as updated_at

    from cleaned

),

checked as (

    select
        *,
        {#- In priority order: the first broken rule is the one reported. #}
        filter(
            array[
                {{ reject_if('client_id is null', 'missing_id', 'client_id') }},
                {{ reject_if('onboarded_at is null', 'bad_timestamp', 'onboarded_at') }},
                {{ reject_if('updated_at is null', 'bad_timestamp', 'updated_at') }},
                {{ reject_unreadable('date_of_birth', 'bad_timestamp') }},
                {{ reject_unknown('segment') }},
                {{ reject_unknown('risk_profile') }},
                {{ reject_unknown('kyc_status') }}
            ],
            broken -> broken is not null
        ) as broken_rules

    from parsed

),

final as (

    select
        -- ids
        client_id,
        record_key,

        -- strings
        first_name,
        last_name,
        email,
        country_code,
        segment,
        risk_profile,
        kyc_status,

        -- dates and timestamps
        date_of_birth,
        onboarded_at,
        updated_at,

        -- validation
        element_at(broken_rules, 1).rule as rejection_rule,
        element_at(broken_rules, 1).column_name as rejected_column,
        element_at(broken_rules, 1).delivered_value as rejected_value,
        array_join(transform(broken_rules, broken -> broken.rule || '(' || broken.column_name || ')'), ', ')
            as broken_rules,

        -- as delivered
        {%- for column in lakehouse_contract_columns('clients') %}
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
