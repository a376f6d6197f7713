{#- One row per client: its latest valid version (macros/latest_valid_versions.sql). -#}

{{ latest_valid_versions('clients') }}
