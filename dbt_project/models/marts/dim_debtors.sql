-- One row per debtor known at as_of (the customer version in force before as_of), with the
-- segments credit managers steer by. No names, addresses or contact details: only booleans.
with versions as (
    select * from {{ ref('stg_billing__customer_versions') }}
),

invoiced_debtors as (
    select distinct debtor_id from {{ at_as_of(ref('int_invoices_settled')) }}
),

customers as (
    -- the version in force before as_of; a debtor invoiced before any of its versions holds
    -- (an invoice older than customer_since) is described by its first version
    select versions.*
    from versions
    left join invoiced_debtors on versions.debtor_id = invoiced_debtors.debtor_id
    where cast(versions.valid_from as date) < {{ as_of_date() }}
        or invoiced_debtors.debtor_id is not null
    qualify row_number() over (
        partition by versions.debtor_id
        order by
            case
                when cast(versions.valid_from as date) < {{ as_of_date() }}
                    then versions.valid_from
            end desc nulls last,
            versions.valid_from
    ) = 1
),

invoices as (
    -- the stored settlement, not the fct_invoices view: its status joins are not needed here
    select *, {{ paid_late('as_of') }} as paid_late
    from {{ at_as_of(ref('int_invoices_settled')) }}
    where document_type = 'invoice'
),

invoice_profile as (
    select
        debtor_id,
        count(*) as n_invoices,
        avg(amount) as avg_invoice_amount,
        count(*) filter (where paid_late and due_date >= as_of - 365) as n_paid_late_12m
    from invoices
    group by debtor_id
),

contact_quality as (
    -- bounces after the newest customer version (a corrected address is valid again) and the
    -- last response of any kind, before as_of
    select
        events.debtor_id,
        bool_or(events.channel = 'email' and events.event_type = 'bounced'
            and events.occurred_at >= customers.email_since) as email_bounced,
        bool_or(events.channel = 'sms' and events.event_type = 'bounced'
            and events.occurred_at >= customers.mobile_since) as sms_bounced,
        max(events.occurred_date) filter (
            where events.event_type in (
                'opened', 'clicked', 'replied', 'call_connected', 'promise_to_pay'
            )
        ) as last_response_date
    from {{ ref('stg_billing__contact_events') }} as events
    inner join customers on events.debtor_id = customers.debtor_id
    where events.occurred_date < {{ as_of_date() }}
    group by events.debtor_id
),

profiled as (
    select
        customers.*,
        coalesce(contact_quality.email_bounced, false) as email_bounced,
        coalesce(contact_quality.sms_bounced, false) as sms_bounced,
        contact_quality.last_response_date,
        coalesce(invoice_profile.n_invoices, 0) as n_invoices,
        invoice_profile.avg_invoice_amount,
        coalesce(invoice_profile.n_paid_late_12m, 0) as n_paid_late_12m,
        median(invoice_profile.avg_invoice_amount) over (partition by customers.debtor_type)
            as type_median_invoice_amount
    from customers
    left join invoice_profile on customers.debtor_id = invoice_profile.debtor_id
    left join contact_quality on customers.debtor_id = contact_quality.debtor_id
),

final as (
    select
        debtor_id,
        debtor_type,
        country,
        language,
        customer_since,
        acquisition_channel,
        paperless,
        has_email,
        has_mobile,
        email_bounced,
        sms_bounced,
        has_email and not email_bounced as has_valid_email,
        has_mobile and not sms_bounced as has_valid_mobile,
        last_response_date,
        n_invoices,
        cast(avg_invoice_amount as decimal(18, 2)) as avg_invoice_amount,
        debtor_type as segment_debtor_type,
        case
            when customer_since > {{ as_of_date() }} - interval 12 month then 'new' else 'loyal'
        end as segment_tenure,
        case
            when avg_invoice_amount >= type_median_invoice_amount then 'large' else 'small'
        end as segment_size,
        case when acquisition_channel = 'online' then 'digital' else 'offline' end
            as segment_acquisition,
        case
            when n_paid_late_12m >= 3 then 'frequent_late'
            when n_paid_late_12m >= 1 then 'one_off_late'
            else 'punctual'
        end as segment_payer,
        {{ as_of_date() }} as as_of
    from profiled
)

select * from final
