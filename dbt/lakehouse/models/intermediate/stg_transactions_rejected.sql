{#-
    One row per distinct delivered transaction record that cannot be made valid (macros/rejected_records.sql).
    Built in the intermediate layer, into the staging schema its readers know: the orphan rule it reports needs
    the clients and assets, which only int_transactions__orphan_checked brings together.
-#}

{{ config(schema='staging') }}

{{ rejected_records('transactions', 'transaction_id', 'int_transactions__orphan_checked') }}
