{#- One row per client: its latest valid version (macros/staging.sql). -#}

{{ latest_valid_versions('clients') }}
