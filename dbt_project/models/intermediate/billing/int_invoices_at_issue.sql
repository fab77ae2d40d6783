-- Each invoice issued before as_of with what was known about its debtor at the start of its
-- issue date (only events dated before it): punctuality on earlier invoices, overdue state, past
-- episodes, direct debit, bureau and customer data, and the book-wide lateness before it
-- (int_book_lateness, fixed once computed). A row never changes unless a batch restates
-- something dated before its issue date: the ledger never moves money once applied
-- (flows/build/ledger.py). So it is incremental per debtor with point_in_time_rows
-- (incremental_debtors.sql): a day recomputes the debtors with a new invoice or a back-dated
-- row, not everyone who paid or fell due.
-- marts.invoice_late_snapshots adds the window, paid_date and the labels.
-- depends_on: {{ ref('stg_billing__invoices') }} (read by the hooks)
{{ config(
    debtor_sources=['invoices', 'payments', 'customers', 'credit_reports'],
    point_in_time_rows=true,
) }}
{%- set previous = previous_build() %}
{%- set changed = changed_debtors_only(previous) %}

with invoices as (
    select * from (select * from {{ ref('int_invoices_settled') }} {{ changed }})
    where document_type = 'invoice'
),

book as (
    select day, book_late_rate_30d from {{ ref('int_book_lateness') }}
    where day < {{ as_of_date() }}
),

due_axis as (
    -- per due date: invoices falling due and how many of them were not paid by then
    select
        debtor_id,
        due_date,
        -- lateness the book's rate at the time would have predicted
        sum(sum(book.book_late_rate_30d)) over w as expected_late,
        sum(count(*)) over w as n_due,
        sum(count(*) filter (where paid_date is null or paid_date > due_date)) over w as n_late,
        sum(count(*) filter (where paid_date is null or paid_date > due_date)) over (
            partition by debtor_id order by due_date rows between 2 preceding and current row
        ) as n_late_last3,
        sum(count(*) filter (where paid_date is null or paid_date > due_date)) over (
            partition by debtor_id order by due_date rows between 11 preceding and current row
        ) as n_late_last12,
        sum(count(*)) over (
            partition by debtor_id order by due_date rows between 11 preceding and current row
        ) as n_due_last12,
        max(case when count(*) filter (where paid_date is null or paid_date > due_date) > 0
            then due_date end) over w as last_late_due_date
    from invoices
    left join book on book.day = invoices.due_date
    group by debtor_id, due_date
    window w as (partition by debtor_id order by due_date rows unbounded preceding)
),

paid_axis as (
    select
        debtor_id,
        paid_date,
        sum(count(*)) over w as n_paid,
        sum(sum(greatest(datediff('day', due_date, paid_date), 0))) over w as days_late_total,
        sum(sum(datediff('day', issue_date, paid_date))) over w as days_to_pay_total,
        sum(count(*) filter (where paid_date > due_date)) over w as n_paid_late,
        max(max(greatest(datediff('day', due_date, paid_date), 0))) over w as max_days_late
    from invoices
    where paid_date is not null
    group by debtor_id, paid_date
    window w as (partition by debtor_id order by paid_date rows unbounded preceding)
),

resolved_axis as (
    -- invoices both due and paid: n_due minus this is what was overdue at a date
    select debtor_id, greatest(due_date, paid_date) as resolved_date,
        sum(count(*)) over (
            partition by debtor_id order by greatest(due_date, paid_date) rows unbounded preceding
        ) as n_resolved
    from invoices
    where paid_date is not null
    group by debtor_id, greatest(due_date, paid_date)
),

payment_axis as (
    select
        debtor_id,
        paid_date,
        sum(count(*)) over w as n_payments,
        sum(count(*) filter (where method = 'direct_debit')) over w as n_direct_debit
    from {{ ref('stg_billing__payments') }}
    {{ changed }}
    group by debtor_id, paid_date
    window w as (partition by debtor_id order by paid_date rows unbounded preceding)
),

episode_axis as (
    select
        debtor_id,
        episode_end,
        sum(count(*)) over w as n_closed_episodes,
        sum(sum(datediff('day', episode_start, episode_end) + 1)) over w as closed_episode_days
    from (select * from {{ ref('int_overdue_episodes_merged') }} {{ changed }})
    where episode_end is not null
    group by debtor_id, episode_end
    window w as (partition by debtor_id order by episode_end rows unbounded preceding)
),

