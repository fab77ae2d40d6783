{#-
    Allocation of payments and credit notes to invoices, recomputed from scratch within the
    cut-off of every date in `dates_relation` (a relation or CTE with a DATE column `as_of`):
    only invoices issued and payments received before the date take part, so a payment that
    arrives later can never change an allocation as of an earlier date (point-in-time safe by
    construction). Within one cut-off, a later payment naming an invoice takes that invoice
    first, so money that an earlier cut-off allocated to it oldest first moves to other
    invoices or to credit: the paid dates of older invoices can change with the cut-off.

    Rules, in order, per debtor:
    1. A payment naming an invoice of the same debtor (invoice_id, else a reference equal to an
       invoice id) pays that invoice, in payment-time order, up to its amount.
    2. What is left - unnamed payments, the excess of named ones and every credit note (a credit
       note is money the debtor is credited with on its issue date) - goes to the open invoices
       oldest due date first, in time order (interval overlap of two running totals).
    3. What exceeds every open invoice is a credit row (invoice_id null): the debtor's credit
       balance, which invoices issued later consume first.

    With `debtors_relation` (as_of, debtor_id) only those debtors are allocated at each date.
    One row per (as_of, source, payment_id, invoice_id) share; applied_date is the day the share
    took effect: the later of the payment date and the invoice's issue date (a credit applied to
    an invoice issued after the payment counts from the issue date).
-#}
{% macro allocate_payments(dates_relation, debtors_relation=none) %}
with alloc_dates as (
    select distinct cast(as_of as date) as as_of from {{ dates_relation }}
),

alloc_invoices as (
    select alloc_dates.as_of, documents.*
    from {{ scoped_dates('alloc_dates', debtors_relation) }} as alloc_dates
    inner join {{ ref('stg_billing__invoices') }} as documents
        on documents.issue_date < alloc_dates.as_of
        and documents.document_type = 'invoice'
        {{- in_scope(debtors_relation, 'alloc_dates', 'documents') }}
),

alloc_credits as (
    -- the money side: payments, and credit notes as of their issue date
    select
        alloc_dates.as_of,
        'payment' as source,
        payments.payment_id,
        payments.debtor_id,
        payments.invoice_id as named_invoice_id,
        payments.reference,
        payments.paid_at,
        payments.amount
    from {{ scoped_dates('alloc_dates', debtors_relation) }} as alloc_dates
    inner join {{ ref('stg_billing__payments') }} as payments
        on cast(payments.paid_at as date) < alloc_dates.as_of
        {{- in_scope(debtors_relation, 'alloc_dates', 'payments') }}
    union all
    select
        alloc_dates.as_of,
        'credit_note',
        notes.invoice_id,
        notes.debtor_id,
        null,
        null,
        cast(notes.issue_date as timestamp),
        notes.amount
    from {{ scoped_dates('alloc_dates', debtors_relation) }} as alloc_dates
    inner join {{ ref('stg_billing__invoices') }} as notes
        on notes.issue_date < alloc_dates.as_of
        and notes.document_type = 'credit_note'
        {{- in_scope(debtors_relation, 'alloc_dates', 'notes') }}
),

alloc_matched as (
    select
        alloc_credits.*,
        coalesce(named.invoice_id, referenced.invoice_id) as matched_invoice_id,
        case when named.invoice_id is not null then 'invoice_id' else 'reference' end
            as allocation_method
    from alloc_credits
    left join alloc_invoices as named
        on alloc_credits.as_of = named.as_of
        and alloc_credits.named_invoice_id = named.invoice_id
        and alloc_credits.debtor_id = named.debtor_id
    left join alloc_invoices as referenced
        on alloc_credits.as_of = referenced.as_of
        and alloc_credits.reference = referenced.invoice_id
        and alloc_credits.debtor_id = referenced.debtor_id
),

alloc_direct as (
    select
        alloc_matched.as_of,
        alloc_matched.source,
        alloc_matched.payment_id,
        alloc_matched.debtor_id,
        alloc_matched.matched_invoice_id as invoice_id,
        alloc_matched.paid_at,
        alloc_matched.amount,
        alloc_matched.allocation_method,
        least(
            alloc_matched.amount,
            greatest(
                alloc_invoices.amount - coalesce(sum(alloc_matched.amount) over (
                    partition by alloc_matched.as_of, alloc_matched.matched_invoice_id
                    order by alloc_matched.paid_at, alloc_matched.payment_id
                    rows between unbounded preceding and 1 preceding
                ), 0),
                0
            )
        ) as allocated_amount
    from alloc_matched
    inner join alloc_invoices
        on alloc_matched.as_of = alloc_invoices.as_of
        and alloc_matched.matched_invoice_id = alloc_invoices.invoice_id
),

