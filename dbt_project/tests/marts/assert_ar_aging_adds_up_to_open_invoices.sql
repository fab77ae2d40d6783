-- Asserts the aging buckets of ar_aging add up, per row, to open_total, and that open_total
-- over all rows equals the open amount of open invoices in fct_invoices not sold (nothing
-- dropped by the join to dim_debtors), and sold_total that of the sold ones. Returns the
-- offending rows.
with aging as (
    select * from {{ ref('ar_aging') }}
),

invoices as (
    select
        coalesce(sum(open_amount) filter (where status <> 'sold'), 0) as open_amount,
        coalesce(sum(open_amount) filter (where status = 'sold'), 0) as sold_amount
    from {{ ref('fct_invoices') }}
    where document_type = 'invoice' and open_amount > 0
),

row_mismatches as (
    select debtor_type, country, currency, open_total as reported,
        open_current + open_1_30 + open_31_60 + open_61_90 + open_91_180 + open_181_365
        + open_over_365 as expected
    from aging
    where open_total <> open_current + open_1_30 + open_31_60 + open_61_90 + open_91_180
        + open_181_365 + open_over_365
),

total_mismatch as (
    select 'all' as debtor_type, 'all' as country, 'all' as currency,
        (select coalesce(sum(open_total), 0) from aging) as reported,
        invoices.open_amount as expected
    from invoices
    where invoices.open_amount <> (select coalesce(sum(open_total), 0) from aging)
),

sold_mismatch as (
    select 'sold' as debtor_type, 'all' as country, 'all' as currency,
        (select coalesce(sum(sold_total), 0) from aging) as reported,
        invoices.sold_amount as expected
    from invoices
    where invoices.sold_amount <> (select coalesce(sum(sold_total), 0) from aging)
)

select * from row_mismatches
union all
select * from total_mismatch
union all
select * from sold_mismatch
