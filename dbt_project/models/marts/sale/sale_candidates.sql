-- One row per receivable that could be sold at as_of: an invoice past due with an unpaid
-- balance, not sold already. What the sale selection (flows/tape/selection.yml) decides on:
-- how long collection has run, the balance, and the first reason it must not be sold, if any.
-- A view: tapes are made monthly, and reading it costs a few joins over fct_invoices.
{{ config(materialized='view') }}

with receivables as (
    select * from {{ ref('fct_invoices') }}
    where document_type = 'invoice'
        and open_amount > 0
        and due_date < as_of
        and status <> 'sold'
),

payments as (
    -- the last payment applied to each receivable before as_of
    select
        invoice_id,
        max(applied_date) as last_payment_date,
        arg_max(allocated_amount, (applied_date, share_number)) as last_payment_amount
    from {{ ref('int_ledger') }}
    where source = 'payment' and invoice_id is not null and applied_date < {{ as_of_date() }}
    group by invoice_id
),

collection_start as (
    -- the first ladder step sent to the debtor on or after the receivable's due date
    select receivables.invoice_id, min(events.occurred_date) as collection_started_date
    from receivables
    inner join {{ ref('stg_billing__contact_events') }} as events
        on events.debtor_id = receivables.debtor_id
        and events.occurred_date >= receivables.due_date
        and events.occurred_date < receivables.as_of
    where events.event_type = 'sent' and events.step is not null and events.step <> 'pre_due'
    group by receivables.invoice_id
),

offered as (
    select distinct invoice_id
    from {{ ref('stg_sale__offered_receivables') }}
    where offered_from < {{ as_of_date() }} and {{ as_of_date() }} <= offered_until
),

dated as (
    select
        receivables.*,
        debtors.debtor_type,
        debtors.country,
        payments.last_payment_date,
        payments.last_payment_amount,
        coalesce(collection_start.collection_started_date, receivables.due_date)
            as collection_started_date,
        cast(receivables.due_date + interval 90 day as date) as default_date,
        cast(
            greatest(receivables.due_date, coalesce(payments.last_payment_date, receivables.due_date))
            + to_years({{ limitation_years('debtors.country') }}) as date
        ) as limitation_date,
        suppressions.reason as debtor_suppression,
        offered.invoice_id is not null as is_offered
    from receivables
    left join {{ ref('dim_debtors') }} as debtors on receivables.debtor_id = debtors.debtor_id
    left join payments on receivables.invoice_id = payments.invoice_id
    left join collection_start on receivables.invoice_id = collection_start.invoice_id
    left join {{ ref('debtor_suppressions') }} as suppressions
        on receivables.debtor_id = suppressions.debtor_id
    left join offered on receivables.invoice_id = offered.invoice_id
),

final as (
    select
        as_of,
        invoice_id,
        debtor_id,
        debtor_type,
        country,
        currency,
        issue_date,
        due_date,
        amount,
        open_amount as principal_balance,
        days_past_due,
        status,
        default_date,
        cast(greatest({{ whole_months('default_date', 'as_of') }}, 0) as integer)
            as months_since_default,
        last_payment_date,
        last_payment_amount,
        collection_started_date,
        cast({{ whole_months('collection_started_date', 'as_of') }} as integer)
            as months_in_collection,
        limitation_date,
        status = 'with_agency' as placed_with_agency,
        case
            when debtor_suppression is not null then debtor_suppression
            when status = 'disputed' then 'disputed'
            when limitation_date <= as_of then 'statute_barred'
            when status = 'with_agency' then 'placed_with_agency'
            when is_offered then 'offered_for_sale'
        end as exclusion
    from dated
)

select * from final
