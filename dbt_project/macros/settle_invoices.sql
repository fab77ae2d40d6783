{#-
    Each invoice and credit note issued before every date in `dates_relation`, with what
    `allocations_relation` (allocations_as_of the same dates) applied to it by then:
    paid (payments), credited (credit notes), open, and paid_date - the day the applied shares
    first covered the amount (null while not fully settled; null for credit notes).
-#}
{% macro settle_invoices(dates_relation, allocations_relation, debtors_relation=none) %}
with settle_dates as (
    select distinct cast(as_of as date) as as_of from {{ dates_relation }}
),

settle_documents as (
    select settle_dates.as_of, documents.*
    from {{ scoped_dates('settle_dates', debtors_relation) }} as settle_dates
    inner join {{ ref('stg_billing__invoices') }} as documents
        on documents.issue_date < settle_dates.as_of
        {{- in_scope(debtors_relation, 'settle_dates', 'documents') }}
),

settle_running as (
    select
        shares.as_of,
        shares.invoice_id,
        shares.source,
        shares.applied_date,
        shares.allocated_amount,
        documents.amount,
        sum(shares.allocated_amount) over (
            partition by shares.as_of, shares.invoice_id
            order by shares.applied_date, shares.paid_at, shares.source desc, shares.payment_id
            rows unbounded preceding
        ) as applied_so_far
    from {{ allocations_relation }} as shares
    inner join settle_documents as documents
        on shares.as_of = documents.as_of and shares.invoice_id = documents.invoice_id
),

settle_timeline as (
    select
        as_of,
        invoice_id,
        coalesce(sum(allocated_amount) filter (where source = 'payment'), 0) as paid_amount,
        coalesce(sum(allocated_amount) filter (where source = 'credit_note'), 0)
            as credited_amount,
        min(applied_date) filter (where source = 'payment') as first_payment_date,
        min(applied_date) filter (where applied_so_far >= amount) as settled_date
    from settle_running
    group by all
),

settle_final as (
    select
        documents.as_of,
        documents.invoice_id,
        documents.debtor_id,
        documents.document_type,
        documents.issue_date,
        documents.due_date,
        documents.amount,
        documents.currency,
        documents.product,
        case
            when documents.disputed
                then cast(coalesce(documents.dispute_opened_at, documents.updated_at) as date)
        end as dispute_date,
        {{ to_money('coalesce(timeline.paid_amount, 0)') }} as paid_amount,
        {{ to_money('coalesce(timeline.credited_amount, 0)') }} as credited_amount,
        {{ to_money('coalesce(timeline.paid_amount, 0) + coalesce(timeline.credited_amount, 0)') }}
            as allocated_amount,
        case
            when documents.document_type = 'invoice'
                then {{ to_money('documents.amount - coalesce(timeline.paid_amount, 0)'
                    ~ ' - coalesce(timeline.credited_amount, 0)') }}
            else {{ to_money('0') }}
        end as open_amount,
        timeline.first_payment_date,
        case when documents.document_type = 'invoice' then timeline.settled_date end as paid_date
    from settle_documents as documents
    left join settle_timeline as timeline
        on documents.as_of = timeline.as_of and documents.invoice_id = timeline.invoice_id
)

select * from settle_final
{% endmacro %}
