-- One row per credit bureau report (debtor_id, reported_at); the later batch wins.
with source as (
    select * from {{ source('billing', 'credit_reports') }}
),

final as (
    select
        debtor_id,
        reported_at,
        cast(reported_at as date) as reported_date,
        bureau_score,
        registered_debts,
        coalesce(debt_restructuring, false) as debt_restructuring,
        coalesce(bankrupt, false) as bankrupt,
        coalesce(deceased, false) as deceased,
        _batch_id as batch_id
    from source
    qualify row_number() over (
        partition by debtor_id, reported_at order by _batch_id desc, _loaded_at desc
    ) = 1
)

select * from final
