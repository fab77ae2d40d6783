{#- Every amount in the warehouse is DECIMAL(18,2) (DuckDB rounds when the scale shrinks). -#}
{% macro to_money(expression) -%}
    cast({{ expression }} as decimal(18, 2))
{%- endmacro %}
