{#- One row per asset: its latest valid version (macros/staging.sql). -#}

{{ latest_valid_versions('assets') }}
