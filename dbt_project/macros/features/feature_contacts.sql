{#- debtor_features, part 4: contact history per channel in the 365 days before each date, and the
    responses and bounces the profile reads. -#}
{% macro feature_contacts(channels, responses) %}
contact_history as (
    select
        spine.as_of,
        events.debtor_id,
        count(*) filter (
            where events.event_type = 'sent' and events.occurred_date >= spine.as_of - 180
        ) as reminders_180d,
        {%- for channel, kinds in channels.items() %}
        {%- set contact = 'call_attempt' if channel == 'phone' else 'sent' %}
        count(*) filter (
            where events.channel = '{{ channel }}' and events.event_type = '{{ contact }}'
        ) as {{ channel }}_contacts_365d
        {%- for kind in kinds %},
        count(*) filter (
            where events.channel = '{{ channel }}' and events.event_type = '{{ kind }}'
        ) as {{ channel }}_{{ kind }}_365d
        {%- endfor %}{{ ',' if not loop.last }}
        {%- endfor %}
    from spine
    inner join events
        on spine.debtor_id = events.debtor_id
        and events.occurred_date < spine.as_of
        and events.occurred_date >= spine.as_of - 365
    group by 1, 2
),

responses as (
    select debtor_id, occurred_at from events where event_type in {{ responses }}
),

email_bounces as (
    select debtor_id, occurred_at from events where channel = 'email' and event_type = 'bounced'
),

sms_bounces as (
    select debtor_id, occurred_at from events where channel = 'sms' and event_type = 'bounced'
)
{%- endmacro %}
