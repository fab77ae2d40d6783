{#-
    Overdue episodes per debtor and date from `settled_relation` (settle_invoices output): an
    invoice is overdue on the as-of days after its due date up to and including its paid date;
    overlapping or adjacent spans merge. Only spans begun by the date count, and a span still
    open at the date has a null end, so an episode never depends on later events.
-#}
{% macro overdue_episodes(settled_relation) %}
with episode_spans as (
    select
        as_of,
        debtor_id,
        invoice_id,
        due_date + 1 as overdue_from,
        coalesce(paid_date, date '9999-12-31') as overdue_to
    from {{ settled_relation }}
    where document_type = 'invoice'
        and due_date < as_of
        and (paid_date is null or paid_date > due_date)
),

episode_flagged as (
    select
        *,
        coalesce(
            overdue_from > max(overdue_to) over (
                partition by as_of, debtor_id order by overdue_from, overdue_to, invoice_id
                rows between unbounded preceding and 1 preceding
            ) + 1,
            true
        ) as starts_episode
    from episode_spans
),

episode_numbered as (
    select
        *,
        sum(cast(starts_episode as integer)) over (
            partition by as_of, debtor_id order by overdue_from, overdue_to, invoice_id
            rows unbounded preceding
        ) as episode_number
    from episode_flagged
),

episode_final as (
    select
        as_of,
        debtor_id,
        episode_number,
        min(overdue_from) as episode_start,
        nullif(max(overdue_to), date '9999-12-31') as episode_end,
        count(*) as n_invoices
    from episode_numbered
    group by all
)

select * from episode_final
{% endmacro %}