axes as (
    -- everything known about the debtor at the start of each issue date, one row per
    -- (debtor, issue date): the ASOF joins sort only these narrow rows, not the invoices
    select
        keys.debtor_id,
        keys.issue_date,
        customer.debtor_type,
        customer.country,
        customer.acquisition_channel,
        customer.paperless,
        customer.has_email,
        customer.has_mobile,
        customer.customer_since,
        report.bureau_score,
        report.registered_debts,
        coalesce(due.expected_late, 0) as expected_late,
        coalesce(due.n_due, 0) as n_due,
        coalesce(due.n_late, 0) as n_late,
        coalesce(due.n_late_last3, 0) as n_late_last3,
        coalesce(due.n_late_last12, 0) as n_late_last12,
        coalesce(due.n_due_last12, 0) as n_due_last12,
        due.last_late_due_date,
        coalesce(paid.n_paid, 0) as n_paid,
        paid.days_late_total,
        paid.days_to_pay_total,
        coalesce(paid.n_paid_late, 0) as n_paid_late,
        paid.max_days_late,
        coalesce(resolved.n_resolved, 0) as n_resolved,
        coalesce(payment.n_payments, 0) as n_payments,
        coalesce(payment.n_direct_debit, 0) as n_direct_debit,
        coalesce(episode.n_closed_episodes, 0) as n_closed_episodes,
        episode.closed_episode_days
    from (select distinct debtor_id, issue_date from invoices) as keys
    asof left join due_axis as due
        on keys.debtor_id = due.debtor_id and keys.issue_date > due.due_date
    asof left join paid_axis as paid
        on keys.debtor_id = paid.debtor_id and keys.issue_date > paid.paid_date
    asof left join resolved_axis as resolved
        on keys.debtor_id = resolved.debtor_id and keys.issue_date > resolved.resolved_date
    asof left join payment_axis as payment
        on keys.debtor_id = payment.debtor_id and keys.issue_date > payment.paid_date
    asof left join episode_axis as episode
        on keys.debtor_id = episode.debtor_id and keys.issue_date > episode.episode_end
    asof left join (
        select * from {{ ref('stg_billing__customer_versions') }} {{ changed }}
    ) as customer
        on keys.debtor_id = customer.debtor_id
        and cast(keys.issue_date as timestamp) > customer.valid_from
    asof left join (
        select * from {{ ref('stg_billing__credit_reports') }} {{ changed }}
    ) as report
        on keys.debtor_id = report.debtor_id
        and cast(keys.issue_date as timestamp) > report.reported_at
),

at_issue as (
    select
        inv.invoice_id,
        inv.due_date,
        inv.amount,
        inv.currency,
        inv.product,
        book_before.book_late_rate_30d,
        axes.*
    from invoices as inv
    inner join axes on inv.debtor_id = axes.debtor_id and inv.issue_date = axes.issue_date
    left join book as book_before on book_before.day = inv.issue_date - 1
),

final as (
    select
        invoice_id,
        debtor_id,
        issue_date,
        due_date,
        currency,
        cast(amount as double) as amount,
        cast(datediff('day', issue_date, due_date) as integer) as payment_terms_days,
        product,
        debtor_type,
        country,
        acquisition_channel,
        paperless,
        has_email,
        has_mobile,
        cast(datediff('day', customer_since, issue_date) as integer) as tenure_days,
        bureau_score,
        registered_debts,
        -- counts over the last 12 due dates: a cumulative count would only grow with the
        -- length of the extract and drift between training and scoring
        cast(n_due_last12 as integer) as n_recent_invoices_due,
        cast(n_late_last12 as integer) as n_recent_invoices_late,
        cast(n_late_last12 as double) / nullif(n_due_last12, 0) as share_recent_late,
        -- shrunk towards the book's usual lateness when a debtor has few invoices
        cast((n_late + 0.5) / (n_due + 2.0) as double) as late_rate_smoothed,
        cast(n_late_last3 as integer) as n_late_last3,
        book_late_rate_30d,
        -- the debtor's lateness against what the book's lateness at the time predicted
        cast(n_late - expected_late as double) as excess_late,
        cast((n_late + 0.5) / (expected_late + 0.5) as double) as late_vs_book,
        cast(datediff('day', last_late_due_date, issue_date) as integer)
            as days_since_last_late,
        cast(days_late_total as double) / nullif(n_paid, 0) as avg_days_late,
        cast(days_to_pay_total as double) / nullif(n_paid, 0) as avg_days_to_pay,
        -- how late when late: forgetting (days) differs from not paying (months)
        cast(days_late_total as double) / nullif(n_paid_late, 0) as avg_days_late_when_late,
        cast(max_days_late as integer) as max_days_late,
        cast(n_due - n_resolved as integer) as n_overdue_at_issue,
        cast(n_direct_debit as double) / nullif(n_payments, 0) as direct_debit_share,
        n_direct_debit > 0 as has_direct_debit,
        cast(n_closed_episodes as integer) as n_closed_episodes,
        cast(closed_episode_days as double) / nullif(n_closed_episodes, 0) as avg_episode_days
    from at_issue
)

select * from final
