{#-
    The landing contract's columns per raw table, in delivery order. The base models, the rejected-rows
    models and the reconciliation test all read them from here so they agree on what a record is.
-#}
{% macro lakehouse_contract_columns(table_name) -%}
    {%- set columns = {
        'assets': [
            'asset_id', 'symbol', 'asset_name', 'asset_class', 'sector', 'currency', 'exchange', 'isin',
            'risk_rating', 'is_active', 'updated_at',
        ],
        'clients': [
            'client_id', 'first_name', 'last_name', 'email', 'country_code', 'date_of_birth', 'segment',
            'risk_profile', 'kyc_status', 'onboarded_at', 'updated_at',
        ],
        'transactions': [
            'transaction_id', 'client_id', 'asset_id', 'transaction_type', 'quantity', 'price', 'amount', 'fee',
            'currency', 'executed_at', 'channel', 'status', 'updated_at',
        ],
    } -%}
    {{ return(columns[table_name]) }}
{%- endmacro %}


{#- The enumerations of the landing contract, lower-case (staging lower-cases what is delivered). -#}
{% macro lakehouse_enum(name) -%}
    {%- set values = {
        'asset_class': ['equity', 'bond', 'etf', 'fund', 'crypto', 'commodity'],
        'segment': ['retail', 'high_net_worth', 'institutional'],
        'risk_profile': ['conservative', 'moderate', 'aggressive'],
        'kyc_status': ['verified', 'pending', 'rejected', 'expired'],
        'transaction_type': ['buy', 'sell', 'dividend', 'fee'],
        'channel': ['web', 'mobile', 'advisor', 'api'],
        'status': ['pending', 'settled', 'cancelled', 'failed'],
    } -%}
    {{ return(values[name]) }}
{%- endmacro %}


{#- `in (...)` list of an enumeration, for SQL. -#}
{% macro enum_values_sql(name) -%}
    ({%- for value in lakehouse_enum(name) -%}'{{ value }}'{{ ", " if not loop.last }}{%- endfor -%})
{%- endmacro %}


{#-
    A delivered record's identity: its contract columns exactly as delivered. JSON keeps a null apart
    from the string 'null' and from ''. Load metadata and unknown extra columns are not part of it, so a
    record repeated within or across files has one key.
-#}
{% macro record_key(table_name, prefix='') -%}
    lower(to_hex(md5(to_utf8(json_format(cast(array[
        {%- for column in lakehouse_contract_columns(table_name) %}
        {{ prefix ~ column }}{{ "," if not loop.last }}
        {%- endfor %}
    ] as json))))))
{%- endmacro %}
