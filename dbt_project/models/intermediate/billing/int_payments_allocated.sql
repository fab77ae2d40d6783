-- Payments and credit notes allocated to invoices within the cut-off of the run's as_of
-- (macro allocate_payments: invoice id, else reference, else oldest open invoice first;
-- the rest is the debtor's credit balance).
with as_of_dates as (
    select {{ as_of_date() }} as as_of
),

allocations as (
    {{ allocate_payments('as_of_dates') }}
),

final as (
    select * from allocations
)

select * from final
