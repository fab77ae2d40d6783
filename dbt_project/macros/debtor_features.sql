{#-
    Point-in-time debtor features for every date in `dates_relation` (a relation or CTE with a
    DATE column `as_of`): one row per debtor known at the date. Only events dated before the
    date count (issue_date, paid_date, occurred_date, reported_at, customer valid_from, plan
    updated_at), and money comes from `allocations_relation`, `settled_relation` and `episodes_relation`:
    the allocate_payments / settle_invoices / overdue_episodes macros computed within the cut-off
    of the same dates, so a later batch can never change a date's features.
    debtor_features (the run's as_of, from the intermediate tables) and debtor_feature_snapshots
    (month starts) both call this, so training and scoring share one SQL path. With
    `debtors_relation` (as_of, debtor_id) only those debtors get a row.
-#}
{% macro debtor_features(
    dates_relation, allocations_relation, settled_relation, episodes_relation, debtors_relation=none
) %}
{%- set channels = {
    'email': ['delivered', 'opened', 'clicked'],
    'sms': ['delivered', 'clicked'],
    'letter': ['delivered'],
    'phone': ['call_connected', 'promise_to_pay'],
} -%}
{%- set responses = "('opened', 'clicked', 'replied', 'call_connected', 'promise_to_pay')" -%}
with dates as (
    select distinct cast(as_of as date) as as_of from {{ dates_relation }}
),

-- the four inputs below are plain scans read several times: DuckDB would materialize them
-- (24M rows each at 1M debtors), while scanning again lets each reader push its filters down
documents as not materialized (
    select * from {{ settled_relation }}
),

invoices as not materialized (
    select * from documents where document_type = 'invoice'
),

shares as not materialized (
    select * from {{ allocations_relation }}
),

events as not materialized (
    select debtor_id, channel, event_type, occurred_at, occurred_date
    from {{ ref('stg_billing__contact_events') }}
),

customer_versions as (
    select * from {{ ref('stg_billing__customer_versions') }}
),

first_seen as (
    select debtor_id, min(seen_at) as seen_at
    from (
        select debtor_id, valid_from as seen_at from customer_versions
        union all
        select debtor_id, cast(issue_date as timestamp)
        from {{ ref('stg_billing__invoices') }}
    )
    group by debtor_id
),

spine as (
    select dates.as_of, first_seen.debtor_id, cast(dates.as_of as timestamp) as as_of_ts
    from {{ scoped_dates('dates', debtors_relation) }} as dates
    inner join first_seen
        on first_seen.seen_at < cast(dates.as_of as timestamp)
        {{- in_scope(debtors_relation, 'dates', 'first_seen') }}
),

open_at as (
    select *, due_date < as_of as is_overdue
    from invoices
    where open_amount > 0
),

balances as (
    select
        as_of,
        debtor_id,
        arg_max(currency, issue_date) as open_currency,
        sum(open_amount) as open_balance,
        coalesce(sum(open_amount) filter (where is_overdue), 0) as overdue_balance,
        count(*) filter (where is_overdue) as n_overdue_invoices,
        coalesce(max(datediff('day', due_date, as_of)) filter (where is_overdue), 0)
            as max_days_past_due,
        arg_min(invoice_id, strftime(due_date, '%Y-%m-%d') || invoice_id)
            filter (where is_overdue) as oldest_overdue_invoice_id,
        min(due_date) filter (where is_overdue) as oldest_overdue_due_date,
        coalesce(sum(open_amount) filter (where dispute_date < as_of), 0)
            as disputed_open_amount
    from open_at
    group by 1, 2
),

recent_invoices as (
    select
        as_of,
        debtor_id,
        currency,
        issue_date,
        amount,
        issue_date >= as_of - 365 as issued_in_window,
        due_date < as_of and due_date >= as_of - 365 as due_in_window,
        paid_date is null or paid_date > due_date as paid_late,
        paid_date is not null as is_paid,
        greatest(datediff('day', due_date, paid_date), 0) as days_late,
        dispute_date >= as_of - 365 and dispute_date < as_of as disputed_in_window
    from invoices
    where issue_date >= as_of - 365 or due_date >= as_of - 365
),

invoice_history as (
    select
        as_of,
        debtor_id,
        arg_max(currency, issue_date) as currency,
        count(*) filter (where issued_in_window) as n_invoices_12m,
        sum(amount) filter (where issued_in_window) as invoiced_amount_12m,
        avg(amount) filter (where issued_in_window) as avg_invoice_amount_12m,
        count(*) filter (where due_in_window) as n_invoices_due_12m,
        count(*) filter (where due_in_window and paid_late) as n_invoices_paid_late_12m,
        avg(days_late) filter (where due_in_window and is_paid) as avg_days_late_12m,
        max(days_late) filter (where due_in_window and is_paid) as max_days_late_12m,
        count(*) filter (where disputed_in_window) as n_disputes_12m
    from recent_invoices
    group by 1, 2
),

credit_notes as (
    select as_of, debtor_id, sum(amount) as credited_amount_12m
    from documents
    where document_type = 'credit_note' and issue_date >= as_of - 365
    group by 1, 2
),

payment_history as (
    select
        as_of,
        debtor_id,
        count(*) filter (
            where source = 'payment' and share_number = 1 and paid_date >= as_of - 90
        ) as n_payments_90d,
        sum(allocated_amount) filter (
            where source = 'payment' and paid_date >= as_of - 90
        ) as paid_amount_90d,
        sum(allocated_amount) filter (
            where source = 'payment' and paid_date >= as_of - 365
        ) as paid_amount_12m,
        max(paid_date) filter (where source = 'payment') as last_paid_date,
        sum(allocated_amount) filter (where invoice_id is null) as credit_balance
    from shares
    group by 1, 2
),

contact_history as (
    select
        spine.as_of,
        events.debtor_id,
        count(*) filter (
            where events.event_type = 'sent' and events.occurred_date >= spine.as_of - 180
        ) as reminders_180d,
        {%- for channel, kinds in channels.items() %}
        {%- set contact = 'call_attempt' if channel == 'phone' else 'sent' %}
        count(*) filter (
            where events.channel = '{{ channel }}' and events.event_type = '{{ contact }}'
        ) as {{ channel }}_contacts_365d
        {%- for kind in kinds %},
        count(*) filter (
            where events.channel = '{{ channel }}' and events.event_type = '{{ kind }}'
        ) as {{ channel }}_{{ kind }}_365d
        {%- endfor %}{{ ',' if not loop.last }}
        {%- endfor %}
    from spine
    inner join events
        on spine.debtor_id = events.debtor_id
        and events.occurred_date < spine.as_of
        and events.occurred_date >= spine.as_of - 365
    group by 1, 2
),

responses as (
    select debtor_id, occurred_at from events where event_type in {{ responses }}
),

email_bounces as (
    select debtor_id, occurred_at from events where channel = 'email' and event_type = 'bounced'
),

sms_bounces as (
    select debtor_id, occurred_at from events where channel = 'sms' and event_type = 'bounced'
),

latest as (
    -- the newest row dated before as_of per debtor, one ASOF join per source
    select
        spine.as_of,
        spine.debtor_id,
        customer.debtor_type,
        customer.country,
        customer.acquisition_channel,
        customer.paperless,
        customer.has_email,
        customer.has_mobile,
        customer.customer_since,
        report.bureau_score,
        report.registered_debts,
        report.debt_restructuring,
        report.bankrupt,
        report.deceased,
        cast(response.occurred_at as date) as last_response_date,
        email_bounce.occurred_at is not null as email_bounced,
        sms_bounce.occurred_at is not null as sms_bounced
    from spine
    asof left join customer_versions as customer
        on spine.debtor_id = customer.debtor_id and spine.as_of_ts > customer.valid_from
    asof left join {{ ref('stg_billing__credit_reports') }} as report
        on spine.debtor_id = report.debtor_id and spine.as_of_ts > report.reported_at
    asof left join responses as response
        on spine.debtor_id = response.debtor_id and spine.as_of_ts > response.occurred_at
    asof left join email_bounces as email_bounce
        on spine.debtor_id = email_bounce.debtor_id and spine.as_of_ts > email_bounce.occurred_at
    asof left join sms_bounces as sms_bounce
        on spine.debtor_id = sms_bounce.debtor_id and spine.as_of_ts > sms_bounce.occurred_at
),

episode_contacts as (
    select balances.as_of, balances.debtor_id, count(*) as reminders_current_episode
    from balances
    inner join events
        on balances.debtor_id = events.debtor_id
        and events.event_type = 'sent'
        and events.occurred_date >= balances.oldest_overdue_due_date
        and events.occurred_date < balances.as_of
    group by 1, 2
),

episode_history as (
    select
        dates.as_of,
        episodes.debtor_id,
        count(*) filter (where episodes.episode_end is not null) as n_past_overdue_episodes,
        count(*) filter (where episodes.episode_start >= dates.as_of - 365)
            as n_overdue_episodes_12m
    from dates
    inner join {{ episodes_relation }} as episodes
        on dates.as_of = episodes.as_of
    group by 1, 2
),

plan_at as (
    select spine.as_of, plans.debtor_id, plans.status
    from spine
    inner join {{ ref('stg_billing__payment_plan_versions') }} as plans
        on spine.debtor_id = plans.debtor_id
        and plans.updated_at < spine.as_of_ts
    qualify row_number() over (
        partition by spine.as_of, plans.plan_id order by plans.updated_at desc
    ) = 1
),

plans as (
    select
        as_of,
        debtor_id,
        bool_or(status = 'active') as active_plan,
        count(*) filter (where status = 'broken') as n_broken_plans,
        count(*) filter (where status = 'completed') as n_completed_plans
    from plan_at
    group by 1, 2
),

features as (
    select
        spine.debtor_id,
        spine.as_of,
        {{ to_money('coalesce(balances.overdue_balance, 0)') }} as overdue_balance,
        {{ to_money('coalesce(balances.open_balance, 0)') }} as open_balance,
        coalesce(invoice_history.currency, balances.open_currency) as currency,
        cast(coalesce(balances.max_days_past_due, 0) as integer) as max_days_past_due,
        balances.oldest_overdue_invoice_id,
        cast(coalesce(balances.n_overdue_invoices, 0) as integer) as n_overdue_invoices,
        coalesce(latest.has_email, false) as has_email,
        coalesce(latest.has_mobile, false) as has_mobile,
        coalesce(latest.email_bounced, false) as email_bounced,
        coalesce(latest.sms_bounced, false) as sms_bounced,
        {{ to_money('coalesce(balances.disputed_open_amount, 0)') }} as disputed_open_amount,
        {{ to_money('coalesce(payment_history.credit_balance, 0)') }} as credit_balance,
        coalesce(plans.active_plan, false) as active_plan,
        coalesce(latest.debt_restructuring, false) as debt_restructuring,
        coalesce(latest.bankrupt, false) as bankrupt,
        coalesce(latest.deceased, false) as deceased,
        latest.debtor_type,
        latest.country,
        latest.acquisition_channel,
        latest.paperless,
        cast(datediff('day', latest.customer_since, spine.as_of) as integer) as tenure_days,
        cast(coalesce(invoice_history.n_invoices_12m, 0) as integer) as n_invoices_12m,
        cast(coalesce(invoice_history.invoiced_amount_12m, 0) as double) as invoiced_amount_12m,
        cast(invoice_history.avg_invoice_amount_12m as double) as avg_invoice_amount_12m,
        cast(coalesce(invoice_history.n_invoices_paid_late_12m, 0) as integer)
            as n_invoices_paid_late_12m,
        invoice_history.n_invoices_paid_late_12m
        / nullif(invoice_history.n_invoices_due_12m, 0) as share_paid_late_12m,
        cast(invoice_history.avg_days_late_12m as double) as avg_days_late_12m,
        cast(invoice_history.max_days_late_12m as integer) as max_days_late_12m,
        cast(coalesce(balances.overdue_balance, 0) / nullif(balances.open_balance, 0) as double)
            as overdue_share,
        cast(datediff('day', payment_history.last_paid_date, spine.as_of) as integer)
            as days_since_last_payment,
        cast(coalesce(payment_history.n_payments_90d, 0) as integer) as n_payments_90d,
        cast(coalesce(payment_history.paid_amount_90d, 0) as double) as paid_amount_90d,
        cast(coalesce(payment_history.paid_amount_12m, 0) as double)
        / nullif(cast(invoice_history.invoiced_amount_12m as double), 0) as paid_to_invoiced_12m,
        cast(coalesce(credit_notes.credited_amount_12m, 0) as double) as credited_amount_12m,
        cast(coalesce(invoice_history.n_disputes_12m, 0) as integer) as n_disputes_12m,
        cast(coalesce(episode_history.n_past_overdue_episodes, 0) as integer)
            as n_past_overdue_episodes,
        cast(coalesce(episode_history.n_overdue_episodes_12m, 0) as integer)
            as n_overdue_episodes_12m,
        cast(coalesce(episode_contacts.reminders_current_episode, 0) as integer)
            as reminders_current_episode,
        cast(coalesce(contact_history.reminders_180d, 0) as integer) as reminders_180d,
        {%- for channel, kinds in channels.items() %}
        cast(coalesce(contact_history.{{ channel }}_contacts_365d, 0) as integer)
            as {{ channel }}_contacts_365d,
        {%- for kind in kinds %}
        contact_history.{{ channel }}_{{ kind }}_365d
        / nullif(contact_history.{{ channel }}_contacts_365d, 0) as {{ channel }}_{{ kind }}_rate_365d,
        {%- endfor %}
        {%- endfor %}
        cast(datediff('day', latest.last_response_date, spine.as_of) as integer)
            as days_since_last_response,
        latest.bureau_score,
        latest.registered_debts,
        cast(coalesce(plans.n_broken_plans, 0) as integer) as n_broken_plans,
        cast(coalesce(plans.n_completed_plans, 0) as integer) as n_completed_plans
    from spine
    left join balances
        on spine.as_of = balances.as_of and spine.debtor_id = balances.debtor_id
    left join invoice_history
        on spine.as_of = invoice_history.as_of and spine.debtor_id = invoice_history.debtor_id
    left join payment_history
        on spine.as_of = payment_history.as_of and spine.debtor_id = payment_history.debtor_id
    left join contact_history
        on spine.as_of = contact_history.as_of and spine.debtor_id = contact_history.debtor_id
    left join episode_contacts
        on spine.as_of = episode_contacts.as_of and spine.debtor_id = episode_contacts.debtor_id
    left join episode_history
        on spine.as_of = episode_history.as_of and spine.debtor_id = episode_history.debtor_id
    left join latest
        on spine.as_of = latest.as_of and spine.debtor_id = latest.debtor_id
    left join plans
        on spine.as_of = plans.as_of and spine.debtor_id = plans.debtor_id
    left join credit_notes
        on spine.as_of = credit_notes.as_of and spine.debtor_id = credit_notes.debtor_id
)

select * from features
{% endmacro %}
