{#- First month start of the snapshot window: `snapshot_months` month starts up to the last one before as_of. -#}
{% macro snapshot_window_start() -%}
    (date_trunc('month', {{ as_of_date() }} - 1) - to_months({{ var('snapshot_months', 12) }} - 1))::date
{%- endmacro %}
