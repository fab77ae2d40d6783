{#- Aging bucket of an open invoice from its days past due (0 = not yet due). -#}
{% macro aging_bucket(days_past_due) -%}
    case
        when {{ days_past_due }} <= 0 then 'current'
        when {{ days_past_due }} <= 30 then '1-30'
        when {{ days_past_due }} <= 60 then '31-60'
        when {{ days_past_due }} <= 90 then '61-90'
        when {{ days_past_due }} <= 180 then '91-180'
        when {{ days_past_due }} <= 365 then '181-365'
        else '>365'
    end
{%- endmacro %}
