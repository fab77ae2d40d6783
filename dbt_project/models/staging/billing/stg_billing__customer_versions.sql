-- Every distinct version of a customer (one row per debtor_id and updated_at), for
-- point-in-time attributes; a restated identical version in a later batch wins. A version holds
-- from valid_from: its own updated_at, except the first known version, which describes the
-- debtor from customer_since (an initial extract stamps every customer at the extract time,
-- after months of invoices that must still find their debtor).
with source as (
    select * from {{ source('billing', 'customers') }}
),

renamed as (
    select
        debtor_id,
        lower(debtor_type) as debtor_type,
        upper(country) as country,
        lower(language) as language,
        name,
        nullif(trim(email), '') as email,
        nullif(trim(phone_mobile), '') as phone_mobile,
        street,
        postal_code,
        city,
        date_of_birth,
        company_registration,
        customer_since,
        lower(acquisition_channel) as acquisition_channel,
        coalesce(paperless, false) as paperless,
        updated_at,
        _batch_id as batch_id
    from source
    qualify row_number() over (
        partition by debtor_id, updated_at order by _batch_id desc, _loaded_at desc
    ) = 1
),

dated as (
    select
        *,
        case
            when updated_at = min(updated_at) over (partition by debtor_id)
                then least(updated_at, cast(customer_since as timestamp))
            else updated_at
        end as valid_from,
        email is distinct from lag(email) over w as email_changed,
        phone_mobile is distinct from lag(phone_mobile) over w as mobile_changed
    from renamed
    window w as (partition by debtor_id order by updated_at)
),

final as (
    select
        * exclude (email_changed, mobile_changed),
        email is not null as has_email,
        phone_mobile is not null as has_mobile,
        -- since when the version's address and number are in use: a bounce before then was
        -- another address's
        max(case when email_changed then valid_from end) over w as email_since,
        max(case when mobile_changed then valid_from end) over w as mobile_since
    from dated
    window w as (partition by debtor_id order by updated_at rows unbounded preceding)
)

select * from final
