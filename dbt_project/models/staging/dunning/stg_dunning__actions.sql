-- debtflow's own dunning actions, with the A/B arm each was planned under. 'sending' counts as
-- taken, as the planner counts it (a crash left the message in flight; the next run sends it).
with ledger as (
    select * from {{ source('dunning', 'ledger') }}
),

final as (
    select
        idempotency_key,
        as_of as planned_on,
        debtor_id,
        currency,
        step,
        channel,
        state,
        state in ('sending', 'sent', 'recalled') as sent,
        experiment,
        variant,
        channel_cost
    from ledger
)

select * from final
