-- Asserts the feature macro and fct_invoices, two SQL paths over the same allocation, agree at
-- as_of: per debtor, overdue_balance equals the open amount of invoices due before as_of.
-- Returns debtors where they differ.
with features as (
    select debtor_id, overdue_balance from {{ ref('debtor_features') }}
),

invoices as (
    select debtor_id, sum(open_amount) as overdue_amount
    from {{ ref('fct_invoices') }}
    where document_type = 'invoice' and due_date < as_of and open_amount > 0
    group by debtor_id
),

final as (
    select
        coalesce(features.debtor_id, invoices.debtor_id) as debtor_id,
        coalesce(features.overdue_balance, 0) as feature_overdue,
        coalesce(invoices.overdue_amount, 0) as invoice_overdue
    from features
    full outer join invoices on features.debtor_id = invoices.debtor_id
    where coalesce(features.overdue_balance, 0) <> coalesce(invoices.overdue_amount, 0)
)

select * from final
