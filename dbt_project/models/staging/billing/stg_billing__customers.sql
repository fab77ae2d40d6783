-- The newest version of each customer (by updated_at, then batch).
with versions as (
    select * from {{ ref('stg_billing__customer_versions') }}
),

final as (
    select *
    from versions
    qualify row_number() over (
        partition by debtor_id order by updated_at desc, batch_id desc
    ) = 1
)

select * from final
