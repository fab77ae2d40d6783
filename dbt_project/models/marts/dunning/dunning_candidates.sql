-- One row per debtor and currency with an overdue invoice at as_of: what the dunning planner
-- acts on (flows/dunning/plan.py applies the policy's ladder to it). Only undisputed overdue
-- invoices drive the days past due, the amount and the reference; disputed ones are named as
-- excluded. Amounts are per currency, never summed across currencies. The steps already taken
-- in the debtor's current overdue episode come from the landing contact history (reminders,
-- final notices, hand-overs), so going live continues each debtor's ladder where it stands.
with overdue as (
    select
        debtor_id,
        currency,
        invoice_id,
        due_date,
        open_amount,
        coalesce(dispute_date < {{ as_of_date() }}, false) as disputed
    from {{ at_as_of(ref('int_invoices_settled')) }}
    where document_type = 'invoice' and open_amount > 0 and due_date < {{ as_of_date() }}
),

positions as (
    select
        debtor_id,
        currency,
        sum(open_amount) filter (where not disputed) as amount_due,
        min(due_date) filter (where not disputed) as oldest_due_date,
        arg_min(invoice_id, (due_date, invoice_id)) filter (where not disputed)
            as reference_invoice_id,
        count(*) filter (where not disputed) as n_overdue_invoices,
        coalesce(sum(open_amount) filter (where disputed), 0) as disputed_amount,
        string_agg(invoice_id, ',' order by invoice_id) filter (where disputed)
            as disputed_invoice_ids
    from overdue
    group by debtor_id, currency
),

episodes as (
    -- the debtor's overdue episode still open at as_of (a partial payment does not end it)
    select debtor_id, max(episode_start) as episode_start
    from {{ ref('int_overdue_episodes_merged') }}
    where episode_end is null
    group by debtor_id
),

contacts as (
    select events.*
    from {{ ref('stg_billing__contact_events') }} as events
    where events.occurred_date < {{ as_of_date() }}
),

history as (
    -- ladder steps sent in the current episode, before debtflow or by it (its own sends come
    -- back as contact events)
    select
        contacts.debtor_id,
        list(distinct contacts.step order by contacts.step) as steps_taken,
        max(contacts.occurred_date) as last_step_date
    from contacts
    inner join episodes
        on contacts.debtor_id = episodes.debtor_id
        and contacts.occurred_date >= episodes.episode_start
    where contacts.step is not null and contacts.event_type in ('sent', 'call_attempt')
    group by contacts.debtor_id
),

opt_outs as (
    {{ channel_opt_outs() }}
),

sale as (
    -- debtors sold to a debt buyer (never dunned again) or on a bidder tape under offer
    select debtor_id, 'sold' as reason
    from {{ ref('stg_sale__sold_receivables') }}
    where sold_on <= {{ as_of_date() }}
    union all
    select debtor_id, 'offered_for_sale' as reason
    from {{ ref('stg_sale__offered_receivables') }}
    where offered_from < {{ as_of_date() }} and {{ as_of_date() }} <= offered_until
),

broken_plans as (
    -- the debtor's latest plan, when it broke during the current episode: the ladder resumes
    -- and the next message says the arrangement lapsed
    select plans.debtor_id, plans.plan_id, plans.start_date, plans.broken_instalment
    from {{ ref('plan_adherence') }} as plans
    inner join episodes
        on plans.debtor_id = episodes.debtor_id and plans.start_date >= episodes.episode_start
    qualify row_number() over (
        partition by plans.debtor_id order by plans.start_date desc, plans.plan_id desc
    ) = 1 and plans.status = 'broken'
),

sale_status as (
    select debtor_id, bool_or(reason = 'sold') as sold
    from sale
    group by debtor_id
),

final as (
    select
        {{ as_of_date() }} as as_of,
        positions.debtor_id,
        positions.currency,
        debtors.debtor_type,
        debtors.country,
        debtors.language,
        episodes.episode_start,
        cast({{ as_of_date() }} - positions.oldest_due_date as integer) as days_past_due,
        {{ to_money('coalesce(positions.amount_due, 0)') }} as amount_due,
        positions.reference_invoice_id,
        cast(positions.n_overdue_invoices as integer) as n_overdue_invoices,
        {{ to_money('positions.disputed_amount') }} as disputed_amount,
        positions.disputed_invoice_ids,
        coalesce(history.steps_taken, []) as steps_taken,
        history.last_step_date,
        debtors.has_valid_email and not coalesce(opt_outs.email_opted_out, false) as email_ok,
        debtors.has_valid_mobile and not coalesce(opt_outs.sms_opted_out, false) as sms_ok,
        debtors.has_mobile and not coalesce(opt_outs.phone_opted_out, false) as phone_ok,
        case
            when sale_status.sold then 'sold'
            when sale_status.debtor_id is not null then 'offered_for_sale'
            when suppressions.reason is not null then suppressions.reason
            when list_contains(history.steps_taken, 'agency') then 'placed_with_agency'
            when positions.amount_due is null then 'disputed'
        end as suppression_reason,
        broken_plans.plan_id as broken_plan_id,
        broken_plans.start_date as broken_plan_date,
        broken_plans.broken_instalment
    from positions
    inner join {{ ref('dim_debtors') }} as debtors on positions.debtor_id = debtors.debtor_id
    left join episodes on positions.debtor_id = episodes.debtor_id
    left join history on positions.debtor_id = history.debtor_id
    left join opt_outs on positions.debtor_id = opt_outs.debtor_id
    left join {{ ref('debtor_suppressions') }} as suppressions
        on positions.debtor_id = suppressions.debtor_id
    left join sale_status on positions.debtor_id = sale_status.debtor_id
    left join broken_plans on positions.debtor_id = broken_plans.debtor_id
)

select * from final
