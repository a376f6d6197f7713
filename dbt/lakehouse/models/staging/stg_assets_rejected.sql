{#- One row per distinct delivered asset record that cannot be made valid (macros/rejected_records.sql). -#}

{{ rejected_records('assets', 'asset_id') }}
