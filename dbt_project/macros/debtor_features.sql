{#-
    Point-in-time debtor features for every date in `dates_relation` (a relation or CTE with a
    DATE column `as_of`): one row per debtor known at the date. Only events dated before the
    date count (issue_date, paid_date, occurred_date, reported_at, customer valid_from, plan
    updated_at), and money comes from `allocations_relation`, `settled_relation` and `episodes_relation`:
    the allocations_as_of / settle_invoices / overdue_episodes macros computed within the cut-off
    of the same dates, so a later batch can never change a date's features.
    debtor_features (the run's as_of, from the intermediate tables) and debtor_feature_snapshots
    (month starts) both call this, so training and scoring share one SQL path. With
    `debtors_relation` (as_of, debtor_id) only those debtors get a row. Each family of features
    is a macro of its own in macros/features/ (CTEs that the final select below joins).
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

{{ feature_inputs(allocations_relation, settled_relation, debtors_relation) }},

{{ feature_balances() }},

{{ feature_payment_history() }},

{{ feature_contacts(channels, responses) }},

{{ feature_profile() }},

{{ feature_dunning_history(episodes_relation) }},

{{ feature_plans() }},

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
