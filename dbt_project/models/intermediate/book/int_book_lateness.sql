-- Book-wide lateness per day: of the invoices due in the 30 days up to and including the day,
-- how many were not paid by their due date (a stress period shows here first). Each day is
-- computed once, by the first build after it, from what was loaded by then, and kept: a later
-- restatement (a dispute that moves a payment's allocation, a back-dated payment) changes a
-- few old invoices, and would otherwise move every day after them and, through the
-- late-payment features that read these rates (int_invoices_at_issue), every debtor. The model
-- sees the book as it looked at the time, in training as in scoring. `--full-refresh` keeps
-- the table (full_refresh=false); drop it to recompute every day from the current data.
{{ config(materialized='incremental', full_refresh=false, on_schema_change='fail') }}

with due as (
    select
        due_date,
        count(*) as n_due,
        count(*) filter (where paid_date is null or paid_date > due_date) as n_late
    from {{ ref('int_invoices_settled') }}
    where document_type = 'invoice' and due_date < {{ as_of_date() }}
    group by due_date
),

days as (
    select cast(range as date) as day
    from range((select min(due_date) from due), {{ as_of_date() }}, interval 1 day)
),

rates as (
    select
        days.day,
        cast(coalesce(sum(due.n_due) over w, 0) as bigint) as n_due_30d,
        cast(coalesce(sum(due.n_late) over w, 0) as bigint) as n_late_30d,
        cast(sum(due.n_late) over w as double) / sum(due.n_due) over w as book_late_rate_30d
    from days
    left join due on due.due_date = days.day
    window w as (order by days.day rows between 29 preceding and current row)
),

final as (
    select * from rates
    {%- if is_incremental() %}
    where day not in (select day from {{ this }})
    {%- endif %}
)

select * from final
