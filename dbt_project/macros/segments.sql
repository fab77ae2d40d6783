{#- The segment dimensions of dim_debtors that the analyst marts break down by, as
    (dimension name, column) pairs; 'all' is every debtor. -#}
{% macro segment_dimensions() -%}
    {{ return([
        ('all', "'all'"),
        ('debtor_type', 'segment_debtor_type'),
        ('tenure', 'segment_tenure'),
        ('size', 'segment_size'),
        ('acquisition', 'segment_acquisition'),
        ('payer', 'segment_payer'),
    ]) }}
{%- endmacro %}

{#- Unpivots `relation` (with the dim_debtors segment columns) into one row per segment
    dimension: adds segment_dimension and segment. -#}
{% macro unpivot_segments(relation) -%}
    {%- for dimension, column in segment_dimensions() %}
    select *, '{{ dimension }}' as segment_dimension, {{ column }} as segment from {{ relation }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
