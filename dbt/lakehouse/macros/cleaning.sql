{#-
    Expressions that turn a delivered varchar into a clean value. clean_* take a raw column; parse_* take
    the clean text and return null for a value they cannot read, so a model can tell "unreadable" (clean
    text present, parsed value null) from "missing" (clean text null).
-#}

{#- Trimmed, with the contract's spellings of "no value" (null_tokens: '', NULL, N/A) in any case made null. -#}
{% macro clean_text(column) -%}
    case
        when upper(trim({{ column }})) in {{ sql_string_list(lakehouse_contract()['null_tokens'] | map('upper') | list) }} then null
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
{% macro decimal_pattern() -%}
    '^[+-]?(\d+(\.\d*)?|\.\d+)$'
{%- endmacro %}


{% macro integer_pattern() -%}
    '^[+-]?\d+$'
{%- endmacro %}


{#-
    A plain decimal that fits: at most `max_integer_digits` significant integer digits and no non-zero digit
    past decimal(28,8)'s scale. Anything else is null, so no later arithmetic ever sees a value that could
    overflow or be silently rounded; `reject_number` tells that case (out_of_range) from unreadable text.
-#}
{% macro parse_decimal(text) -%}
    {%- set in_range = "'^[+-]?0*(\\d{1," ~ var('max_integer_digits') ~ "}(\\.\\d{0,8}0*)?|\\.\\d{1,8}0*)$'" -%}
    if(regexp_like({{ text }}, {{ in_range }}), try_cast({{ text }} as decimal(28, 8)))
{%- endmacro %}


{% macro parse_integer(text) -%}
    if(regexp_like({{ text }}, {{ integer_pattern() }}), try_cast({{ text }} as integer))
{%- endmacro %}


{% macro parse_boolean(text) -%}
    case
        when lower({{ text }}) in {{ sql_string_list(lakehouse_contract()['booleans']['true']) }} then true
        when lower({{ text }}) in {{ sql_string_list(lakehouse_contract()['booleans']['false']) }} then false
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


{#-
    Two entries for a numeric column: its text is not a plain number (unparseable_number), or it is one but
    does not fit the column's type (out_of_range). `pattern` is decimal_pattern() or integer_pattern().
-#}
{% macro reject_number(column, pattern) -%}
    {{ reject_if(column ~ '_text is not null and not regexp_like(' ~ column ~ '_text, ' ~ pattern ~ ')',
                 'unparseable_number', column) }},
    {{ reject_if('regexp_like(' ~ column ~ '_text, ' ~ pattern ~ ') and ' ~ column ~ ' is null', 'out_of_range',
                 column) }}
{%- endmacro %}


{#-
    The landing partition's date, from the `dt=YYYY-MM-DD` folder of the row's file (null when the path has
    none or it is not a calendar date).
-#}
{% macro landing_date(source_file) -%}
    try_cast(regexp_extract({{ source_file }}, '/dt=(\d{4}-\d{2}-\d{2})/', 1) as date)
{%- endmacro %}


{#- A value was delivered (its clean text is there) but could not be parsed. -#}
{% macro reject_unreadable(column, rule) -%}
    {{ reject_if(column ~ ' is null and ' ~ column ~ '_text is not null', rule, column) }}
{%- endmacro %}


{#- A required enumeration that is missing or outside the contract's values. -#}
{% macro reject_unknown(column) -%}
    {{ reject_if(column ~ ' is null or ' ~ column ~ ' not in ' ~ enum_values_sql(column), 'unknown_enum', column) }}
{%- endmacro %}
