{#-
    Every delivered transaction row with every rule checked: its own (base_lakehouse__transactions), then
    whether its client and asset exist (macros/orphan_checks.sql).
-#}

{#- A view, like the base model: an incremental reader's filter on _ingested_at reaches the raw scan. -#}
{{ config(materialized='view') }}

{{ orphan_checks() }}
