-- Open receivables at as_of by aging bucket per debtor segment, country and currency. Sold
-- receivables leave the buckets and are counted as sold.
with invoices as (
    select * from {{ ref('fct_invoices') }}
    where document_type = 'invoice' and open_amount > 0
),

debtors as (
    select * from {{ ref('dim_debtors') }}
),

bucketed as (
    select
        coalesce(debtors.debtor_type, 'unknown') as debtor_type,
        coalesce(debtors.segment_tenure, 'unknown') as segment_tenure,
        coalesce(debtors.segment_size, 'unknown') as segment_size,
        coalesce(debtors.segment_acquisition, 'unknown') as segment_acquisition,
        coalesce(debtors.segment_payer, 'unknown') as segment_payer,
        coalesce(debtors.country, 'unknown') as country,
        invoices.currency,
        invoices.open_amount,
        case when invoices.status = 'sold' then 'sold'
        else {{ aging_bucket('invoices.days_past_due') }} end as bucket
    from invoices
    left join debtors on invoices.debtor_id = debtors.debtor_id
),

{%- set buckets = [
    ('current', 'current'), ('1-30', '1_30'), ('31-60', '31_60'), ('61-90', '61_90'),
    ('91-180', '91_180'), ('181-365', '181_365'), ('>365', 'over_365'),
] %}

final as (
    select
        debtor_type,
        segment_tenure,
        segment_size,
        segment_acquisition,
        segment_payer,
        country,
        currency,
        {%- for bucket, suffix in buckets %}
        {{ to_money("coalesce(sum(open_amount) filter (where bucket = '" ~ bucket ~ "'), 0)") }}
            as open_{{ suffix }},
        {%- endfor %}
        {{ to_money("coalesce(sum(open_amount) filter (where bucket <> 'sold'), 0)") }}
            as open_total,
        {{ to_money("coalesce(sum(open_amount) filter (where bucket not in ('current', 'sold')), 0)") }}
            as overdue_total,
        cast(count(*) filter (where bucket <> 'sold') as integer) as n_open_invoices,
        cast(count(*) filter (where bucket not in ('current', 'sold')) as integer)
            as n_overdue_invoices,
        {{ to_money("coalesce(sum(open_amount) filter (where bucket = 'sold'), 0)") }}
            as sold_total,
        cast(count(*) filter (where bucket = 'sold') as integer) as n_sold_invoices,
        {{ as_of_date() }} as as_of
    from bucketed
    group by all
)

select * from final
