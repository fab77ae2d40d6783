-- One row per invoice or credit note issued before as_of, with its state at as_of: what had
-- been allocated to it by payments dated before as_of, what is open and how late it is.
with invoices as (
    select * from {{ ref('int_invoices_settled') }}
    where issue_date < {{ as_of_date() }}
),

allocations as (
    select invoice_id, sum(allocated_amount) as allocated_amount
    from {{ ref('int_payments_allocated') }}
    where invoice_id is not null and paid_date < {{ as_of_date() }}
    group by invoice_id
),

state as (
    select
        invoices.*,
        {{ as_of_date() }} as as_of,
        coalesce(allocations.allocated_amount, 0) as allocated_at_as_of,
        coalesce(invoices.dispute_date < {{ as_of_date() }}, false) as is_disputed,
        case when invoices.paid_date < {{ as_of_date() }} then invoices.paid_date end as paid_at_as_of,
        case
            when invoices.document_type = 'credit_note' then 0
            else greatest(invoices.amount - coalesce(allocations.allocated_amount, 0), 0)
        end as open_at_as_of
    from invoices
    left join allocations on invoices.invoice_id = allocations.invoice_id
),

final as (
    select
        invoice_id,
        debtor_id,
        document_type,
        issue_date,
        due_date,
        amount,
        currency,
        is_disputed as disputed,
        {{ to_money('allocated_at_as_of') }} as allocated_amount,
        {{ to_money('open_at_as_of') }} as open_amount,
        cast(
            case when open_at_as_of > 0 and due_date < as_of then datediff('day', due_date, as_of)
            else 0 end as integer
        ) as days_past_due,
        case
            when document_type = 'credit_note' then 'credit_note'
            when open_at_as_of = 0 then 'paid'
            when is_disputed then 'disputed'
            when allocated_at_as_of > 0 then 'partially_paid'
            else 'open'
        end as status,
        paid_at_as_of as paid_date,
        case
            when document_type = 'credit_note' then null
            when paid_at_as_of is not null then paid_at_as_of > due_date
            when due_date < as_of then true
        end as paid_late,
        as_of
    from state
)

select * from final
