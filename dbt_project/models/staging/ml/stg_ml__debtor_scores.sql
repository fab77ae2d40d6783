-- The collectability scores per debtor and scoring date, as flows/score wrote them.
{{ config(materialized='view') }}
with scores as (
    select * from {{ source('ml', 'debtor_scores') }}
),

final as (
    select debtor_id, as_of as scored_for, p_collect_30d, grade
    from scores
)

select * from final
