-- One row per payment received before as_of, with how it was allocated: to invoices (by
-- invoice_id, reference or oldest first) and what stayed unallocated as the debtor's credit.
with payments as (
    select * from {{ ref('stg_billing__payments') }}
    where paid_date < {{ as_of_date() }}
),

allocations as (
    select
        payment_id,
        coalesce(sum(allocated_amount) filter (where invoice_id is not null), 0)
            as allocated_amount,
        coalesce(sum(allocated_amount) filter (where invoice_id is null), 0) as unallocated_amount,
        count(invoice_id) as n_invoices,
        arg_min(allocation_method, share_number) as allocation_method
    from {{ ref('int_payments_allocated') }}
    where source = 'payment'
    group by payment_id
),

final as (
    select
        payments.payment_id,
        payments.debtor_id,
        payments.paid_at,
        payments.paid_date,
        payments.amount,
        payments.currency,
        payments.method,
        {{ to_money('coalesce(allocations.allocated_amount, 0)') }} as allocated_amount,
        {{ to_money('coalesce(allocations.unallocated_amount, 0)') }} as unallocated_amount,
        cast(coalesce(allocations.n_invoices, 0) as integer) as n_invoices,
        allocations.allocation_method,
        {{ as_of_date() }} as as_of
    from payments
    left join allocations on payments.payment_id = allocations.payment_id
)

select * from final
