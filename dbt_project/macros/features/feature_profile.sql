{#- debtor_features, part 5: the debtor's profile at each date by ASOF joins: the customer version in
    force, the latest bureau report, the last response and the last bounce of each channel (which
    counts only if the address or number was in use then). -#}
{% macro feature_profile() %}
latest as (
    -- the newest row dated before as_of per debtor, one ASOF join per source
    select
        spine.as_of,
        spine.debtor_id,
        customer.debtor_type,
        customer.country,
        customer.acquisition_channel,
        customer.paperless,
        customer.has_email,
        customer.has_mobile,
        customer.customer_since,
        report.bureau_score,
        report.registered_debts,
        report.debt_restructuring,
        report.bankrupt,
        report.deceased,
        cast(response.occurred_at as date) as last_response_date,
        -- a bounce of the address in use (one before it changed was another address's)
        coalesce(email_bounce.occurred_at >= customer.email_since, false) as email_bounced,
        coalesce(sms_bounce.occurred_at >= customer.mobile_since, false) as sms_bounced
    from spine
    asof left join customer_versions as customer
        on spine.debtor_id = customer.debtor_id and spine.as_of_ts > customer.valid_from
    asof left join {{ ref('stg_billing__credit_reports') }} as report
        on spine.debtor_id = report.debtor_id and spine.as_of_ts > report.reported_at
    asof left join responses as response
        on spine.debtor_id = response.debtor_id and spine.as_of_ts > response.occurred_at
    asof left join email_bounces as email_bounce
        on spine.debtor_id = email_bounce.debtor_id and spine.as_of_ts > email_bounce.occurred_at
    asof left join sms_bounces as sms_bounce
        on spine.debtor_id = sms_bounce.debtor_id and spine.as_of_ts > sms_bounce.occurred_at
)
{%- endmacro %}
