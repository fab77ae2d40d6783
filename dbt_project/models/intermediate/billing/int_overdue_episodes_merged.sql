-- Overdue episodes per debtor: an invoice is overdue on the as-of days after its due date up
-- to and including its paid date; overlapping or adjacent overdue spans merge into one episode.
with invoices as (
    select * from {{ ref('int_invoices_settled') }}
    where document_type = 'invoice'
        and (paid_date is null or paid_date > due_date)
),

spans as (
    select
        debtor_id,
        invoice_id,
        due_date + 1 as overdue_from,
        coalesce(paid_date, date '9999-12-31') as overdue_to
    from invoices
),

flagged as (
    select
        *,
        coalesce(
            overdue_from > max(overdue_to) over (
                partition by debtor_id order by overdue_from, overdue_to, invoice_id
                rows between unbounded preceding and 1 preceding
            ) + 1,
            true
        ) as starts_episode
    from spans
),

numbered as (
    select
        *,
        sum(cast(starts_episode as integer)) over (
            partition by debtor_id order by overdue_from, overdue_to, invoice_id
            rows unbounded preceding
        ) as episode_number
    from flagged
),

final as (
    select
        debtor_id,
        episode_number,
        min(overdue_from) as episode_start,
        nullif(max(overdue_to), date '9999-12-31') as episode_end,
        count(*) as n_invoices
    from numbered
    group by debtor_id, episode_number
)

select * from final
