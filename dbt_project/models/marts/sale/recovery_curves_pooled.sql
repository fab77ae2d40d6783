-- The pooled recovery curve: recovery_curves summed over vintages and grades, per currency,
-- segment, country and agency placement. Each month's share is what the receivables observed
-- that month recovered over their face value at default; the cumulative share adds the months
-- up (a chain over vintages of different lengths, so the young ones count where they are seen).
with vintages as (
    select * from {{ ref('recovery_curves') }}
),

pooled as (
    select
        as_of,
        currency,
        debtor_type,
        country,
        placed_with_agency,
        month_after_default,
        any_value(age_band) as age_band,
        cast(sum(receivables) as integer) as receivables,
        sum(face_at_default) as face_at_default,
        sum(open_at_month_start) as open_at_month_start,
        sum(recovered) as recovered
    from vintages
    group by all
),

final as (
    select
        *,
        cast(recovered / face_at_default as double) as recovery_share,
        cast(recovered / nullif(open_at_month_start, 0) as double) as recovery_rate,
        sum(cast(recovered / face_at_default as double)) over (
            partition by currency, debtor_type, country, placed_with_agency
            order by month_after_default rows between unbounded preceding and current row
        ) as cumulative_share
    from pooled
)

select * from final
