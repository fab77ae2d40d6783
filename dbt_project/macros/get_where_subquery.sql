{#- dbt's own get_where_subquery (a generic test's `where` config), with two placeholders for
    tests of incrementally built tables, which need only check what the last build wrote:
    __recomputed_debtors__ (intermediate/billing, incremental_debtors.sql) and __merged_keys__
    (merged staging models, latest_version.sql). -#}
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
