{#- Keeps only the rows of debtors in `debtors_relation` (as_of, debtor_id) at that date; no-op
    without one. Used by the allocation/feature macros so snapshots compute only the debtors
    that can be overdue at a date. -#}
{% macro in_scope(debtors_relation, dates_alias, table_alias) -%}
    {%- if debtors_relation %}
    semi join {{ debtors_relation }} as scope
        on scope.as_of = {{ dates_alias }}.as_of and scope.debtor_id = {{ table_alias }}.debtor_id
    {%- endif %}
{%- endmacro %}
