-- Asserts, per debtor at as_of, straight from staging (not through the allocation):
-- 1. open balance (int_invoices_settled, what fct_invoices shows) = invoiced - credited -
--    allocated payments, where credited and allocated are the shares it and fct_payments report;
-- 2. open_balance - credit_balance (debtor_features) = invoiced - all credit notes - all
--    payments: nothing is lost or created by allocation; over-payments are credit.
-- Returns the debtors where either fails.
with documents as (
    select
        debtor_id,
        sum(amount) filter (where document_type = 'invoice') as invoiced,
        sum(amount) filter (where document_type = 'credit_note') as credit_notes
    from {{ ref('stg_billing__invoices') }}
    where issue_date < {{ as_of_date() }}
    group by debtor_id
),

payments as (
    select debtor_id, sum(amount) as paid
    from {{ ref('stg_billing__payments') }}
    where paid_date < {{ as_of_date() }}
    group by debtor_id
),

invoice_state as (
    select
        debtor_id,
        sum(open_amount) as open_amount,
        sum(credited_amount) as credited,
        sum(paid_amount) as allocated_paid
    from {{ ref('int_invoices_settled') }}
    where document_type = 'invoice'
    group by debtor_id
),

payment_state as (
    select debtor_id, sum(allocated_amount) as allocated_paid
    from {{ ref('fct_payments') }}
    group by debtor_id
),

features as (
    select debtor_id, open_balance, credit_balance from {{ ref('debtor_features') }}
),

compared as (
    select
        coalesce(documents.debtor_id, payments.debtor_id) as debtor_id,
        coalesce(documents.invoiced, 0) as invoiced,
        coalesce(documents.credit_notes, 0) as credit_notes,
        coalesce(payments.paid, 0) as paid,
        coalesce(invoice_state.open_amount, 0) as open_amount,
        coalesce(invoice_state.credited, 0) as credited,
        coalesce(invoice_state.allocated_paid, 0) as allocated_paid,
        coalesce(payment_state.allocated_paid, 0) as payments_allocated,
        coalesce(features.open_balance, 0) as open_balance,
        coalesce(features.credit_balance, 0) as credit_balance
    from documents
    full outer join payments on documents.debtor_id = payments.debtor_id
    left join invoice_state
        on invoice_state.debtor_id = coalesce(documents.debtor_id, payments.debtor_id)
    left join payment_state
        on payment_state.debtor_id = coalesce(documents.debtor_id, payments.debtor_id)
    left join features on features.debtor_id = coalesce(documents.debtor_id, payments.debtor_id)
)

select *
from compared
where open_amount <> invoiced - credited - allocated_paid
    or allocated_paid <> payments_allocated
    or open_balance <> open_amount
    or open_balance - credit_balance <> invoiced - credit_notes - paid
