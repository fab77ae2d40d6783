-- The book's recovery curves as a vintage table: per month of default (vintage), currency,
-- segment, country, grade at default and agency placement, and per month after default (1-36),
-- what the receivables observed that month had open and what was paid on them. Default is the
-- EBA one of sale_candidates: 90 days past due. A month counts only when it ended before as_of
-- (and before the receivable was sold: the buyer collects from then on).
-- Built from difference rows (a receivable enters at month 1, leaves after its last observed
-- month; a payment lowers the open balance from the next month) summed over months, so the cost
-- follows the receivables and their payments, not receivables x 36 months.
with defaulted as (
    select
        invoices.invoice_id,
        invoices.debtor_id,
        invoices.currency,
        invoices.amount,
        cast(invoices.due_date + interval 90 day as date) as default_date
    from {{ ref('stg_billing__invoices') }} as invoices
    where invoices.document_type = 'invoice'
        and invoices.due_date + interval 90 day < {{ as_of_date() }}
),

applied as (
    -- the ledger's shares applied to these receivables before as_of
    select ledger.invoice_id, ledger.source, ledger.allocated_amount, ledger.applied_date
    from {{ ref('int_ledger') }} as ledger
    inner join defaulted on ledger.invoice_id = defaulted.invoice_id
    where ledger.applied_date < {{ as_of_date() }}
),

open_at_default as (
    select defaulted.invoice_id,
        defaulted.amount - coalesce(sum(applied.allocated_amount), 0) as face_at_default
    from defaulted
    left join applied
        on defaulted.invoice_id = applied.invoice_id
        and applied.applied_date < defaulted.default_date
    group by defaulted.invoice_id, defaulted.amount
),

placed as (
    -- handed to a collection agency before as_of, by fct_invoices' rule: an 'agency' step sent
    -- for the invoice, or the debtor's first one without an invoice after its due date
    select defaulted.invoice_id
    from defaulted
    inner join (
        select debtor_id, invoice_id, min(occurred_date) as handed_over_date
        from {{ ref('stg_billing__contact_events') }}
        where step = 'agency' and event_type = 'sent' and occurred_date < {{ as_of_date() }}
        group by all
    ) as handovers
        on handovers.debtor_id = defaulted.debtor_id
        and (handovers.invoice_id = defaulted.invoice_id
            or (handovers.invoice_id is null
                and handovers.handed_over_date > defaulted.default_date - interval 90 day))
    group by defaulted.invoice_id
),

scores as (
    select * from {{ ref('stg_ml__debtor_scores') }}
    where scored_for < {{ as_of_date() }}
),

graded as (
    -- the grade at default (the last score on or before it), else the newest before as_of
    select defaulted.invoice_id, at_default.grade
    from defaulted
    asof left join scores as at_default
        on defaulted.debtor_id = at_default.debtor_id
        and defaulted.default_date >= at_default.scored_for
),

current_grade as (
    select debtor_id, arg_max(grade, scored_for) as grade
    from scores
    group by debtor_id
),

receivables as (
    select
        defaulted.invoice_id,
        defaulted.default_date,
        cast(date_trunc('month', defaulted.default_date) as date) as vintage,
        defaulted.currency,
        debtors.debtor_type,
        debtors.country,
        coalesce(graded.grade, current_grade.grade, 0) as grade,
        placed.invoice_id is not null as placed_with_agency,
        open_at_default.face_at_default,
        cast(least(36, {{ whole_months(
            'defaulted.default_date', 'least(' ~ as_of_date() ~ ', coalesce(sold.sold_on, ' ~ as_of_date() ~ '))'
        ) }}) as integer) as observed_months
    from defaulted
    inner join open_at_default on defaulted.invoice_id = open_at_default.invoice_id
    left join {{ ref('dim_debtors') }} as debtors on defaulted.debtor_id = debtors.debtor_id
    left join placed on defaulted.invoice_id = placed.invoice_id
    left join graded on defaulted.invoice_id = graded.invoice_id
    left join current_grade on defaulted.debtor_id = current_grade.debtor_id
    left join {{ ref('stg_sale__sold_receivables') }} as sold
        on defaulted.invoice_id = sold.invoice_id
    where open_at_default.face_at_default > 0
),

