-- One row per invoice or credit note issued before as_of, with its state at as_of: what
-- payments and credit notes dated before as_of settled (int_invoices_settled), what is open,
-- how late it is, and its collection status ('sold': the buyer's to collect, not the seller's).
-- A view: the settlement is kept per debtor in int_invoices_settled, and what moves with as_of
-- (days past due, status, lateness) is computed when read, cheaper than writing 24M rows daily.
-- A full read pays the status joins (about 2 s at 1M debtors), so models that need no status
-- read int_invoices_settled. Each join below matches at most one row (the handovers are grouped
-- by their join keys): the grain is int_invoices_settled's, which carries the key tests.
{{ config(materialized='view') }}

with invoices as (
    select * from {{ at_as_of(ref('int_invoices_settled')) }}
),

plans_at as (
    -- debtors whose newest plan version before as_of is active
    select debtor_id
    from {{ ref('stg_billing__payment_plan_versions') }}
    where cast(updated_at as date) < {{ as_of_date() }}
    qualify row_number() over (partition by plan_id order by updated_at desc) = 1
        and status = 'active'
),

agency_handovers as (
    -- invoices handed to a collection agency: an 'agency' step sent for the invoice, or for
    -- the debtor without an invoice id (then every invoice overdue at that moment)
    select debtor_id, invoice_id, min(occurred_date) as handed_over_date
    from {{ ref('stg_billing__contact_events') }}
    where step = 'agency'
        and event_type = 'sent'
        and occurred_date < {{ as_of_date() }}
    group by all
),

sold as (
    -- a receivable is the buyer's from the day of its sale on
    select invoice_id
    from {{ ref('stg_sale__sold_receivables') }}
    where sold_on <= {{ as_of_date() }}
),

state as (
    select
        invoices.*,
        invoices.invoice_id in (select invoice_id from sold) as is_sold,
        coalesce(invoices.dispute_date < invoices.as_of, false) as is_disputed,
        invoices.debtor_id in (select debtor_id from plans_at) as is_in_plan,
        by_invoice.invoice_id is not null
            or coalesce(by_debtor.handed_over_date > invoices.due_date, false) as is_with_agency
    from invoices
    -- two equi-joins (one handover row per debtor and invoice, or per debtor without one), not
    -- an OR inside a correlated EXISTS
    left join agency_handovers as by_invoice
        on by_invoice.debtor_id = invoices.debtor_id
        and by_invoice.invoice_id = invoices.invoice_id
    left join agency_handovers as by_debtor
        on by_debtor.debtor_id = invoices.debtor_id
        and by_debtor.invoice_id is null
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
        paid_amount,
        credited_amount,
        allocated_amount,
        open_amount,
        cast(
            case when open_amount > 0 and due_date < as_of then datediff('day', due_date, as_of)
            else 0 end as integer
        ) as days_past_due,
        case
            when document_type = 'credit_note' then 'credit_note'
            when open_amount = 0 then 'paid'
            when is_sold then 'sold'
            when is_disputed then 'disputed'
            when is_in_plan then 'in_plan'
            when is_with_agency then 'with_agency'
            when allocated_amount > 0 then 'partially_paid'
            else 'open'
        end as status,
        paid_date,
        cast(datediff('day', issue_date, paid_date) as integer) as days_to_settle,
        {{ paid_late('as_of') }} as paid_late,
        as_of
    from state
)

select * from final
