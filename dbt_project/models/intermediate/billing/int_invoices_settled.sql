-- Each invoice and credit note issued before as_of with what was paid, credited and is open,
-- and the day it was settled (macro settle_invoices over int_payments_allocated).
with as_of_dates as (
    select {{ as_of_date() }} as as_of
),

settled as (
    {{ settle_invoices('as_of_dates', ref('int_payments_allocated')) }}
),

final as (
    select * from settled
)

select * from final
