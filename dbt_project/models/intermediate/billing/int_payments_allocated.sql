-- Allocates every payment to invoices: to the invoice it names (invoice_id), else to the
-- invoice its reference names (same debtor), else oldest open invoice first by due date.
-- A direct payment larger than what its invoice still owes spills into oldest-first; whatever
-- exceeds all open invoices stays a credit row with a null invoice_id. Oldest-first works on
-- whole-history running totals: the interval each payment covers on the debtor's payment axis
-- overlaps the intervals its invoices cover on the debt axis.
with payments as (
    select * from {{ ref('stg_billing__payments') }}
),

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
    where document_type = 'invoice'
),

matched as (
    select
        payments.*,
        coalesce(named.invoice_id, referenced.invoice_id) as matched_invoice_id,
        case
            when named.invoice_id is not null then 'invoice_id' else 'reference'
        end as allocation_method
    from payments
    left join invoices as named
        on payments.invoice_id = named.invoice_id
    left join invoices as referenced
        on payments.reference = referenced.invoice_id
        and payments.debtor_id = referenced.debtor_id
),

direct as (
    select
        matched.payment_id,
        matched.debtor_id,
        matched.matched_invoice_id as invoice_id,
        matched.paid_at,
        matched.amount,
        matched.allocation_method,
        least(
            matched.amount,
            greatest(
                invoices.amount - coalesce(sum(matched.amount) over (
                    partition by matched.matched_invoice_id order by matched.paid_at, matched.payment_id
                    rows between unbounded preceding and 1 preceding
                ), 0),
                0
            )
        ) as allocated_amount
    from matched
    inner join invoices on matched.matched_invoice_id = invoices.invoice_id
),

direct_totals as (
    select invoice_id, sum(allocated_amount) as allocated_amount
    from direct
    group by invoice_id
),

invoice_remaining as (
    select
        invoices.invoice_id,
        invoices.debtor_id,
        invoices.due_date,
        invoices.issue_date,
        invoices.amount - coalesce(direct_totals.allocated_amount, 0) as remaining
    from invoices
    left join direct_totals on invoices.invoice_id = direct_totals.invoice_id
),

debt_axis as (
    select
        *,
        sum(remaining) over (
            partition by debtor_id order by due_date, issue_date, invoice_id
            rows unbounded preceding
        ) as debt_end
    from invoice_remaining
    where remaining > 0
),

unmatched as (
    select payment_id, debtor_id, paid_at, amount
    from matched
    where matched_invoice_id is null
    union all
    select payment_id, debtor_id, paid_at, amount - allocated_amount
    from direct
    where amount > allocated_amount
),

payment_axis as (
    select
        *,
        sum(amount) over (
            partition by debtor_id order by paid_at, payment_id rows unbounded preceding
        ) as pay_end
    from unmatched
),

oldest_first as (
    select
        payment_axis.payment_id,
        payment_axis.debtor_id,
        debt_axis.invoice_id,
        payment_axis.paid_at,
        least(debt_axis.debt_end, payment_axis.pay_end)
        - greatest(debt_axis.debt_end - debt_axis.remaining, payment_axis.pay_end - payment_axis.amount)
            as allocated_amount,
        'oldest_first' as allocation_method
    from payment_axis
    inner join debt_axis
        on payment_axis.debtor_id = debt_axis.debtor_id
        and debt_axis.debt_end - debt_axis.remaining < payment_axis.pay_end
        and debt_axis.debt_end > payment_axis.pay_end - payment_axis.amount
),

credit as (
    select
        payment_axis.payment_id,
        payment_axis.debtor_id,
        null as invoice_id,
        payment_axis.paid_at,
        payment_axis.pay_end
        - greatest(payment_axis.pay_end - payment_axis.amount, coalesce(debts.total, 0))
            as allocated_amount,
        'credit' as allocation_method
    from payment_axis
    left join (
        select debtor_id, sum(remaining) as total from debt_axis group by debtor_id
    ) as debts on payment_axis.debtor_id = debts.debtor_id
    where payment_axis.pay_end > coalesce(debts.total, 0)
),

allocations as (
    select payment_id, debtor_id, invoice_id, paid_at, allocated_amount, allocation_method
    from direct
    union all
    select * from oldest_first
    union all
    select * from credit
),

final as (
    select
        payment_id,
        debtor_id,
        cast(invoice_id as varchar) as invoice_id,
        {{ to_money('allocated_amount') }} as allocated_amount,
        paid_at,
        cast(paid_at as date) as paid_date,
        allocation_method,
        row_number() over (partition by payment_id order by invoice_id nulls last) as share_number
    from allocations
    where allocated_amount > 0
)

select * from final
