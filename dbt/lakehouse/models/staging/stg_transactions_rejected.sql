{#- One row per distinct delivered transaction record that cannot be made valid (macros/rejected_records.sql). -#}

{{ rejected_records('transactions', 'transaction_id') }}
