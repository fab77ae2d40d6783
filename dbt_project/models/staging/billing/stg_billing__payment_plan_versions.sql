-- Every distinct version of a payment plan (one row per plan_id and updated_at), so the
-- status of a plan can be read as of any date.
with source as (
    select * from {{ source('billing', 'payment_plans') }}
),

final as (
    select
        plan_id,
        debtor_id,
        created_at,
        {{ to_money('total_amount') }} as total_amount,
        installments,
        lower(frequency) as frequency,
        lower(status) as status,
        updated_at,
        _batch_id as batch_id
    from source
    qualify row_number() over (
        partition by plan_id, updated_at order by _batch_id desc, _loaded_at desc
    ) = 1
)

select * from final
