-- Contact outcomes per channel, dunning step and experiment variant, from events before
-- as_of; "paid within N days" counts contacted debtors with a payment in the N days after the
-- contact was sent (recent contacts have had less time to pay).
with events as (
    select * from {{ ref('stg_billing__contact_events') }}
    where occurred_date < {{ as_of_date() }}
),

payments as (
    select debtor_id, paid_at from {{ ref('stg_billing__payments') }}
    where paid_date < {{ as_of_date() }}
),

sends as (
    select debtor_id, channel, coalesce(step, 'none') as step, variant, occurred_at
    from events
    where event_type in ('sent', 'call_attempt')
),

sends_paid as (
    select
        sends.debtor_id,
        sends.channel,
        sends.step,
        sends.variant,
        min(payments.paid_at) as first_paid_at,
        min(sends.occurred_at) as sent_at
    from sends
    left join payments
        on sends.debtor_id = payments.debtor_id
        and payments.paid_at > sends.occurred_at
        and payments.paid_at <= sends.occurred_at + interval 14 day
    group by sends.debtor_id, sends.channel, sends.step, sends.variant, sends.occurred_at
),

debtor_outcomes as (
    select
        channel,
        step,
        variant,
        debtor_id,
        bool_or(first_paid_at <= sent_at + interval 7 day) as paid_7d,
        bool_or(first_paid_at is not null) as paid_14d
    from sends_paid
    group by all
),

outcomes as (
    select
        channel,
        step,
        variant,
        count(*) as contacted_debtors,
        count(*) filter (where paid_7d) as paid_7d_debtors,
        count(*) filter (where paid_14d) as paid_14d_debtors
    from debtor_outcomes
    group by all
),

counts as (
    select
        channel,
        coalesce(step, 'none') as step,
        variant,
        count(*) filter (where event_type in ('sent', 'call_attempt')) as sent,
        count(*) filter (where event_type in ('delivered', 'call_connected')) as delivered,
        count(*) filter (where event_type = 'bounced') as bounced,
        count(*) filter (where event_type = 'opened') as opened,
        count(*) filter (where event_type = 'clicked') as clicked
    from events
    group by all
),

final as (
    select
        counts.channel,
        counts.step,
        counts.variant,
        cast(counts.sent as integer) as sent,
        cast(counts.delivered as integer) as delivered,
        cast(counts.bounced as integer) as bounced,
        cast(counts.opened as integer) as opened,
        cast(counts.clicked as integer) as clicked,
        cast(coalesce(outcomes.contacted_debtors, 0) as integer) as contacted_debtors,
        cast(coalesce(outcomes.paid_7d_debtors, 0) as integer) as paid_7d_debtors,
        cast(coalesce(outcomes.paid_14d_debtors, 0) as integer) as paid_14d_debtors,
        counts.delivered / nullif(counts.sent, 0) as delivery_rate,
        counts.bounced / nullif(counts.sent, 0) as bounce_rate,
        counts.opened / nullif(counts.sent, 0) as open_rate,
        counts.clicked / nullif(counts.sent, 0) as click_rate,
        outcomes.paid_7d_debtors / nullif(outcomes.contacted_debtors, 0) as paid_7d_rate,
        outcomes.paid_14d_debtors / nullif(outcomes.contacted_debtors, 0) as paid_14d_rate,
        {{ as_of_date() }} as as_of
    from counts
    left join outcomes
        on counts.channel = outcomes.channel
        and counts.step = outcomes.step
        and counts.variant = outcomes.variant
)

select * from final
