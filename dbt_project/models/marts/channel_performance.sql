-- Contact outcomes per channel, dunning step, experiment variant and debtor segment (one row
-- per segment dimension: 'all', debtor_type, tenure, size, acquisition, payer; segments as of
-- as_of), from events before as_of, with Wilson 95% intervals on every rate. "Paid within N
-- days" counts contacted debtors with a payment in the N days after the contact was sent
-- (recent contacts have had less time to pay); the "observed" counts keep only contacts sent at
-- least 7 days before as_of, whose 7 days are over: the rates the dunning planner weighs
-- channels by (a channel just taken up would otherwise look worse than it is).
with events as (
    select * from {{ ref('stg_billing__contact_events') }}
    where occurred_date < {{ as_of_date() }}
),

payments as (
    select debtor_id, paid_at from {{ ref('stg_billing__payments') }}
    where paid_date < {{ as_of_date() }}
),

debtors as (
    select * from {{ ref('dim_debtors') }}
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
        bool_or(first_paid_at is not null) as paid_14d,
        bool_or(sent_at + interval 7 day < {{ as_of_date() }}) as observed_7d,
        bool_or(
            sent_at + interval 7 day < {{ as_of_date() }}
            and first_paid_at <= sent_at + interval 7 day
        ) as paid_7d_observed
    from sends_paid
    group by all
),

event_counts as (
    select
        debtor_id,
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

per_debtor as (
    select
        event_counts.*,
        coalesce(debtor_outcomes.debtor_id is not null, false) as contacted,
        coalesce(debtor_outcomes.paid_7d, false) as paid_7d,
        coalesce(debtor_outcomes.paid_14d, false) as paid_14d,
        coalesce(debtor_outcomes.observed_7d, false) as observed_7d,
        coalesce(debtor_outcomes.paid_7d_observed, false) as paid_7d_observed,
        coalesce(debtors.segment_debtor_type, 'unknown') as segment_debtor_type,
        coalesce(debtors.segment_tenure, 'unknown') as segment_tenure,
        coalesce(debtors.segment_size, 'unknown') as segment_size,
        coalesce(debtors.segment_acquisition, 'unknown') as segment_acquisition,
        coalesce(debtors.segment_payer, 'unknown') as segment_payer
    from event_counts
    left join debtor_outcomes
        on event_counts.debtor_id = debtor_outcomes.debtor_id
        and event_counts.channel = debtor_outcomes.channel
        and event_counts.step = debtor_outcomes.step
        and event_counts.variant = debtor_outcomes.variant
    left join debtors on event_counts.debtor_id = debtors.debtor_id
),

segmented as (
    {{ unpivot_segments('per_debtor') }}
),

totals as (
    select
        channel,
        step,
        variant,
        segment_dimension,
        segment,
        cast(sum(sent) as integer) as sent,
        cast(sum(delivered) as integer) as delivered,
        cast(sum(bounced) as integer) as bounced,
        cast(sum(opened) as integer) as opened,
        cast(sum(clicked) as integer) as clicked,
        cast(count(*) filter (where contacted) as integer) as contacted_debtors,
        cast(count(*) filter (where paid_7d) as integer) as paid_7d_debtors,
        cast(count(*) filter (where paid_14d) as integer) as paid_14d_debtors,
        cast(count(*) filter (where observed_7d) as integer) as observed_7d_debtors,
        cast(count(*) filter (where paid_7d_observed) as integer) as paid_7d_observed_debtors
    from segmented
    group by all
),

final as (
    select
        *,
        {{ rate_with_interval('delivery_rate', 'least(delivered, sent)', 'sent') }},
        {{ rate_with_interval('bounce_rate', 'least(bounced, sent)', 'sent') }},
        {{ rate_with_interval('open_rate', 'least(opened, sent)', 'sent') }},
        {{ rate_with_interval('click_rate', 'least(clicked, sent)', 'sent') }},
        {{ rate_with_interval('paid_7d_rate', 'paid_7d_debtors', 'contacted_debtors') }},
        {{ rate_with_interval('paid_14d_rate', 'paid_14d_debtors', 'contacted_debtors') }},
        {{ as_of_date() }} as as_of
    from totals
)

select * from final
