-- Long-memory payment behaviour per debtor at each month start of the training window and at
-- as_of (all history before the date, not just 12 months): how long past overdue episodes
-- lasted, direct-debit use and lifetime responses per channel. The collectability model joins
-- it to debtor_feature_snapshots / debtor_features on (debtor_id, as_of). Only debtors in an
-- open overdue episode at the date (the ones the model scores) get a row.
-- closed, payments and contacts are computed only for those (as_of, debtor_id) pairs: the
-- rows of every debtor at every date would be 13 x all payments.
-- Incremental: a month start is kept as first built, like debtor_feature_snapshots; a build
-- computes the month starts it has no rows for and as_of, and drops the rest (post-hook).
{{ config(
    materialized='incremental',
    unique_key=['as_of', 'debtor_id'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook=
        "delete from {{ this }} where as_of <> " ~ as_of_date() ~ " and (as_of < "
        ~ snapshot_window_start() ~ " or as_of > " ~ as_of_date() ~ " or day(as_of) <> 1)",
) }}

with dates as (
    select cast(month_start as date) as as_of
    from range(
        {{ snapshot_window_start() }},
        date_trunc('month', {{ as_of_date() }} - 1) + interval 1 day,
        interval 1 month
    ) as months (month_start)
    {%- if is_incremental() %}
    where month_start not in (select distinct as_of from {{ this }})
    {%- endif %}
    union
    select {{ as_of_date() }}
),

episodes as (
    select
        debtor_id,
        episode_start,
        episode_end,
        datediff('day', episode_start, episode_end) + 1 as episode_days
    from {{ ref('int_overdue_episodes_merged') }}
),

current_episode as (
    select
        dates.as_of,
        episodes.debtor_id,
        max(datediff('day', episodes.episode_start, dates.as_of)) as current_episode_days
    from dates
    inner join episodes
        on episodes.episode_start <= dates.as_of
        and (episodes.episode_end is null or episodes.episode_end >= dates.as_of)
    group by 1, 2
),

closed as (
    select
        dates.as_of,
        episodes.debtor_id,
        count(*) as n_closed_episodes,
        sum(episodes.episode_days) as closed_episode_days,
        avg(episodes.episode_days) as avg_episode_days,
        avg(cast(episodes.episode_days <= 30 as integer)) as share_episodes_closed_30d,
        arg_max(episodes.episode_days, episodes.episode_end) as last_episode_days,
        datediff('day', max(episodes.episode_end), dates.as_of) as days_since_last_episode
    from current_episode as dates
    inner join episodes
        on episodes.debtor_id = dates.debtor_id and episodes.episode_end < dates.as_of
    group by 1, 2
),

payments as (
    select
        dates.as_of,
        payments.debtor_id,
        count(*) as n_payments,
        avg(cast(payments.method = 'direct_debit' as integer)) as direct_debit_share,
        avg(cast(payments.method = 'agency' as integer)) as agency_payment_share
    from current_episode as dates
    inner join {{ ref('stg_billing__payments') }} as payments
        on payments.debtor_id = dates.debtor_id and payments.paid_date < dates.as_of
    group by 1, 2
),

contacts as (
    select
        dates.as_of,
        events.debtor_id,
        count(*) filter (where events.event_type = 'sent') as n_contacts_sent,
        count(*) filter (where events.channel = 'email' and events.event_type = 'opened')
            as n_emails_opened,
        count(*) filter (where events.channel = 'email' and events.event_type = 'clicked')
            as n_emails_clicked,
        count(*) filter (where events.channel = 'sms' and events.event_type = 'clicked')
            as n_sms_clicked,
        count(*) filter (where events.event_type = 'bounced') as n_bounces,
        count(*) filter (where events.event_type = 'call_connected') as n_calls_connected,
        count(*) filter (where events.event_type = 'promise_to_pay') as n_promises_to_pay
    from current_episode as dates
    inner join {{ ref('stg_billing__contact_events') }} as events
        on events.debtor_id = dates.debtor_id and events.occurred_date < dates.as_of
    group by 1, 2
),

final as (
    select
        current_episode.debtor_id,
        current_episode.as_of,
        cast(coalesce(closed.n_closed_episodes, 0) as integer) as n_closed_episodes,
        cast(closed.avg_episode_days as double) as avg_episode_days,
        cast(closed.share_episodes_closed_30d as double) as share_episodes_closed_30d,
        cast(closed.last_episode_days as integer) as last_episode_days,
        cast(closed.days_since_last_episode as integer) as days_since_last_episode,
        cast(current_episode.current_episode_days as integer) as current_episode_days,
        -- episodes closed per overdue day, shrunk towards one per 30 days when history is thin
        cast(
            (coalesce(closed.n_closed_episodes, 0) + 0.5)
            / (coalesce(closed.closed_episode_days, 0)
                + current_episode.current_episode_days + 15.0)
            as double
        ) as episode_close_rate,
        cast(payments.direct_debit_share as double) as direct_debit_share,
        cast(payments.agency_payment_share as double) as agency_payment_share,
        cast(coalesce(contacts.n_contacts_sent, 0) as integer) as n_contacts_sent,
        cast(coalesce(contacts.n_emails_opened, 0) as integer) as n_emails_opened,
        cast(coalesce(contacts.n_emails_clicked, 0) as integer) as n_emails_clicked,
        cast(coalesce(contacts.n_sms_clicked, 0) as integer) as n_sms_clicked,
        cast(coalesce(contacts.n_bounces, 0) as integer) as n_bounces,
        cast(coalesce(contacts.n_calls_connected, 0) as integer) as n_calls_connected,
        cast(coalesce(contacts.n_promises_to_pay, 0) as integer) as n_promises_to_pay
    from current_episode
    left join closed
        on current_episode.as_of = closed.as_of
        and current_episode.debtor_id = closed.debtor_id
    left join payments
        on current_episode.as_of = payments.as_of
        and current_episode.debtor_id = payments.debtor_id
    left join contacts
        on current_episode.as_of = contacts.as_of
        and current_episode.debtor_id = contacts.debtor_id
)

select * from final
