{#- Per debtor, the channels it opted out of before as_of (contact events of type opt_out):
    the consent the dunning marts check beside valid contact data. -#}
{% macro channel_opt_outs() -%}
    select
        debtor_id,
        bool_or(channel = 'email') as email_opted_out,
        bool_or(channel = 'sms') as sms_opted_out,
        bool_or(channel = 'phone') as phone_opted_out
    from {{ ref('stg_billing__contact_events') }}
    where event_type = 'opt_out' and occurred_date < {{ as_of_date() }}
    group by debtor_id
{%- endmacro %}