after_default as (
    -- each share applied in an observed month after default, with that month's number
    select
        receivables.*,
        applied.source,
        applied.allocated_amount,
        cast({{ whole_months('receivables.default_date', 'applied.applied_date') }} + 1 as integer)
            as month_after_default
    from receivables
    inner join applied
        on receivables.invoice_id = applied.invoice_id
        and applied.applied_date >= receivables.default_date
    where {{ whole_months('receivables.default_date', 'applied.applied_date') }} + 1
        <= receivables.observed_months
),

differences as (
    select vintage, currency, debtor_type, country, grade, placed_with_agency,
        1 as month_after_default, 1 as receivables, face_at_default as face, face_at_default as open,
        0 as recovered, 0 as credited
    from receivables where observed_months >= 1
    union all
    select vintage, currency, debtor_type, country, grade, placed_with_agency,
        observed_months + 1, -1, -face_at_default, -face_at_default, 0, 0
    from receivables where observed_months between 1 and 35
    union all
    -- a share lowers the open balance from the next month until the receivable leaves
    select vintage, currency, debtor_type, country, grade, placed_with_agency,
        month_after_default, 0, 0, 0,
        case when source = 'payment' then allocated_amount else 0 end,
        case when source = 'credit_note' then allocated_amount else 0 end
    from after_default
    union all
    select vintage, currency, debtor_type, country, grade, placed_with_agency,
        month_after_default + 1, 0, 0, -allocated_amount, 0, 0
    from after_default where month_after_default < observed_months
    union all
    select vintage, currency, debtor_type, country, grade, placed_with_agency,
        observed_months + 1, 0, 0, allocated_amount, 0, 0
    from after_default where month_after_default < observed_months and observed_months < 36
    union all
    -- every month of every cell, so a month without payments still has its row
    select cells.*, months.month_after_default, 0, 0, 0, 0, 0
    from (
        select distinct vintage, currency, debtor_type, country, grade, placed_with_agency
        from receivables
    ) as cells
    cross join (select range as month_after_default from range(1, 37)) as months
),

monthly as (
    select vintage, currency, debtor_type, country, grade, placed_with_agency,
        month_after_default,
        sum(receivables) as receivables, sum(face) as face, sum(open) as open,
        sum(recovered) as recovered, sum(credited) as credited
    from differences
    group by all
),

running as (
    select
        *,
        sum(receivables) over cell as receivables_observed,
        sum(face) over cell as face_observed,
        sum(open) over cell as open_observed
    from monthly
    window cell as (
        partition by vintage, currency, debtor_type, country, grade, placed_with_agency
        order by month_after_default rows between unbounded preceding and current row
    )
),

final as (
    select
        {{ as_of_date() }} as as_of,
        vintage,
        currency,
        debtor_type,
        country,
        cast(grade as integer) as grade,
        placed_with_agency,
        month_after_default,
        case
            when month_after_default <= 6 then 'm1-6'
            when month_after_default <= 12 then 'm7-12'
            when month_after_default <= 18 then 'm13-18'
            when month_after_default <= 24 then 'm19-24'
            else 'm25-36'
        end as age_band,
        cast(receivables_observed as integer) as receivables,
        cast(face_observed as decimal(18, 2)) as face_at_default,
        cast(open_observed as decimal(18, 2)) as open_at_month_start,
        cast(recovered as decimal(18, 2)) as recovered,
        cast(credited as decimal(18, 2)) as credited,
        cast(recovered / face_observed as double) as recovery_share,
        cast(recovered / nullif(open_observed, 0) as double) as recovery_rate
    from running
    where receivables_observed > 0
)

select * from final
