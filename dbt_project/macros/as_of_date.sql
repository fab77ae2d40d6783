{#- The business date of the run (start of day as_of): var `as_of` as a DATE literal, else today. -#}
{% macro as_of_date() -%}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of -%}
        date '{{ as_of }}'
    {%- else -%}
        current_date
    {%- endif -%}
{%- endmacro %}
