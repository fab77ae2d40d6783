{#- The month starts of the snapshot window that debtor_feature_snapshots still has to build
    as of the run's date: neither in `built_relation` nor computed empty (every one without it),
    or built with a label whose observability has changed since (observable now, or - in a
    back-fill for an earlier as_of - not yet). A month start with nobody overdue (a book younger
    than the window) has no rows; snapshot_dates_table() remembers it was computed. -#}
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
    ),

    computed as (
        select as_of from {{ snapshot_dates_table() }}
        where model = '{{ built_relation.identifier }}' and state = 'built'
    )
    {%- endif %}

    select month_starts.as_of
    from month_starts
    {%- if built_relation %}
    left join built on month_starts.as_of = built.as_of
    left join computed on month_starts.as_of = computed.as_of
    where (built.as_of is null and computed.as_of is null)
        or (built.unlabelled and month_starts.as_of + 30 <= {{ as_of_date() }})
        or (built.labelled and month_starts.as_of + 30 > {{ as_of_date() }})
    {%- endif %}
{% endmacro %}

{#- post-hook: how many dates are still pending after this build (flows/build/transform.py reads it). -#}
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

{#- (model, as_of, state): the month starts a build of the model is computing ('building', set by
    the pre-hook, read by the model) and those computed since its last full build ('built'). -#}
{% macro snapshot_dates_table() %}intermediate.snapshot_dates{% endmacro %}

{#- pre-hook: choose this build's dates, at most `snapshot_dates_per_build`, oldest first; a full
    build forgets what earlier builds computed. -#}
{% macro choose_snapshot_dates() %}
    delete from {{ snapshot_dates_table() }}
    where model = '{{ this.identifier }}'
        {%- if is_incremental() %} and state = 'building'{% endif %};
    insert into {{ snapshot_dates_table() }} (model, as_of, state)
    select '{{ this.identifier }}', as_of, 'building'
    from ({{ pending_snapshot_dates(this if is_incremental()) }})
    order by as_of
    limit {{ var('snapshot_dates_per_build') }}
{% endmacro %}

{#- The dates chosen by the pre-hook, for the model's query. -#}
{% macro chosen_snapshot_dates() -%}
    (select as_of from {{ snapshot_dates_table() }}
        where model = '{{ this.identifier }}' and state = 'building')
{%- endmacro %}

{#- post-hook: the chosen dates are computed, with rows or without. -#}
{% macro mark_snapshot_dates_built() %}
    update {{ snapshot_dates_table() }} set state = 'built'
    where model = '{{ this.identifier }}' and state = 'building'
{% endmacro %}
