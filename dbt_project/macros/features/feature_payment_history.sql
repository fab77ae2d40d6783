{#- debtor_features, part 3: invoicing and payment history before each date (12-month invoice counts
    and amounts, lateness, credit notes, payments in 90 days, credit balance). -#}
{% macro feature_payment_history() %}
recent_invoices as (
    select
        as_of,
        debtor_id,
        currency,
        issue_date,
        amount,
        issue_date >= as_of - 365 as issued_in_window,
        due_date < as_of and due_date >= as_of - 365 as due_in_window,
        paid_date is null or paid_date > due_date as paid_late,
        paid_date is not null as is_paid,
        greatest(datediff('day', due_date, paid_date), 0) as days_late,
        dispute_date >= as_of - 365 and dispute_date < as_of as disputed_in_window
    from invoices
    where issue_date >= as_of - 365 or due_date >= as_of - 365
),

invoice_history as (
    select
        as_of,
        debtor_id,
        arg_max(currency, issue_date) as currency,
        count(*) filter (where issued_in_window) as n_invoices_12m,
        sum(amount) filter (where issued_in_window) as invoiced_amount_12m,
        avg(amount) filter (where issued_in_window) as avg_invoice_amount_12m,
        count(*) filter (where due_in_window) as n_invoices_due_12m,
        count(*) filter (where due_in_window and paid_late) as n_invoices_paid_late_12m,
        avg(days_late) filter (where due_in_window and is_paid) as avg_days_late_12m,
        max(days_late) filter (where due_in_window and is_paid) as max_days_late_12m,
        count(*) filter (where disputed_in_window) as n_disputes_12m
    from recent_invoices
    group by 1, 2
),

credit_notes as (
    select as_of, debtor_id, sum(amount) as credited_amount_12m
    from documents
    where document_type = 'credit_note' and issue_date >= as_of - 365
    group by 1, 2
),

payment_history as (
    select
        as_of,
        debtor_id,
        count(*) filter (
            where source = 'payment' and share_number = 1 and paid_date >= as_of - 90
        ) as n_payments_90d,
        sum(allocated_amount) filter (
            where source = 'payment' and paid_date >= as_of - 90
        ) as paid_amount_90d,
        sum(allocated_amount) filter (
            where source = 'payment' and paid_date >= as_of - 365
        ) as paid_amount_12m,
        max(paid_date) filter (where source = 'payment') as last_paid_date,
        sum(allocated_amount) filter (where invoice_id is null) as credit_balance
    from shares
    group by 1, 2
)
{%- endmacro %}
