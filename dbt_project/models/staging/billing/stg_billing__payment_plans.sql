-- The newest version of each payment plan (by updated_at, then batch).
with versions as (
    select * from {{ ref('stg_billing__payment_plan_versions') }}
),

final as (
    select *
    from versions
    qualify row_number() over (
        partition by plan_id order by updated_at desc, batch_id desc
    ) = 1
)

select * from final
