{#- Whether an invoice was (or is being) paid late as of `as_of`: settled after its due date, or
    still unsettled past it; null for a credit note. fct_invoices and dim_debtors share it. -#}
{% macro paid_late(as_of) -%}
    case
        when document_type = 'credit_note' then null
        when paid_date is not null then paid_date > due_date
        when due_date < {{ as_of }} then true
    end
{%- endmacro %}
