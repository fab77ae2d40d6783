-- Point-in-time features of every debtor known at the run's as_of (what scoring reads), from
-- the allocation, settlement and episodes the intermediate models computed within as_of.
with as_of_dates as (
    select {{ as_of_date() }} as as_of
),

features as (
    {{ debtor_features(
        'as_of_dates',
        at_as_of(ref('int_payments_allocated')),
        at_as_of(ref('int_invoices_settled')),
        at_as_of(ref('int_overdue_episodes_merged')),
    ) }}
),

final as (
    select * from features
)

select * from final
