-- The newest version of each payment (payments carry no updated_at: the later batch wins).
{{ config(unique_key='payment_id') }}
with source as (
    select * from {{ source('billing', 'payments') }}
    {{- new_versions_only(source('billing', 'payments'), 'payment_id') }}
),

latest as (
    {{ latest_version('source', 'payment_id', '_batch_id desc, _loaded_at desc') }}
),

final as (
    select
        payment_id,
        debtor_id,
        nullif(trim(invoice_id), '') as invoice_id,
        paid_at,
        cast(paid_at as date) as paid_date,
        {{ to_money('amount') }} as amount,
        upper(currency) as currency,
        lower(method) as method,
        nullif(trim(reference), '') as reference,
        _batch_id as batch_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
