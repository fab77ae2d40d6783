{#- Restricting the allocation/feature macros to `debtors_relation` (as_of, debtor_id), so
    snapshots compute only the debtors that can be overdue at a date; no-ops without one.
    The dates side of each join becomes the (as_of, debtor_id) pairs of the scope and the join
    gains `debtor_id =`: a hash join per debtor instead of every row at every date filtered
    afterwards (at 12 dates that is tens of millions of rows fewer). -#}

{#- The relation to join from: `dates_alias` itself, or the scope's distinct (as_of, debtor_id)
    pairs at those dates. Alias it as `dates_alias`. -#}
{% macro scoped_dates(dates_alias, debtors_relation) -%}
    {%- if debtors_relation -%}
    (
        select distinct scope.as_of, scope.debtor_id
        from {{ debtors_relation }} as scope
        semi join {{ dates_alias }} as scope_dates on scope_dates.as_of = scope.as_of
    )
    {%- else -%}
    {{ dates_alias }}
    {%- endif -%}
{%- endmacro %}

{#- The join condition that keeps a row of `table_alias` only for its debtor's scope rows;
    goes inside the ON clause of the join from scoped_dates(). -#}
{% macro in_scope(debtors_relation, dates_alias, table_alias) -%}
    {%- if debtors_relation %}
        and {{ table_alias }}.debtor_id = {{ dates_alias }}.debtor_id
    {%- endif %}
{%- endmacro %}
