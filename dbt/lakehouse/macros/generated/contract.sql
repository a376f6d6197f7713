{#-
    GENERATED from include/contract.yml by `python -m include.contract --write-dbt`: do not edit.
    The landing contract as a dict; the macros in ../lakehouse_contract.sql read it.
-#}
{% macro lakehouse_contract() -%}
    {{ return({
        "sources": {
            "assets": {
                "key": "asset_id",
                "columns": [
                    "asset_id",
                    "symbol",
                    "asset_name",
                    "asset_class",
                    "sector",
                    "currency",
                    "exchange",
                    "isin",
                    "risk_rating",
                    "is_active",
                    "updated_at"
                ],
                "types": {
                    "asset_id": "string",
                    "symbol": "string",
                    "asset_name": "string",
                    "asset_class": "enum",
                    "sector": "string",
                    "currency": "code",
                    "exchange": "string",
                    "isin": "string",
                    "risk_rating": "integer",
                    "is_active": "boolean",
                    "updated_at": "timestamp"
                }
            },
            "clients": {
                "key": "client_id",
                "columns": [
                    "client_id",
                    "first_name",
                    "last_name",
                    "email",
                    "country_code",
                    "date_of_birth",
                    "segment",
                    "risk_profile",
                    "kyc_status",
                    "onboarded_at",
                    "updated_at"
                ],
                "types": {
                    "client_id": "string",
                    "first_name": "string",
                    "last_name": "string",
                    "email": "string",
                    "country_code": "code",
                    "date_of_birth": "date",
                    "segment": "enum",
                    "risk_profile": "enum",
                    "kyc_status": "enum",
                    "onboarded_at": "timestamp",
                    "updated_at": "timestamp"
                }
            },
            "transactions": {
                "key": "transaction_id",
                "columns": [
                    "transaction_id",
                    "client_id",
                    "asset_id",
                    "transaction_type",
                    "quantity",
                    "price",
                    "amount",
                    "fee",
                    "currency",
                    "executed_at",
                    "channel",
                    "status",
                    "updated_at"
                ],
                "types": {
                    "transaction_id": "string",
                    "client_id": "string",
                    "asset_id": "string",
                    "transaction_type": "enum",
                    "quantity": "decimal",
                    "price": "decimal",
                    "amount": "decimal",
                    "fee": "decimal",
                    "currency": "code",
                    "executed_at": "timestamp",
                    "channel": "enum",
                    "status": "enum",
                    "updated_at": "timestamp"
                }
            }
        },
        "enums": {
            "asset_class": [
                "equity",
                "bond",
                "etf",
                "fund",
                "crypto",
                "commodity"
            ],
            "segment": [
                "retail",
                "high_net_worth",
                "institutional"
            ],
            "risk_profile": [
                "conservative",
                "moderate",
                "aggressive"
            ],
            "kyc_status": [
                "verified",
                "pending",
                "rejected",
                "expired"
            ],
            "transaction_type": [
                "buy",
                "sell",
                "dividend",
                "fee"
            ],
            "channel": [
                "web",
                "mobile",
                "advisor",
                "api"
            ],
            "status": [
                "pending",
                "settled",
                "cancelled",
                "failed"
            ]
        },
        "null_tokens": [
            "",
            "NULL",
            "N/A"
        ],
        "booleans": {
            "true": [
                "true",
                "yes",
                "y",
                "1"
            ],
            "false": [
                "false",
                "no",
                "n",
                "0"
            ]
        },
        "row_reasons": [
            "missing_id",
            "bad_timestamp",
            "implausible_timestamp",
            "unparseable_number",
            "out_of_range",
            "unknown_enum",
            "unknown_currency",
            "nonpositive_quantity_price",
            "amount_mismatch",
            "nonpositive_amount",
            "orphan_reference"
        ]
    }) }}
{%- endmacro %}
