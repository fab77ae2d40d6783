-- Results of each A/B test of the dunning policy per arm and currency (amounts are never summed
-- across currencies), from experiment_debtors: pay rates within 7, 14 and 30 days of the first
-- action with Wilson 95% intervals, each over the debtors whose window has passed; collected,
-- channel cost (unknown costs as 0, counted in unpriced_actions_30d) and net over the debtors
-- observed 30 days. `debtflow experiments report NAME`
-- compares each variant with the control.
with debtors as (
    select * from {{ ref('experiment_debtors') }}
),

totals as (
    select
        experiment,
        variant,
        currency,
        cast(count(*) as integer) as debtors,
        cast(sum(actions) as integer) as actions,
        cast(sum(actions_taken) as integer) as actions_taken,
        min(first_action_on) as first_action_on,
        cast(count(*) filter (where observed_7d) as integer) as debtors_7d,
        cast(count(*) filter (where observed_7d and paid_7d) as integer) as paid_7d_debtors,
        cast(count(*) filter (where observed_14d) as integer) as debtors_14d,
        cast(count(*) filter (where observed_14d and paid_14d) as integer) as paid_14d_debtors,
        cast(count(*) filter (where observed_30d) as integer) as debtors_30d,
        cast(count(*) filter (where observed_30d and paid_30d) as integer) as paid_30d_debtors,
        cast(coalesce(sum(collected_30d) filter (where observed_30d), 0) as decimal(18, 2))
            as collected_30d,
        cast(coalesce(sum(channel_cost_30d) filter (where observed_30d), 0) as decimal(18, 2))
            as channel_cost_30d,
        cast(coalesce(sum(net_30d) filter (where observed_30d), 0) as decimal(18, 2)) as net_30d,
        cast(coalesce(sum(unpriced_actions_30d) filter (where observed_30d), 0) as integer)
            as unpriced_actions_30d
    from debtors
    group by all
),

final as (
    select
        *,
        {{ rate_with_interval('pay_rate_7d', 'paid_7d_debtors', 'debtors_7d') }},
        {{ rate_with_interval('pay_rate_14d', 'paid_14d_debtors', 'debtors_14d') }},
        {{ rate_with_interval('pay_rate_30d', 'paid_30d_debtors', 'debtors_30d') }},
        cast(net_30d / nullif(debtors_30d, 0) as decimal(18, 2)) as net_30d_per_debtor,
        {{ as_of_date() }} as as_of
    from totals
)

select * from final
