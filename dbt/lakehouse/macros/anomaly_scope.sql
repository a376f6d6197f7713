{#-
    What an incremental anomaly rule recomputes. A rule model calls changed_versions() and one of the scope
    macros inside `{% if is_incremental() %}`, keeps its stored findings outside the scope (CTE `kept`, which
    anomaly_final adds back) and computes the rule on the scope's rows (is_recomputed) alone.
-#}

{#-
    CTEs changed_transactions and changed_versions: every delivered version (client_id, asset_id, executed_at) of
    each transaction whose latest valid version changed since the rule last ran.

    Since when: the newest detected_at the rule stored, less `fact_lookback_hours` for loads committed late. A
    finding's detected_at is never newer than the changes its run read, so the window only errs wide; an empty
    table reads every change. Every version, not only the latest: the version a change replaced held a place
    (a day, a client, an asset) too, and the findings there move when it leaves. Rejected versions only widen
    the scope.
-#}
{% macro changed_versions() %}
changed_transactions as (

    select transaction_id
    from {{ ref('int_transactions__latest_valid') }}
    where _last_ingested_at > {{ incremental_watermark('detected_at') }}

),

changed_versions as (

    select distinct
        client_id,
        asset_id,
        executed_at

    from {{ ref('base_lakehouse__transactions') }}
    where transaction_id in (select changed_transactions.transaction_id from changed_transactions)
        and executed_at is not null

),
{%- endmacro %}


{#-
    CTEs recomputed_days, scope_days and kept, for a rule whose finding at time r reads the rows of the same `key`
    (client_id or asset_id) within [r - reach_back, r + reach_ahead] minutes. A change at t then moves the
    findings within [t - reach_ahead, t + reach_back]: those key-days are recomputed. scope_days adds the days
    before and after that a reach needs to read (is_recomputed false). Both reaches stay under a day.

    Shifts are unnested rather than unioned: Trino plans a CTE again at every reference, so each union branch
    would read the changed versions (two table scans) once more.
-#}
{% macro scope_days(key, reach_back_minutes=0, reach_ahead_minutes=0) %}
    {%- if reach_back_minutes >= 1440 or reach_ahead_minutes >= 1440 -%}
        {{ exceptions.raise_compiler_error('scope_days: a reach of a day or more needs a wider scope') }}
    {%- endif %}
    {%- set day_shifts = [0] + ([-1] if reach_back_minutes > 0 else []) + ([1] if reach_ahead_minutes > 0 else []) %}
recomputed_days as (

    select distinct
        changed_versions.{{ key }},
        date(changed_versions.executed_at + shifts.minutes * interval '1' minute) as executed_date

    from changed_versions
    cross join unnest(array[{{ ([-reach_ahead_minutes, 0, reach_back_minutes] | unique | join(', ')) }}])
        as shifts (minutes)
    where changed_versions.{{ key }} is not null

),

scope_days as (

    select
        {{ key }},
        executed_date,
        bool_or(is_recomputed) as is_recomputed

    from (
        select
            recomputed_days.{{ key }},
            recomputed_days.executed_date + shifts.days * interval '1' day as executed_date,
            shifts.days = 0 as is_recomputed

        from recomputed_days
        cross join unnest(array[{{ day_shifts | join(', ') }}]) as shifts (days)
    ) as days
    group by {{ key }}, executed_date

),

kept as (

    select stored.*
    from {{ this }} as stored
    left join recomputed_days
        on stored.{{ key }} = recomputed_days.{{ key }}
            and date(stored.executed_at) = recomputed_days.executed_date
    where recomputed_days.{{ key }} is null

),
{%- endmacro %}


{#-
    The rows of `relation` (with executed_date) a rule computes on, and whether it recomputes their findings
    (is_recomputed): in a full build all of them, in an incremental one the key-days of scope_days.
-#}
{% macro scoped_rows(relation, key) -%}
    {%- if is_incremental() -%}
    select
        {{ relation }}.*,
        scope_days.is_recomputed

    from {{ relation }}
    inner join scope_days
        on {{ relation }}.{{ key }} = scope_days.{{ key }}
            and {{ relation }}.executed_date = scope_days.executed_date
    {%- else -%}
    select
        *,
        true as is_recomputed

    from {{ relation }}
    {%- endif %}
{%- endmacro %}
