{#- debtor_features, part 2: balances at each date (open, overdue, disputed; the oldest overdue invoice
    and days past due), from the settled documents within the date's cut-off. -#}
{% macro feature_balances() %}
open_at as (
    select *, due_date < as_of as is_overdue
    from invoices
    where open_amount > 0
),

balances as (
    select
        as_of,
        debtor_id,
        arg_max(currency, issue_date) as open_currency,
        sum(open_amount) as open_balance,
        coalesce(sum(open_amount) filter (where is_overdue), 0) as overdue_balance,
        count(*) filter (where is_overdue) as n_overdue_invoices,
        coalesce(max(datediff('day', due_date, as_of)) filter (where is_overdue), 0)
            as max_days_past_due,
        arg_min(invoice_id, strftime(due_date, '%Y-%m-%d') || invoice_id)
            filter (where is_overdue) as oldest_overdue_invoice_id,
        min(due_date) filter (where is_overdue) as oldest_overdue_due_date,
        coalesce(sum(open_amount) filter (where dispute_date < as_of), 0)
            as disputed_open_amount
    from open_at
    group by 1, 2
)
{%- endmacro %}
