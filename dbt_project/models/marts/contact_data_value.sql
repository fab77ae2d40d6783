-- The value of contact data: per segment, the 30-day collection rate of overdue debtors with a
-- valid e-mail address (or mobile number) against those without one, from the labelled
-- month-start snapshots (debtor-months, point-in-time: contact data and segment as they were
-- at the snapshot date). Valid = present and never bounced before the date.
with snapshots as (
    select * from {{ ref('debtor_feature_snapshots') }}
    where label_collected_30d is not null
),

debtor_months as (
    select
        label_collected_30d,
        has_email and not email_bounced as has_valid_email,
        has_mobile and not sms_bounced as has_valid_mobile,
        coalesce(debtor_type, 'unknown') as segment_debtor_type,
        case when tenure_days < 365 then 'new' else 'loyal' end as segment_tenure,
        case when acquisition_channel = 'online' then 'digital' else 'offline' end
            as segment_acquisition,
        case
            when n_invoices_paid_late_12m >= 3 then 'frequent_late'
            when n_invoices_paid_late_12m >= 1 then 'one_off_late'
            else 'punctual'
        end as segment_payer
    from snapshots
),

by_contact as (
    select *, 'email' as contact_type, has_valid_email as has_valid_contact from debtor_months
    union all
    select *, 'mobile', has_valid_mobile from debtor_months
),

segmented as (
    {%- for dimension, column in [
        ('all', "'all'"), ('debtor_type', 'segment_debtor_type'), ('tenure', 'segment_tenure'),
        ('acquisition', 'segment_acquisition'), ('payer', 'segment_payer'),
    ] %}
    select *, '{{ dimension }}' as segment_dimension, {{ column }} as segment from by_contact
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

totals as (
    select
        segment_dimension,
        segment,
        contact_type,
        cast(count(*) filter (where has_valid_contact) as integer) as debtor_months_with,
        cast(count(*) filter (where has_valid_contact and label_collected_30d = 1) as integer)
            as collected_with,
        cast(count(*) filter (where not has_valid_contact) as integer) as debtor_months_without,
        cast(count(*) filter (where not has_valid_contact and label_collected_30d = 1) as integer)
            as collected_without
    from segmented
    group by all
),

final as (
    select
        *,
        {{ rate_with_interval('collection_rate_with', 'collected_with', 'debtor_months_with') }},
        {{ rate_with_interval(
            'collection_rate_without', 'collected_without', 'debtor_months_without'
        ) }},
        collected_with::double / nullif(debtor_months_with, 0)
        - collected_without::double / nullif(debtor_months_without, 0) as collection_rate_uplift,
        {{ as_of_date() }} as as_of
    from totals
)

select * from final
