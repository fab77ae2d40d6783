-- Overdue episodes per debtor up to as_of (macro overdue_episodes over int_invoices_settled).
-- Incremental per debtor like the settlement it reads (incremental_debtors.sql).
-- depends_on: {{ ref('stg_billing__invoices') }} {{ ref('stg_billing__payments') }} (read by the hooks)
{%- set previous = previous_build() %}

with settled as (
    select * from {{ at_as_of(ref('int_invoices_settled')) }} {{ changed_debtors_only(previous) }}
),

episodes as (
    {{ overdue_episodes('settled') }}
),

final as (
    select * exclude (as_of) from episodes
)

select * from final
