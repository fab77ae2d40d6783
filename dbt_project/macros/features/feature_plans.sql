{#- debtor_features, part 7: payment plans as of each date (active, broken, completed). -#}
{% macro feature_plans() %}
plan_at as (
    select spine.as_of, plans.debtor_id, plans.status
    from spine
    inner join {{ ref('stg_billing__payment_plan_versions') }} as plans
        on spine.debtor_id = plans.debtor_id
        and plans.updated_at < spine.as_of_ts
    qualify row_number() over (
        partition by spine.as_of, plans.plan_id order by plans.updated_at desc
    ) = 1
),

plans as (
    select
        as_of,
        debtor_id,
        bool_or(status = 'active') as active_plan,
        count(*) filter (where status = 'broken') as n_broken_plans,
        count(*) filter (where status = 'completed') as n_completed_plans
    from plan_at
    group by 1, 2
)
{%- endmacro %}
