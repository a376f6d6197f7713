{#-
    Every delivered asset row, parsed by the contract's column types, with the rules it breaks
    (macros/base_rows.sql). No row is dropped here: stg_assets keeps the valid ones (latest version
    per id) and stg_assets_rejected the others. Symbol, exchange and ISIN are codes, compared upper-case.
    Rules are in priority order: the first broken rule is the one reported.
-#}

{{ base_rows(
    'assets',
    clean_as={'symbol': 'code', 'exchange': 'code', 'isin': 'code'},
    rules=[
        reject_if('asset_id is null', 'missing_id', 'asset_id'),
        reject_if('updated_at is null', 'bad_timestamp', 'updated_at'),
        reject_number('risk_rating', integer_pattern()),
        reject_unknown('asset_class'),
        reject_if('is_active is null', 'unknown_enum', 'is_active'),
    ],
) }}
