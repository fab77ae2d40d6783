-- The same features at each month start in the `snapshot_months` months before as_of, for the
-- debtors overdue then, with label_collected_30d: every invoice overdue at the snapshot date was
-- fully paid within 30 days (payments dated before date + 30); null until that is observable.
with month_starts as (
    select cast(month_start as date) as as_of
    from range(
        date_trunc('month', {{ as_of_date() }} - 1)
            - to_months({{ var('snapshot_months', 12) }} - 1),
        date_trunc('month', {{ as_of_date() }} - 1) + interval 1 day,
        interval 1 month
    ) as months (month_start)
),

features as (
    {{ debtor_features('month_starts', with_label=true) }}
),

final as (
    select
        * exclude (overdue_paid_by_d30),
        case
            when as_of + 30 <= {{ as_of_date() }} then cast(overdue_paid_by_d30 as integer)
        end as label_collected_30d
    from features
    where overdue_balance > 0
)

select * from final
