-- One row per invoice issued in the `snapshot_months` months before as_of (month starts), with
-- what was known about its debtor at the start of its issue date (int_invoices_at_issue) and
-- label_paid_late (not fully paid by the end of its due date), null until the due date has
-- passed. The late-payment model trains on the labelled rows and scores the open, not yet due
-- ones. A view: only the window, the payment and the as_of columns move from day to day.
{{ config(materialized='view') }}

with at_issue as (
    select features.*, settled.paid_date
    from {{ ref('int_invoices_at_issue') }} as features
    inner join {{ ref('int_invoices_settled') }} as settled
        on features.invoice_id = settled.invoice_id
    where features.issue_date < {{ as_of_date() }}
        and features.issue_date >= {{ snapshot_window_start() }}
),

final as (
    select
        invoice_id,
        debtor_id,
        {{ as_of_date() }} as as_of,
        issue_date,
        due_date,
        cast(date_trunc('month', issue_date) as date) as issue_month,
        currency,
        coalesce(paid_date is null or paid_date >= {{ as_of_date() }}, true) as open_at_as_of,
        * exclude (
            invoice_id, debtor_id, issue_date, due_date, currency, paid_date
        ),
        case
            when due_date < {{ as_of_date() }}
                then cast(coalesce(paid_date > due_date, true) as integer)
        end as label_paid_late
    from at_issue
)

select * from final
