{#-
    Severity of a threshold rule from how far past its threshold the score is:
    under 1.5x low, from 1.5x medium, from 2x high, from 3x critical.
-#}
{% macro severity_from_ratio(ratio) -%}
    case
        when {{ ratio }} >= 3 then 'critical'
        when {{ ratio }} >= 2 then 'high'
        when {{ ratio }} >= 1.5 then 'medium'
        else 'low'
    end
{%- endmacro %}
