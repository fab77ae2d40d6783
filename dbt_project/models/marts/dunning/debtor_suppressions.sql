-- The debtors who must be neither dunned nor sold at as_of, and why: deceased, bankrupt, in
-- statutory debt restructuring (WSNP / collectieve schuldenregeling / gjeldsordning) or keeping
-- a payment plan (plan_adherence: a plan that is not broken, completed or cancelled), in that
-- order. The one definition the dunning planner and the sale tape read.
with features as (
    select * from {{ ref('debtor_features') }}
),

kept_plans as (
    select distinct debtor_id
    from {{ ref('plan_adherence') }}
    where status = 'kept'
),

final as (
    select
        features.debtor_id,
        features.as_of,
        case
            when coalesce(deceased, false) then 'deceased'
            when coalesce(bankrupt, false) then 'bankrupt'
            when coalesce(debt_restructuring, false) then 'debt_restructuring'
            when kept_plans.debtor_id is not null then 'active_plan'
        end as reason
    from features
    left join kept_plans on features.debtor_id = kept_plans.debtor_id
)

select * from final
where reason is not null
