{#-
    Expressions that turn a delivered varchar into a clean value. clean_* take a raw column; parse_* take
    the clean text and return null for a value they cannot read, so a model can tell "unreadable" (clean
    text present, parsed value null) from "missing" (clean text null).
-#}

{#- Trimmed, with the contract's spellings of "no value" ('', NULL, N/A in any case) made null. -#}
{% macro clean_text(column) -%}
    case
        when upper(trim({{ column }})) in ('', 'NULL', 'N/A') then null
        else trim({{ column }})
    end
{%- endmacro %}


{#- Enumerations arrive in mixed case; the contract's values are lower-case. -#}
{% macro clean_enum(column) -%}
    lower({{ clean_text(column) }})
{%- endmacro %}


{#- Currency and country codes are ISO codes, upper-case. -#}
{% macro clean_code(column) -%}
    upper({{ clean_text(column) }})
{%- endmacro %}


{#- Plain decimals only (the contract: optional sign, digits, optional point and digits; no exponent). -#}
{% macro parse_decimal(text) -%}
    if(regexp_like({{ text }}, '^[+-]?(\d+(\.\d*)?|\.\d+)$'), try_cast({{ text }} as decimal(28, 8)))
{%- endmacro %}


{% macro parse_integer(text) -%}
    if(regexp_like({{ text }}, '^[+-]?\d+$'), try_cast({{ text }} as integer))
{%- endmacro %}


{% macro parse_boolean(text) -%}
    case
        when lower({{ text }}) in ('true', 'yes', 'y', '1') then true
        when lower({{ text }}) in ('false', 'no', 'n', '0') then false
    end
{%- endmacro %}


{#- A plain calendar date, YYYY-MM-DD. -#}
{% macro parse_date(text) -%}
    try_cast(if(regexp_like({{ text }}, '^\d{4}-\d{2}-\d{2}$'), {{ text }}) as date)
{%- endmacro %}


{#-
    ISO 8601 with 'T' or a space, seconds and fraction optional, then 'Z', 'UTC', an offset (+01:00,
    +0100, +01) or nothing. Nothing means UTC, spelled out so the session time zone never decides.
    Anything else (another layout, 2024-02-30, 25:00) gives null. The result is in UTC.
-#}
{% macro parse_timestamp(text) -%}
    {%- set pattern = "'^(\\d{4}-\\d{2}-\\d{2})(?:[Tt ](\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d{1,9})?)?))?\\s*([Zz]|UTC|[+-]\\d{2}(?::?\\d{2})?)?$'" -%}
    {%- set zone = "regexp_extract(" ~ text ~ ", " ~ pattern ~ ", 3)" -%}
    try_cast(
        regexp_extract({{ text }}, {{ pattern }}, 1)
        || ' ' || coalesce(regexp_extract({{ text }}, {{ pattern }}, 2), '00:00:00')
        || ' ' || case
            when {{ zone }} is null or upper({{ zone }}) in ('Z', 'UTC') then 'UTC'
            when length({{ zone }}) = 3 then {{ zone }} || ':00'
            else {{ zone }}
        end
        as timestamp(6) with time zone
    ) at time zone 'UTC'
{%- endmacro %}


{#-
    One entry of a base model's `broken_rules` array: null when the condition is false. The column's
    delivered value travels with the rule so the rejected-rows model can show what was wrong.
    Rules are the landing contract's reject reasons (docs/landing-contract.md).
-#}
{% macro reject_if(condition, rule, column) -%}
    if(
        {{ condition }},
        cast(
            row('{{ rule }}', '{{ column }}', delivered_{{ column }})
            as row(rule varchar, column_name varchar, delivered_value varchar)
        )
    )
{%- endmacro %}


{#- A value was delivered (its clean text is there) but could not be parsed. -#}
{% macro reject_unreadable(column, rule) -%}
    {{ reject_if(column ~ ' is null and ' ~ column ~ '_text is not null', rule, column) }}
{%- endmacro %}


{#- A required enumeration that is missing or outside the contract's values. -#}
{% macro reject_unknown(column) -%}
    {{ reject_if(column ~ ' is null or ' ~ column ~ ' not in ' ~ enum_values_sql(column), 'unknown_enum', column) }}
{%- endmacro %}
