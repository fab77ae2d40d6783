-- The newest version of each contact event (the later batch wins).
{{ config(unique_key='event_id') }}
with source as (
    select * from {{ source('billing', 'contact_events') }}
    {{- new_versions_only(source('billing', 'contact_events'), 'event_id') }}
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
        _batch_id as batch_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
