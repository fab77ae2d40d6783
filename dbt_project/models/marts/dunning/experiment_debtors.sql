-- One row per debtor and currency position in an A/B test of the dunning policy, with its arm
-- (policy.yml experiments; 'control' is the hold-out on the base policy). Every debtor an arm
-- planned an action for counts from its first action, whatever became of it (intention to
-- treat: an arm that makes debtors pay before the message goes out must get the credit). Paid
-- within N days: a payment in the currency on the day of the first action or the N-1 days after;
-- a window counts (observed_Nd) only once it has passed before as_of. Collected and channel cost
-- (of the actions taken, in the position's currency) over the first 30 days; an action whose
-- cost is unknown (no exchange rate in the policy) counts as 0 and is counted apart.
with actions as (
    select * from {{ ref('stg_dunning__actions') }}
    where experiment is not null and planned_on < {{ as_of_date() }}
),

payments as (
    select debtor_id, currency, paid_date, amount from {{ ref('stg_billing__payments') }}
    where paid_date < {{ as_of_date() }}
),

windowed as (
    select
        *,
        min(planned_on) over (partition by experiment, variant, debtor_id, currency) as first_action_on
    from actions
),

per_debtor as (
    select
        experiment,
        variant,
        debtor_id,
        currency,
        first_action_on,
        count(*) as actions,
        count(*) filter (where sent) as actions_taken,
        coalesce(sum(channel_cost) filter (where sent and planned_on < first_action_on + 30), 0)
            as channel_cost_30d,
        count(*) filter (
            where sent and planned_on < first_action_on + 30 and channel_cost is null
        ) as unpriced_actions_30d
    from windowed
    group by all
),

paid as (
    select
        per_debtor.experiment,
        per_debtor.variant,
        per_debtor.debtor_id,
        per_debtor.currency,
        min(payments.paid_date) as first_paid_on,
        sum(payments.amount) as collected_30d
    from per_debtor
    inner join payments
        on per_debtor.debtor_id = payments.debtor_id
        and per_debtor.currency = payments.currency
        and payments.paid_date >= per_debtor.first_action_on
        and payments.paid_date < per_debtor.first_action_on + 30
    group by all
),

final as (
    select
        per_debtor.experiment,
        per_debtor.variant,
        per_debtor.debtor_id,
        per_debtor.currency,
        per_debtor.first_action_on,
        cast(per_debtor.actions as integer) as actions,
        cast(per_debtor.actions_taken as integer) as actions_taken,
        per_debtor.first_action_on + 7 <= {{ as_of_date() }} as observed_7d,
        per_debtor.first_action_on + 14 <= {{ as_of_date() }} as observed_14d,
        per_debtor.first_action_on + 30 <= {{ as_of_date() }} as observed_30d,
        coalesce(paid.first_paid_on < per_debtor.first_action_on + 7, false) as paid_7d,
        coalesce(paid.first_paid_on < per_debtor.first_action_on + 14, false) as paid_14d,
        paid.first_paid_on is not null as paid_30d,
        cast(coalesce(paid.collected_30d, 0) as decimal(18, 2)) as collected_30d,
        cast(per_debtor.channel_cost_30d as decimal(18, 2)) as channel_cost_30d,
        cast(coalesce(paid.collected_30d, 0) - per_debtor.channel_cost_30d as decimal(18, 2))
            as net_30d,
        cast(per_debtor.unpriced_actions_30d as integer) as unpriced_actions_30d,
        {{ as_of_date() }} as as_of
    from per_debtor
    left join paid
        on per_debtor.experiment = paid.experiment
        and per_debtor.variant = paid.variant
        and per_debtor.debtor_id = paid.debtor_id
        and per_debtor.currency = paid.currency
)

select * from final
