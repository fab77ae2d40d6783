{#-
    Daily builds recompute the intermediate models (allocation, settlement, overdue episodes)
    only for the debtors whose result can have changed since the model's previous build: those
    with an invoice, credit note or payment loaded since then (and every debtor an earlier
    version of those rows named: a restated document may move to another debtor), and those
    with a document or payment whose issue, due or payment date lies between the previous and
    this build's as_of (inside one cut-off, not the other; either direction, so a back-fill for
    an earlier date is exact too). Due dates count only where rows move when an invoice falls
    due (overdue episodes): a model configured `moves_with_due_dates=false` (allocation and
    settlement read issue and payment dates only) skips the debtors, a third of a day's, whose
    one change is an invoice falling due; the ledger (`independent_of_as_of`) reads no dates.
    Allocation is per debtor, so every other debtor's rows are unchanged. A model that reads more landing tables per debtor lists them in the config
    `debtor_sources` (default: invoices and payments). The tables hold no as_of column:
    consumers read them through at_as_of().

    The pre-hooks (set for intermediate/billing in dbt_project.yml) collect the changed debtors
    into intermediate.changed_debtors and delete their rows; the model appends their new rows;
    the post-hook records the build. The list stays until the model's next build, so its data
    tests check only the rows it wrote (incremental_tests.sql).
    intermediate.build_state (created on-run-start) holds per model the as_of and the newest
    _loaded_at of its last build, and how many debtors that build recomputed; without a row
    (first build, --full-refresh, an upgrade) the model is rebuilt for every debtor. The changed
    set depends only on the loaded data and the dates, not on the upstream model's record, so a
    build that failed half-way is caught up by the next one; a hand-picked `--select` of a
    downstream model alone is not (use a full build).
-#}

{% macro build_state_table() %}intermediate.build_state{% endmacro %}

{#- {as_of, loaded_through} of this model's last incremental-path build, or none (then every
    debtor is rebuilt): also after a failed test of the model (retest_all). -#}
{% macro previous_build() %}
    {#- unit tests render models with no relation (this is none): always the full path -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select strftime(as_of, '%Y-%m-%d'), strftime(loaded_through, '%Y-%m-%d %H:%M:%S.%f') "
        ~ "from " ~ build_state_table() ~ " where model = '" ~ this.identifier ~ "'"
        ~ " and not coalesce(retest_all, false)"
    ) -%}
    {%- if rows | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return({'as_of': rows[0][0], 'loaded_through': rows[0][1]}) }}
{% endmacro %}

