-- The newest version of each contact event (the later batch wins).
with source as (
    select * from {{ source('billing', 'contact_events') }}
),

latest as (
    {{ latest_version('source', 'event_id', '_batch_id desc, _loaded_at desc') }}
),

final as (
    select
        event_id,
        debtor_id,
        nullif(trim(invoice_id), '') as invoice_id,
        lower(channel) as channel,
        lower(event_type) as event_type,
        occurred_at,
        cast(occurred_at as date) as occurred_date,
        lower(step) as step,
        campaign,
        coalesce(nullif(variant, ''), 'none') as variant,
        _batch_id as batch_id
    from latest
)

select * from final
