-- One row per payment plan at as_of: how it stands by its instalments (plan_instalments).
-- cancelled (so says the landing data); completed (every instalment paid, or the landing data
-- says so); broken (an instalment missed - more than var plan_broken_after_days overdue - or
-- the landing data says broken); else kept. A kept plan suppresses the ladder
-- (debtor_suppressions); a broken one lets it resume and is named in dunning_candidates.
{%- set grace = var('plan_broken_after_days') %}

with instalments as (
    select * from {{ ref('plan_instalments') }}
),

plans as (
    select
        as_of,
        plan_id,
        debtor_id,
        currency,
        origin,
        start_date,
        frequency,
        installments,
        total_amount,
        landing_status,
        status_date,
        count(*) filter (where paid_on is not null) as n_paid,
        count(*) filter (where state = 'paid_late') as n_paid_late,
        min(instalment) filter (where paid_on is null) as first_unpaid,
        min(instalment) filter (where state = 'missed') as first_missed,
        min(due_date) filter (where state = 'missed') as first_missed_due
    from instalments
    group by all
),

final as (
    select
        as_of,
        plan_id,
        debtor_id,
        currency,
        origin,
        start_date,
        frequency,
        installments,
        total_amount,
        cast(n_paid as integer) as n_paid,
        cast(n_paid_late as integer) as n_paid_late,
        case
            when landing_status = 'cancelled' then 'cancelled'
            when landing_status = 'completed' or n_paid = installments then 'completed'
            when landing_status = 'broken' or first_missed is not null then 'broken'
            else 'kept'
        end as status,
        cast(first_unpaid as integer) as broken_instalment,
        case
            when landing_status in ('cancelled', 'completed') or n_paid = installments then null
            when landing_status = 'broken' then status_date
            when first_missed is not null then cast(first_missed_due + {{ grace }} + 1 as date)
        end as broken_on
    from plans
)

select
    * replace (
        case when status = 'broken' then broken_instalment end as broken_instalment
    )
from final
