{#- Tests of incrementally built tables check only what the last build wrote, through two
    placeholders in a generic test's `where` config: __recomputed_debtors__ (intermediate/billing,
    incremental_debtors.sql) and __merged_keys__ (merged staging models, latest_version.sql).
    A failed test is not forgotten: the model's next build is tested whole
    (retest_after_failed_tests). -#}

{#- dbt's own get_where_subquery, with the two placeholders. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if not where -%}
        {%- do return(relation) -%}
    {%- endif -%}
    {%- if '__recomputed_debtors__' in where -%}
        {%- set where = where | replace('__recomputed_debtors__', recomputed_debtors(relation.identifier)) -%}
    {%- endif -%}
    {%- if '__merged_keys__' in where and execute -%}
        {#- the tested column, and the landing table its model merges -#}
        {%- set tested = graph.nodes[model.attached_node] -%}
        {%- set sources = tested.depends_on.nodes | select('in', graph.sources) | list -%}
        {%- set merged = merged_keys(tested.name, model.column_name, graph.sources[sources[0]].relation_name) -%}
        {%- set where = where | replace('__merged_keys__', merged) -%}
    {%- endif -%}
    {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
{%- endmacro %}

{#- on-run-end: a model whose incremental test failed gets `retest_all` in build_state, so its
    next build writes and tests every debtor (intermediate) or tests every key (staging) instead
    of only what that build touches, which would pass over the rows that failed. -#}
{% macro retest_after_failed_tests(results) %}
    {%- set models = [] -%}
    {%- for result in results if result.node.resource_type == 'test'
        and result.status in ('fail', 'error')
        and ('__recomputed_debtors__' in (result.node.config.where or '')
             or '__merged_keys__' in (result.node.config.where or '')) -%}
        {%- do models.append(graph.nodes[result.node.attached_node].name) -%}
    {%- endfor -%}
    {%- if models -%}
        update {{ build_state_table() }} set retest_all = true
        where model in ('{{ models | unique | join("', '") }}')
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}