alloc_remaining as (
    select
        alloc_invoices.as_of,
        alloc_invoices.invoice_id,
        alloc_invoices.debtor_id,
        alloc_invoices.due_date,
        alloc_invoices.issue_date,
        alloc_invoices.amount - coalesce(direct_totals.allocated_amount, 0) as remaining
    from alloc_invoices
    left join (
        select as_of, invoice_id, sum(allocated_amount) as allocated_amount
        from alloc_direct
        group by all
    ) as direct_totals
        on alloc_invoices.as_of = direct_totals.as_of
        and alloc_invoices.invoice_id = direct_totals.invoice_id
),

alloc_debt_axis as (
    select
        *,
        sum(remaining) over (
            partition by as_of, debtor_id order by due_date, issue_date, invoice_id
            rows unbounded preceding
        ) as debt_end
    from alloc_remaining
    where remaining > 0
),

alloc_unmatched as (
    select as_of, source, payment_id, debtor_id, paid_at, amount
    from alloc_matched
    where matched_invoice_id is null
    union all
    select as_of, source, payment_id, debtor_id, paid_at, amount - allocated_amount
    from alloc_direct
    where amount > allocated_amount
),

alloc_payment_axis as (
    select
        *,
        sum(amount) over (
            partition by as_of, debtor_id order by paid_at, source desc, payment_id
            rows unbounded preceding
        ) as pay_end
    from alloc_unmatched
),

alloc_oldest_first as (
    select
        pay.as_of,
        pay.source,
        pay.payment_id,
        pay.debtor_id,
        debt.invoice_id,
        pay.paid_at,
        least(debt.debt_end, pay.pay_end)
        - greatest(debt.debt_end - debt.remaining, pay.pay_end - pay.amount) as allocated_amount,
        'oldest_first' as allocation_method
    from alloc_payment_axis as pay
    inner join alloc_debt_axis as debt
        on pay.as_of = debt.as_of
        and pay.debtor_id = debt.debtor_id
        and debt.debt_end - debt.remaining < pay.pay_end
        and debt.debt_end > pay.pay_end - pay.amount
),

alloc_credit as (
    select
        pay.as_of,
        pay.source,
        pay.payment_id,
        pay.debtor_id,
        null as invoice_id,
        pay.paid_at,
        pay.pay_end - greatest(pay.pay_end - pay.amount, coalesce(debts.total, 0))
            as allocated_amount,
        'credit' as allocation_method
    from alloc_payment_axis as pay
    left join (
        select as_of, debtor_id, sum(remaining) as total from alloc_debt_axis group by all
    ) as debts
        on pay.as_of = debts.as_of and pay.debtor_id = debts.debtor_id
    where pay.pay_end > coalesce(debts.total, 0)
),

alloc_shares as (
    select as_of, source, payment_id, debtor_id, invoice_id, paid_at, allocated_amount,
        allocation_method
    from alloc_direct
    union all
    select * from alloc_oldest_first
    union all
    select * from alloc_credit
),

alloc_final as (
    select
        shares.as_of,
        shares.source,
        shares.payment_id,
        shares.debtor_id,
        cast(shares.invoice_id as varchar) as invoice_id,
        {{ to_money('shares.allocated_amount') }} as allocated_amount,
        shares.paid_at,
        cast(shares.paid_at as date) as paid_date,
        greatest(cast(shares.paid_at as date), coalesce(invoices.issue_date, date '0001-01-01'))
            as applied_date,
        invoices.due_date as invoice_due_date,
        invoices.currency as invoice_currency,
        shares.allocation_method,
        row_number() over (
            partition by shares.as_of, shares.source, shares.payment_id
            order by shares.invoice_id nulls last
        ) as share_number
    from alloc_shares as shares
    left join alloc_invoices as invoices
        on shares.as_of = invoices.as_of and shares.invoice_id = invoices.invoice_id
    where shares.allocated_amount > 0
)

select * from alloc_final
{% endmacro %}
