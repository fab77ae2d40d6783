{#- Whole calendar months from `start` to `end` (15 Jan to 14 Mar is 1, to 15 Mar is 2). -#}
{% macro whole_months(start, end) -%}
    (date_diff('month', {{ start }}, {{ end }})
        - case when day({{ end }}) < day({{ start }}) then 1 else 0 end)
{%- endmacro %}
