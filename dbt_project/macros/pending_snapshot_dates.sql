{#- The month starts of the snapshot window that debtor_feature_snapshots still has to build
    as of the run's date: not in `built_relation` yet (every one without it), or built with a
    label whose observability has changed since (observable now, or - in a back-fill for an
    earlier as_of - not yet). -#}
{% macro pending_snapshot_dates(built_relation=none) %}
    with month_starts as (
        select cast(month_start as date) as as_of
        from range(
            {{ snapshot_window_start() }},
            date_trunc('month', {{ as_of_date() }} - 1) + interval 1 day,
            interval 1 month
        ) as months (month_start)
    )
    {%- if built_relation %},

    built as (
        select
            as_of,
            bool_or(label_collected_30d is null) as unlabelled,
            bool_or(label_collected_30d is not null) as labelled
        from {{ built_relation }}
        group by as_of
    )
    {%- endif %}

    select month_starts.as_of
    from month_starts
    {%- if built_relation %}
    left join built on month_starts.as_of = built.as_of
    where built.as_of is null
        or (built.unlabelled and month_starts.as_of + 30 <= {{ as_of_date() }})
        or (built.labelled and month_starts.as_of + 30 > {{ as_of_date() }})
    {%- endif %}
{% endmacro %}

{#- post-hook: how many dates are still pending after this build (flows/transform.py reads it). -#}
{% macro record_pending_snapshot_dates() %}
    insert or replace into {{ build_state_table() }} (model, as_of, dates_pending)
    select '{{ this.identifier }}', {{ as_of_date() }}, count(*)
    from ({{ pending_snapshot_dates(this) }})
{% endmacro %}

{#- How many dates are pending for `built_relation`, asked while compiling (1 while parsing,
    which must see the whole query's refs). -#}
{% macro pending_snapshot_date_count(built_relation) %}
    {%- if not execute -%}
        {{ return(1) }}
    {%- endif -%}
    {{ return(run_query('select count(*) from (' ~ pending_snapshot_dates(built_relation) ~ ')').columns[0].values()[0]) }}
{% endmacro %}
