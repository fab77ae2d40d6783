-- The debtors who must be neither dunned nor sold at as_of, and why: deceased, bankrupt, in
-- statutory debt restructuring (WSNP / collectieve schuldenregeling / gjeldsordning) or keeping
-- a payment plan, in that order. The one definition the dunning planner and the sale tape read.
with features as (
    select * from {{ ref('debtor_features') }}
),

final as (
    select
        debtor_id,
        as_of,
        case
            when coalesce(deceased, false) then 'deceased'
            when coalesce(bankrupt, false) then 'bankrupt'
            when coalesce(debt_restructuring, false) then 'debt_restructuring'
            when coalesce(active_plan, false) then 'active_plan'
        end as reason
    from features
)

select * from final
where reason is not null
