-- Every payment plan at as_of expanded into its instalments, and whether each was paid: plans
-- from the landing zone (their newest version before as_of) and offers accepted through a
-- reply file (source dunning.plan_acceptances, accepted before as_of). Instalment k of n is due
-- k periods (weeks or calendar months) after the plan's start; each is total / n rounded down
-- to the cent, the remainder on the last (flows/dunning/plan_offers.py states an offer the same
-- way). The debtor's payments in the plan's currency from its start (until the debtor's next
-- plan in that currency starts) pay the instalments in order: instalment k is paid on the day
-- the cumulative payments reach the cumulative amount due through k. An unpaid instalment more
-- than var plan_broken_after_days past its due date is missed, and breaks the plan.
{%- set grace = var('plan_broken_after_days') %}

with landing as (
    select
        plan_id,
        debtor_id,
        cast(created_at as date) as start_date,
        total_amount,
        installments,
        coalesce(frequency, 'monthly') as frequency,
        status as landing_status,
        cast(updated_at as date) as status_date
    from {{ ref('stg_billing__payment_plan_versions') }}
    where cast(updated_at as date) < {{ as_of_date() }}
    qualify row_number() over (partition by plan_id order by updated_at desc, batch_id desc) = 1
),

landing_currency as (
    -- a landing plan names no currency: that of the debtor's latest invoice issued by its start
    select landing.plan_id, arg_max(invoices.currency, invoices.issue_date) as currency
    from landing
    inner join {{ ref('stg_billing__invoices') }} as invoices
        on landing.debtor_id = invoices.debtor_id and invoices.issue_date <= landing.start_date
    group by landing.plan_id
),

accepted as (
    select
        offer_reference as plan_id,
        debtor_id,
        accepted_on as start_date,
        {{ to_money('total_amount') }} as total_amount,
        installments,
        frequency,
        'active' as landing_status,
        accepted_on as status_date,
        currency,
        'accepted_offer' as origin
    from {{ source('dunning', 'plan_acceptances') }}
    where accepted_on < {{ as_of_date() }}
),

plans as (
    select landing.*, landing_currency.currency, 'landing' as origin
    from landing
    left join landing_currency on landing.plan_id = landing_currency.plan_id
    union all by name
    select * from accepted
),

windows as (
    -- a payment counts for the debtor's latest plan in its currency that had started
    select
        *,
        lead(start_date) over (
            partition by debtor_id, currency order by start_date, plan_id
        ) as next_start,
        cast(total_amount * 100 as bigint) as total_cents
    from plans
),

instalments as (
    select
        *,
        cast(unnest(range(1, installments + 1)) as integer) as instalment
    from windows
),

due as (
    select
        *,
        cast(
            case frequency
                when 'weekly' then start_date + 7 * instalment
                else start_date + to_months(instalment)
            end as date
        ) as due_date,
        total_cents // installments as each_cents
    from instalments
),

schedule as (
    select
        *,
        case when instalment = installments
            then total_cents - each_cents * (installments - 1) else each_cents
        end as amount_cents,
        case when instalment = installments
            then total_cents else each_cents * instalment
        end as cum_due_cents
    from due
),

plan_payments as (
    select
        windows.plan_id,
        payments.paid_date,
        sum(cast(payments.amount * 100 as bigint)) over (
            partition by windows.plan_id order by payments.paid_at, payments.payment_id
        ) as cum_paid_cents
    from windows
    inner join {{ ref('stg_billing__payments') }} as payments
        on windows.debtor_id = payments.debtor_id
        and windows.currency = payments.currency
        and payments.paid_date >= windows.start_date
        and (windows.next_start is null or payments.paid_date < windows.next_start)
    where payments.paid_date < {{ as_of_date() }}
),

paid as (
    select schedule.plan_id, schedule.instalment, min(plan_payments.paid_date) as paid_on
    from schedule
    inner join plan_payments
        on schedule.plan_id = plan_payments.plan_id
        and plan_payments.cum_paid_cents >= schedule.cum_due_cents
    group by all
),

final as (
    select
        {{ as_of_date() }} as as_of,
        schedule.plan_id,
        schedule.debtor_id,
        schedule.currency,
        schedule.origin,
        schedule.start_date,
        schedule.frequency,
        cast(schedule.installments as integer) as installments,
        {{ to_money('schedule.total_amount') }} as total_amount,
        schedule.landing_status,
        schedule.status_date,
        cast(schedule.instalment as integer) as instalment,
        schedule.due_date,
        {{ to_money('schedule.amount_cents / 100') }} as amount,
        {{ to_money('schedule.cum_due_cents / 100') }} as cumulative_due,
        paid.paid_on,
        case
            when paid.paid_on <= schedule.due_date then 'paid'
            when paid.paid_on is not null then 'paid_late'
            when schedule.due_date >= {{ as_of_date() }} then 'upcoming'
            when {{ as_of_date() }} - schedule.due_date > {{ grace }} then 'missed'
            else 'late'
        end as state,
        cast(
            case
                when paid.paid_on is not null then greatest(paid.paid_on - schedule.due_date, 0)
                when schedule.due_date < {{ as_of_date() }}
                    then {{ as_of_date() }} - schedule.due_date
            end as integer
        ) as days_late
    from schedule
    left join paid
        on schedule.plan_id = paid.plan_id and schedule.instalment = paid.instalment
)

select * from final
