-- The debtor_features columns at each month start in the `snapshot_months` months before
-- as_of, for the debtors overdue then, with label_collected_30d: every invoice overdue at the
-- snapshot date D was fully settled within the cut-off D + 30 (null until D + 30 <= as_of).
-- Incremental: a run computes only the month starts not built yet and those whose label has
-- changed observability (observable now, or - in a back-fill for an earlier as_of - not yet),
-- a few at a time (macro pending_snapshot_dates); a month start with nobody overdue is
-- computed once, empty, and not pending again;
-- every date is computed within its own cut-off, so recomputing one gives the same features.
-- Dates outside the window are deleted (post-hook), so the incremental table equals a full
-- refresh for the same as_of.
{{ config(
    materialized='incremental',
    unique_key=['as_of', 'debtor_id'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook="{{ choose_snapshot_dates() }}",
    post_hook=[
        "{{ mark_snapshot_dates_built() }}",
        "delete from {{ this }} where as_of < " ~ snapshot_window_start()
            ~ " or as_of >= " ~ as_of_date(),
        "delete from {{ snapshot_dates_table() }} where model = '{{ this.identifier }}' and ("
            ~ "as_of < " ~ snapshot_window_start() ~ " or as_of >= " ~ as_of_date() ~ ")",
        "{{ record_pending_snapshot_dates() }}",
    ],
) }}

{%- set nothing_pending = is_incremental() and not pending_snapshot_date_count(this) %}
{%- if nothing_pending %}
-- nothing pending (most days): the query without rows, which DuckDB answers without scanning
-- the inputs, while a changed column still fails the build (on_schema_change)
select * from (
{%- endif %}

with snapshot_dates as (
    -- at most `snapshot_dates_per_build` dates per build, oldest first: each date settles
    -- every candidate's history, and all twelve at once spill tens of GB at 1M debtors;
    -- flows/build/transform.py builds this model again while dates are pending; the pre-hook
    -- chose them (macro choose_snapshot_dates)
    select as_of from {{ chosen_snapshot_dates() }}
),

candidates as (
    -- debtors that can be overdue at the date: an invoice due before it that the run's own
    -- allocation had not settled by then (a superset: the ledger as of the date has settled
    -- the same invoices or fewer)
    select distinct snapshot_dates.as_of, invoices.debtor_id
    from snapshot_dates
    inner join {{ ref('int_invoices_settled') }} as invoices
        on invoices.issue_date < snapshot_dates.as_of
        and invoices.due_date < snapshot_dates.as_of
        and invoices.document_type = 'invoice'
        and (invoices.paid_date is null or invoices.paid_date >= snapshot_dates.as_of)
),

snapshot_allocations as materialized (
    {{ allocations_as_of('snapshot_dates', 'candidates') }}
),

snapshot_settled as materialized (
    {{ settle_invoices('snapshot_dates', 'snapshot_allocations', 'candidates') }}
),

snapshot_episodes as (
    {{ overdue_episodes('snapshot_settled') }}
),

features as materialized (
    {{ debtor_features(
        'snapshot_dates', 'snapshot_allocations', 'snapshot_settled', 'snapshot_episodes',
        'candidates',
    ) }}
),

overdue_then as (
    select as_of, debtor_id, invoice_id
    from snapshot_settled
    where document_type = 'invoice' and open_amount > 0 and due_date < as_of
),

label_scope as (
    -- the debtors overdue at a date, again at date + 30 once that is observable
    select distinct as_of + 30 as as_of, debtor_id
    from overdue_then
    where as_of + 30 <= {{ as_of_date() }}
),

label_allocations as materialized (
    {{ allocations_as_of('label_scope', 'label_scope') }}
),

label_settled as (
    {{ settle_invoices('label_scope', 'label_allocations', 'label_scope') }}
),

labels as (
    select
        overdue_then.as_of,
        overdue_then.debtor_id,
        cast(bool_and(later.paid_date is not null) as integer) as label_collected_30d
    from overdue_then
    inner join label_settled as later
        on later.as_of = overdue_then.as_of + 30
        and later.invoice_id = overdue_then.invoice_id
    group by all
),

final as (
    select features.*, labels.label_collected_30d
    from features
    left join labels
        on features.as_of = labels.as_of and features.debtor_id = labels.debtor_id
    where features.overdue_balance > 0
)

select * from final
{%- if nothing_pending %}
) limit 0
{%- endif %}
