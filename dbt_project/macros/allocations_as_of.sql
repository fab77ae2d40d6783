{#-
    The allocation as of every date in `dates_relation` (a relation or CTE with a DATE column
    `as_of`), read off the ledger (int_ledger): nothing is re-allocated per date. Per payment or
    credit note received before the date, the shares applied to invoices before it, and what
    was not yet given away as one credit row (invoice_id null): its final credit plus the
    shares that invoices issued on or after the date took from that credit later.
    With `debtors_relation` (as_of, debtor_id) only those debtors at each date. Columns as
    int_ledger's, with as_of; applied_date of a credit row is its paid_date.
-#}
{% macro allocations_as_of(dates_relation, debtors_relation=none) %}
with ledger_dates as (
    select distinct cast(as_of as date) as as_of from {{ dates_relation }}
),

ledger_received as (
    select ledger_dates.as_of, ledger.*
    from {{ scoped_dates('ledger_dates', debtors_relation) }} as ledger_dates
    inner join {{ ref('int_ledger') }} as ledger
        on ledger.paid_date < ledger_dates.as_of
        {{- in_scope(debtors_relation, 'ledger_dates', 'ledger') }}
),

ledger_applied as (
    select *
    from ledger_received
    where invoice_id is not null and applied_date < as_of
),

ledger_credit as (
    select
        as_of,
        source,
        payment_id,
        any_value(debtor_id) as debtor_id,
        cast(null as varchar) as invoice_id,
        {{ to_money('sum(allocated_amount)') }} as allocated_amount,
        any_value(paid_at) as paid_at,
        any_value(paid_date) as paid_date,
        any_value(paid_date) as applied_date,
        cast(null as date) as invoice_due_date,
        cast(null as varchar) as invoice_currency,
        'credit' as allocation_method,
        -- the shares applied before the date were booked first
        min(share_number) as share_number
    from ledger_received
    where invoice_id is null or applied_date >= as_of
    group by as_of, source, payment_id
)

select * from ledger_applied
union all by name
select * from ledger_credit
{% endmacro %}
