-- Each invoice and credit note issued before as_of with what was paid, credited and is open,
-- and the day it was settled (macro settle_invoices over int_payments_allocated).
-- Incremental per debtor like the allocation it reads (incremental_debtors.sql).
-- depends_on: {{ ref('stg_billing__invoices') }} {{ ref('stg_billing__payments') }} (read by the hooks)
{{ config(moves_with_due_dates=false) }}
{%- set previous = previous_build() %}

with as_of_dates as (
    select {{ as_of_date() }} as as_of
),

{%- if previous %}

changed as (
    select * from {{ collected_debtors() }}
),
{%- endif %}

settled as (
    {{ settle_invoices(
        'as_of_dates', at_as_of(ref('int_payments_allocated')), 'changed' if previous
    ) }}
),

final as (
    select * exclude (as_of) from settled
)

select * from final
