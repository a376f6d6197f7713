{#- One row per asset: its latest valid version (macros/latest_valid_versions.sql). -#}

{{ latest_valid_versions('assets') }}
