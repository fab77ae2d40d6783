-- Each invoice with its payment timeline: what was allocated to it in total and the date its
-- allocations first covered the amount (paid_date), so any as-of date can tell open from paid.
with invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

allocations as (
    select * from {{ ref('int_payments_allocated') }}
    where invoice_id is not null
),

running as (
    select
        allocations.invoice_id,
        allocations.paid_date,
        allocations.allocated_amount,
        invoices.amount,
        sum(allocations.allocated_amount) over (
            partition by allocations.invoice_id order by allocations.paid_at, allocations.payment_id
            rows unbounded preceding
        ) as allocated_so_far
    from allocations
    inner join invoices on allocations.invoice_id = invoices.invoice_id
),

timeline as (
    select
        invoice_id,
        sum(allocated_amount) as allocated_amount,
        min(paid_date) as first_payment_date,
        min(paid_date) filter (where allocated_so_far >= amount) as paid_date
    from running
    group by invoice_id
),

final as (
    select
        invoices.invoice_id,
        invoices.debtor_id,
        invoices.document_type,
        invoices.issue_date,
        invoices.due_date,
        invoices.amount,
        invoices.currency,
        invoices.product,
        case
            when invoices.disputed
                then cast(coalesce(invoices.dispute_opened_at, invoices.updated_at) as date)
        end as dispute_date,
        {{ to_money('coalesce(timeline.allocated_amount, 0)') }} as allocated_amount,
        timeline.first_payment_date,
        case when invoices.document_type = 'invoice' then timeline.paid_date end as paid_date
    from invoices
    left join timeline on invoices.invoice_id = timeline.invoice_id
)

select * from final
