{#- A buy or sell always moves a positive quantity at a positive price for a positive amount. -#}
{% test positive_for_buys_and_sells(model, column_name, type_column='transaction_type') %}

select *
from {{ model }}
where {{ type_column }} in ('buy', 'sell')
    and ({{ column_name }} is null or {{ column_name }} <= 0)

{% endtest %}
