-- Payments and credit notes allocated to invoices within the cut-off of the run's as_of
-- (macro allocate_payments: invoice id, else reference, else oldest open invoice first;
-- the rest is the debtor's credit balance). Incremental per debtor (incremental_debtors.sql):
-- a daily build reallocates only the debtors whose payments or documents changed.
{{ config(moves_with_due_dates=false) }}
{%- set previous = previous_build() %}

with as_of_dates as (
    select {{ as_of_date() }} as as_of
),

{%- if previous %}

changed as (
    select * from {{ collected_debtors() }}
),
{%- endif %}

allocations as (
    {{ allocate_payments('as_of_dates', 'changed' if previous) }}
),

final as (
    select * exclude (as_of) from allocations
)

select * from final
