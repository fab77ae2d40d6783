-- Payments and credit notes allocated to invoices as of the run's as_of: the ledger read as of
-- that date (macro allocations_as_of over int_ledger; the rest is the debtor's credit balance).
-- Incremental per debtor (incremental_debtors.sql): a daily build re-reads only the debtors
-- whose payments or documents changed or whose issue or payment dates the day passed.
-- depends_on: {{ ref('stg_billing__invoices') }} {{ ref('stg_billing__payments') }} (read by the hooks)
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
    {{ allocations_as_of('as_of_dates', 'changed' if previous) }}
),

final as (
    select * exclude (as_of) from allocations
)

select * from final
