-- The newest version of each invoice or credit note (by updated_at, then batch).
{{ config(unique_key='invoice_id') }}
with source as (
    select * from {{ source('billing', 'invoices') }}
    {{- new_versions_only(source('billing', 'invoices'), 'invoice_id') }}
),

latest as (
    {{ latest_version('source', 'invoice_id', 'updated_at desc, _batch_id desc, _loaded_at desc') }}
),

final as (
    select
        invoice_id,
        debtor_id,
        coalesce(nullif(lower(document_type), ''), 'invoice') as document_type,
        issue_date,
        due_date,
        {{ to_money('amount') }} as amount,
        upper(currency) as currency,
        product,
        coalesce(disputed, false) as disputed,
        dispute_opened_at,
        updated_at,
        _batch_id as batch_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
