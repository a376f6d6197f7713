"""The landing contract as data: sources, their columns, key columns, enumerations and null/boolean spellings.

`docs/landing-contract.md` is the prose version; both the generator and its audit read these constants.
"""

from __future__ import annotations

SOURCES = ("assets", "clients", "transactions")

COLUMNS: dict[str, tuple[str, ...]] = {
    "assets": (
        "asset_id", "symbol", "asset_name", "asset_class", "sector", "currency",
        "exchange", "isin", "risk_rating", "is_active", "updated_at",
    ),
    "clients": (
        "client_id", "first_name", "last_name", "email", "country_code", "date_of_birth",
        "segment", "risk_profile", "kyc_status", "onboarded_at", "updated_at",
    ),
    "transactions": (
        "transaction_id", "client_id", "asset_id", "transaction_type", "quantity", "price",
        "amount", "fee", "currency", "executed_at", "channel", "status", "updated_at",
    ),
}  # fmt: skip

KEY_COLUMN = {"assets": "asset_id", "clients": "client_id", "transactions": "transaction_id"}

ENUMS: dict[str, tuple[str, ...]] = {
    "asset_class": ("equity", "bond", "etf", "fund", "crypto", "commodity"),
    "segment": ("retail", "high_net_worth", "institutional"),
    "risk_profile": ("conservative", "moderate", "aggressive"),
    "kyc_status": ("verified", "pending", "rejected", "expired"),
    "transaction_type": ("buy", "sell", "dividend", "fee"),
    "channel": ("web", "mobile", "advisor", "api"),
    "status": ("pending", "settled", "cancelled", "failed"),
}

# Which enumerations each source carries, and which columns hold codes that are upper-case once clean.
ENUM_COLUMNS = {
    "assets": ("asset_class",),
    "clients": ("segment", "risk_profile", "kyc_status"),
    "transactions": ("transaction_type", "channel", "status"),
}
CODE_COLUMNS = {"assets": ("currency",), "clients": ("country_code",), "transactions": ("currency",)}
TIMESTAMP_COLUMNS = {
    "assets": ("updated_at",),
    "clients": ("onboarded_at", "updated_at"),
    "transactions": ("executed_at", "updated_at"),
}

NULL_TOKENS = ("", "NULL", "N/A")
TRUE_SPELLINGS = ("true", "yes", "y", "1")
FALSE_SPELLINGS = ("false", "no", "n", "0")

# The canonical (clean) spellings the generator writes when it is not injecting dirt on purpose.
CANONICAL_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
