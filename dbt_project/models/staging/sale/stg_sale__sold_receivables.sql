-- Receivables sold to a debt buyer, with the day of the sale: from that day they belong to the
-- buyer (fct_invoices status 'sold') and their debtor is never dunned again.
with sold as (
    select * from {{ source('sale', 'sold_receivables') }}
),

final as (
    select invoice_id, debtor_id, tape_id, pool, buyer, sold_on
    from sold
)

select * from final
