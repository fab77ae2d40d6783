-- Overdue episodes per debtor up to as_of (macro overdue_episodes over int_invoices_settled).
with episodes as (
    {{ overdue_episodes(ref('int_invoices_settled')) }}
),

final as (
    select * from episodes
)

select * from final
