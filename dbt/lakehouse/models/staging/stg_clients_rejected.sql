{#- One row per distinct delivered client record that cannot be made valid (macros/rejected_records.sql). -#}

{{ rejected_records('clients', 'client_id') }}
