-- One row per debtor known at as_of (newest customer version dated before as_of), with the
-- segments credit managers steer by. No names, addresses or contact details: only booleans.
with customers as (
    select * from {{ ref('stg_billing__customer_versions') }}
    where cast(updated_at as date) < {{ as_of_date() }}
    qualify row_number() over (partition by debtor_id order by updated_at desc) = 1
),

invoices as (
    select * from {{ ref('fct_invoices') }}
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

profiled as (
    select
        customers.*,
        coalesce(invoice_profile.n_invoices, 0) as n_invoices,
        invoice_profile.avg_invoice_amount,
        coalesce(invoice_profile.n_paid_late_12m, 0) as n_paid_late_12m,
        median(invoice_profile.avg_invoice_amount) over (partition by customers.debtor_type)
            as type_median_invoice_amount
    from customers
    left join invoice_profile on customers.debtor_id = invoice_profile.debtor_id
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
