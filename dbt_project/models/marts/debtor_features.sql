-- Point-in-time features of every debtor known at the run's as_of (what scoring reads).
with as_of_dates as (
    select {{ as_of_date() }} as as_of
),

features as (
    {{ debtor_features('as_of_dates') }}
),

final as (
    select * from features
)

select * from final
