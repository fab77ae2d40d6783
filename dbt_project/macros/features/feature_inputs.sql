{#- debtor_features, part 1: its inputs (documents, invoices, allocation shares, contact events, customer
    versions) and the spine, one row per debtor known at each date (known from its first customer
    version's valid_from or its first invoice). Expects a CTE `dates` before it. -#}
{% macro feature_inputs(allocations_relation, settled_relation, debtors_relation) %}
-- the four inputs below are plain scans read several times: DuckDB would materialize them
-- (24M rows each at 1M debtors), while scanning again lets each reader push its filters down
documents as not materialized (
    select * from {{ settled_relation }}
),

invoices as not materialized (
    select * from documents where document_type = 'invoice'
),

shares as not materialized (
    select * from {{ allocations_relation }}
),

events as not materialized (
    select debtor_id, channel, event_type, occurred_at, occurred_date
    from {{ ref('stg_billing__contact_events') }}
),

customer_versions as (
    select * from {{ ref('stg_billing__customer_versions') }}
),

first_seen as (
    select debtor_id, min(seen_at) as seen_at
    from (
        select debtor_id, valid_from as seen_at from customer_versions
        union all
        select debtor_id, cast(issue_date as timestamp)
        from {{ ref('stg_billing__invoices') }}
    )
    group by debtor_id
),

spine as (
    select dates.as_of, first_seen.debtor_id, cast(dates.as_of as timestamp) as as_of_ts
    from {{ scoped_dates('dates', debtors_relation) }} as dates
    inner join first_seen
        on first_seen.seen_at < cast(dates.as_of as timestamp)
        {{- in_scope(debtors_relation, 'dates', 'first_seen') }}
)
{%- endmacro %}
