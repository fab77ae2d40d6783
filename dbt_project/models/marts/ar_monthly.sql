-- Receivables per currency and calendar month before as_of: opening and closing balance,
-- invoiced, credited and collected, DSO by the count-back method and the collection
-- effectiveness index. Balances at a month boundary X come from the run's allocation: invoices
-- issued before X less the payment and credit-note shares applied before X (the ledger never
-- moves them, so this is the allocation as of X).
-- Documents and shares are first summed per currency and day (a few thousand groups at 1M
-- debtors), so the month arithmetic below runs on those sums, not on every row.
with documents as (
    select currency, document_type, issue_date, due_date, sum(amount) as amount
    from {{ ref('int_invoices_settled') }}
    group by all
),

shares as (
    -- applied to an invoice (not the debtor's credit), with that invoice's due date and currency
    select
        invoice_currency as currency,
        applied_date,
        invoice_due_date as due_date,
        sum(allocated_amount) as allocated_amount
    from {{ ref('int_payments_allocated') }}
    where invoice_id is not null
    group by all
),

boundaries as (
    -- the first of every month from the first invoice up to the last month start before as_of
    select cast(boundary as date) as boundary
    from range(
        (select date_trunc('month', min(issue_date)) from documents),
        date_trunc('month', {{ as_of_date() }}) + interval 1 day,
        interval 1 month
    ) as months (boundary)
),

currencies as (
    select distinct currency from documents
),

steps as (
    -- the month boundaries (month starts) each amount counts at: an invoice is receivable from
    -- the first boundary after its issue date and current (not yet due) until the first one
    -- after its due date; a share takes its amount off from the first boundary after it was
    -- applied, and off the current part until the first one after its invoice's due date
    select
        currency,
        amount,
        cast(date_trunc('month', issue_date) + interval 1 month as date) as counts_from,
        cast(date_trunc('month', due_date) + interval 1 month as date) as overdue_from
    from documents
    where document_type = 'invoice'
    union all
    select
        currency,
        -allocated_amount,
        cast(date_trunc('month', applied_date) + interval 1 month as date),
        cast(date_trunc('month', due_date) + interval 1 month as date)
    from shares
),

balance_changes as (
    -- the balance at a boundary is the running sum of these changes (group-bys, not a scan of
    -- every document per boundary)
    select currency, counts_from as boundary, amount as receivables,
        case when counts_from < overdue_from then amount else 0 end as current_receivables
    from steps
    union all
    select currency, overdue_from, 0, -amount
    from steps
    where counts_from < overdue_from
),

balances as (
    select
        boundaries.boundary,
        currencies.currency,
        coalesce(sum(sum(changes.receivables)) over w, 0) as receivables,
        coalesce(sum(sum(changes.current_receivables)) over w, 0) as current_receivables
    from boundaries
    cross join currencies
    left join balance_changes as changes
        on changes.currency = currencies.currency and changes.boundary = boundaries.boundary
    group by boundaries.boundary, currencies.currency
    window w as (partition by currencies.currency order by boundaries.boundary)
),

flows as (
    select
        date_trunc('month', issue_date)::date as month,
        currency,
        sum(amount) filter (where document_type = 'invoice') as invoiced,
        sum(amount) filter (where document_type = 'credit_note') as credited
    from documents
    group by all
),

collections as (
    select date_trunc('month', paid_date)::date as month, currency, sum(collected) as collected
    from (
        select paid_date, currency, sum(amount) as collected
        from {{ ref('stg_billing__payments') }}
        where paid_date < {{ as_of_date() }}
        group by all
    )
    group by all
),

months as (
    select
        opening.boundary as month,
        opening.currency,
        cast(datediff('day', opening.boundary, closing.boundary) as integer) as days_in_month,
        opening.receivables as opening_receivables,
        coalesce(flows.invoiced, 0) as invoiced,
        coalesce(flows.credited, 0) as credited,
        coalesce(collections.collected, 0) as collected,
        closing.receivables as closing_receivables,
        closing.current_receivables as closing_current_receivables
    from balances as opening
    inner join balances as closing
        on closing.currency = opening.currency
        and closing.boundary = opening.boundary + interval 1 month
    left join flows on flows.month = opening.boundary and flows.currency = opening.currency
    left join collections
        on collections.month = opening.boundary and collections.currency = opening.currency
),

count_back as (
    -- walk back from the month through earlier months' invoicing until it covers the closing
    -- receivables: whole months count their days, the last one the covered fraction
    select
        months.month,
        months.currency,
        sum(
            case
                when earlier.cumulative_invoiced <= months.closing_receivables
                    then earlier.days_in_month
                when earlier.cumulative_invoiced - earlier.invoiced < months.closing_receivables
                    then earlier.days_in_month
                    * (months.closing_receivables - (earlier.cumulative_invoiced - earlier.invoiced))
                    / earlier.invoiced
                else 0
            end
        ) as dso
    from months
    inner join (
        select
            later.month as for_month,
            earlier.currency,
            earlier.days_in_month,
            earlier.invoiced,
            sum(earlier.invoiced) over (
                partition by later.month, earlier.currency order by earlier.month desc
                rows unbounded preceding
            ) as cumulative_invoiced
        from months as later
        inner join months as earlier
            on earlier.currency = later.currency and earlier.month <= later.month
    ) as earlier
        on earlier.for_month = months.month and earlier.currency = months.currency
    where earlier.invoiced > 0
    group by all
),

final as (
    select
        months.month,
        months.currency,
        months.days_in_month,
        {{ to_money('months.opening_receivables') }} as opening_receivables,
        {{ to_money('months.invoiced') }} as invoiced,
        {{ to_money('months.credited') }} as credited,
        {{ to_money('months.collected') }} as collected,
        {{ to_money('months.closing_receivables') }} as closing_receivables,
        {{ to_money('months.closing_current_receivables') }} as closing_current_receivables,
        {{ to_money('months.closing_receivables - months.closing_current_receivables') }}
            as closing_overdue_receivables,
        cast(round(count_back.dso, 1) as double) as dso_count_back,
        cast(round(100.0 * (months.opening_receivables + months.invoiced - months.closing_receivables)
            / nullif(months.opening_receivables + months.invoiced
                - months.closing_current_receivables, 0), 2) as double)
            as collection_effectiveness_index,
        {{ as_of_date() }} as as_of
    from months
    left join count_back
        on months.month = count_back.month and months.currency = count_back.currency
)

select * from final
