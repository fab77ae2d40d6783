-- Each payment received before as_of with how it was allocated (int_payments_allocated): to
-- invoices (by invoice_id, reference or oldest first) and what stayed as the debtor's credit.
-- Incremental per debtor like the allocation it reads; marts.fct_payments adds as_of.
-- depends_on: {{ ref('stg_billing__invoices') }} (read by the hooks)
{{ config(moves_with_due_dates=false) }}
{%- set previous = previous_build() %}
{%- set changed = changed_debtors_only(previous) %}

with payments as (
    select * from (select * from {{ ref('stg_billing__payments') }} {{ changed }})
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
    from (select * from {{ ref('int_payments_allocated') }} {{ changed }})
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
        allocations.allocation_method
    from payments
    left join allocations on payments.payment_id = allocations.payment_id
)

select * from final