{#- The landing tables whose rows, once loaded, change the debtor's rows in this model. -#}
{% macro debtor_sources() %}
    {{ return(config.get('debtor_sources', ['invoices', 'payments'])) }}
{% endmacro %}

{#- The landing contract's key and event time of a billing table (flows/ingest/contract.py renders
    them into the sources yml). -#}
{% macro source_contract(table) %}
    {%- for node in graph.sources.values() if node.source_name == 'billing' and node.name == table %}
        {{ return({'key': node.config.meta['key'], 'event_time': node.config.event_time}) }}
    {%- endfor %}
    {{ exceptions.raise_compiler_error('no billing source ' ~ table) }}
{% endmacro %}

{#- (as_of, debtor_id) pairs to recompute: the changed debtors, or every debtor without `previous`.
    A model with `point_in_time_rows` (each row reads only events before its own date, and an
    invoice's row appears on its issue date) needs fewer: the debtors with an invoice issued
    between the two as_of dates, and those with a row loaded since whose version, old or new, is
    dated before the earlier one (older rows, all issued before it, read nothing later; the
    ledger never moves money once applied, so a later payment cannot change them). A model
    `independent_of_as_of` (the ledger, which books every loaded event) needs only the debtors
    with rows loaded since. -#}
{% macro changed_debtors(previous) %}
    {%- set lo = "least(date '" ~ previous.as_of ~ "', " ~ as_of_date() ~ ")" if previous -%}
    {%- set hi = "greatest(date '" ~ previous.as_of ~ "', " ~ as_of_date() ~ ")" if previous -%}
    {%- set point_in_time = config.get('point_in_time_rows', false) -%}
    select distinct {{ as_of_date() }} as as_of, debtor_id
    from (
    {%- if previous %}
        {%- for table in debtor_sources() %}
        {%- set contract = source_contract(table) %}
        {#- a key without debtor_id can move to another debtor: every version's debtor counts #}
        {%- set key = contract.key[0] if 'debtor_id' not in contract.key else none %}
        select debtor_id from {{ source('billing', table) }}
        where
        {%- if key %} {{ key }} in (
            select {{ key }} from {{ source('billing', table) }}
            where _loaded_at > timestamp '{{ previous.loaded_through }}'
        )
        {%- else %} _loaded_at > timestamp '{{ previous.loaded_through }}'
        {%- endif %}
        {%- if point_in_time %}
            and cast({{ contract.event_time }} as date) < {{ lo }}
        {%- endif %}
        {{- ' union all' if not loop.last or not config.get('independent_of_as_of', false) }}
        {%- endfor %}
        {%- if not config.get('independent_of_as_of', false) %}
        select debtor_id from {{ ref('stg_billing__invoices') }}
        where (issue_date >= {{ lo }} and issue_date < {{ hi }})
        {%- if not point_in_time and config.get('moves_with_due_dates', true) %}
            or (due_date >= {{ lo }} and due_date < {{ hi }})
        {%- endif %}
        {%- if not point_in_time %}
        union all
        select debtor_id from {{ ref('stg_billing__payments') }}
        where paid_date >= {{ lo }} and paid_date < {{ hi }}
        {%- endif %}
        {%- endif %}
    {%- else %}
        select debtor_id from {{ ref('stg_billing__invoices') }}
        union all
        select debtor_id from {{ ref('stg_billing__payments') }}
    {%- endif %}
    )
{% endmacro %}

{#- Where the changed debtors of the model being built are kept from its pre-hooks to its
    post-hooks, so the scans that find them run once per model, not three times. -#}
{% macro changed_debtors_table() %}intermediate.changed_debtors{% endmacro %}

{#- The model's changed debtors as (as_of, debtor_id), collected by its pre-hooks. -#}
{% macro collected_debtors() -%}
    (
        select {{ as_of_date() }} as as_of, debtor_id
        from {{ changed_debtors_table() }}
        where model = '{{ this.identifier }}'
    )
{%- endmacro %}

{#- A where clause keeping only the changed debtors' rows on an incremental build (none on a
    full one): what a per-debtor model reads. -#}
{% macro changed_debtors_only(previous) -%}
    {%- if previous %}where debtor_id in (select debtor_id from {{ collected_debtors() }}){% endif -%}
{%- endmacro %}

{#- pre-hooks: collect the changed debtors, then drop their rows (all rows without a previous
    build); `select 1` where there is nothing to do (a first build or a full refresh). -#}
{% macro collect_changed_debtors() %}
    {%- set previous = previous_build() -%}
    {%- if previous -%}
        insert into {{ changed_debtors_table() }}
        select '{{ this.identifier }}', debtor_id from ({{ changed_debtors(previous) }})
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}

{% macro forget_changed_debtors() %}
    {%- if this is not none and is_incremental() -%}
        delete from {{ this }} {{ changed_debtors_only(previous_build()) }}
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}

{#- pre-hook: empty the model's list of changed debtors (its previous build's). -#}
{% macro clear_changed_debtors() %}
    delete from {{ changed_debtors_table() }} where model = '{{ this.identifier }}'
{% endmacro %}

{#- post-hook: this build's as_of and the newest row it saw, for the next build, and how many
    debtors it recomputed (null: all of them). -#}
{% macro record_build() %}
    insert or replace into {{ build_state_table() }}
        (model, as_of, loaded_through, debtors_recomputed, retest_all)
    select
        '{{ this.identifier }}',
        {{ as_of_date() }},
        greatest(
            {%- for table in debtor_sources() %}
            (select max(_loaded_at) from {{ source('billing', table) }}){{ ',' if not loop.last }}
            {%- endfor %}
        ),
        {%- if previous_build() %}
        (select count(*) from {{ collected_debtors() }}),
        {%- else %}
        null,
        {%- endif %}
        null  -- tested whole, if it was due (the on-run-end hook sets it again on a failure)
{% endmacro %}

{#- An intermediate table read as of the run's date: the as_of column the macros join on. -#}
{% macro at_as_of(relation) -%}
    (select {{ as_of_date() }} as as_of, * from {{ relation }})
{%- endmacro %}

{#- A test's `where: __recomputed_debtors__` (set for intermediate/billing in dbt_project.yml)
    keeps the rows of the debtors the model's last build recomputed: all of them after a full
    build. The other rows are as the build that wrote them tested them, so a daily build tests a
    tenth of a 24M-row table, not all of it (keys cannot collide across debtors unnoticed: a key
    that moves makes both debtors changed). -#}
{% macro recomputed_debtors(model) -%}
    (
        (select debtors_recomputed from {{ build_state_table() }} where model = '{{ model }}') is null
        or debtor_id in (select debtor_id from {{ changed_debtors_table() }} where model = '{{ model }}')
    )
{%- endmacro %}

{#- post-hook: dbt-duckdb 1.11 writes the rows of an incremental Python model (the ledger) through
    a table main.<model>__dbt_tmp<timestamp> and never drops it (it takes it for a temporary
    table); drop it, so a daily build leaves no copy of the day's rows behind. -#}
{% macro drop_python_leftovers() %}
    {%- if execute and model.language == 'python' -%}
        {%- set leftovers = run_query(
            "select table_name from information_schema.tables where table_schema = 'main' "
            ~ "and table_catalog = current_database() "
            ~ "and starts_with(table_name, '" ~ this.identifier ~ "__dbt_tmp')"
        ) -%}
        {%- for row in leftovers %}drop table if exists main."{{ row[0] }}";{% endfor %}
    {%- endif %}
    select 1
{% endmacro %}
