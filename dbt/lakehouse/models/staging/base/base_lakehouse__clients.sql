{#-
    Every delivered client row, parsed by the contract's column types, with the rules it breaks
    (macros/base_rows.sql). No row is dropped here: stg_clients keeps the valid ones (latest version
    per id) and stg_clients_rejected the others.
    Rules are in priority order: the first broken rule is the one reported.
-#}

{{ base_rows(
    'clients',
    clean_as={'email': 'lower'},
    rules=[
        reject_if('client_id is null', 'missing_id', 'client_id'),
        reject_if('onboarded_at is null', 'bad_timestamp', 'onboarded_at'),
        reject_if('updated_at is null', 'bad_timestamp', 'updated_at'),
        reject_unreadable('date_of_birth', 'bad_timestamp'),
        reject_unknown('segment'),
        reject_unknown('risk_profile'),
        reject_unknown('kyc_status'),
    ],
) }}
