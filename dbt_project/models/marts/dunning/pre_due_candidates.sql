-- One row per invoice that may get a friendly reminder before its due date at as_of: issued
-- before as_of, not yet due, open and undisputed, of a debtor who is not on direct debit (its
-- latest payment before as_of was not a direct debit: the bank collects it anyway) and is
-- neither suppressed (debtor_suppressions) nor held from dunning (sold, offered for sale, placed
-- with an agency: dunning_candidates). p_late is the late-payment model's score for as_of; the
-- planner (flows/dunning/pre_due.py) applies the policy's threshold and days before the due
-- date. A view: the scores are written after the build, and it is read once a day.
{{ config(materialized='view') }}

with invoices as (
    select *
    from {{ at_as_of(ref('int_invoices_settled')) }}
    where document_type = 'invoice'
        and open_amount > 0
        and issue_date < {{ as_of_date() }}
        and due_date >= {{ as_of_date() }}
        and not coalesce(dispute_date < {{ as_of_date() }}, false)
),

direct_debit as (
    select debtor_id
    from {{ ref('stg_billing__payments') }}
    where paid_date < {{ as_of_date() }}
    group by debtor_id
    having arg_max(method, paid_at) = 'direct_debit'
),

held as (
    -- a standing reason of the dunning marts (not a dispute of one overdue invoice)
    select debtor_id from {{ ref('debtor_suppressions') }}
    union
    select debtor_id from {{ ref('dunning_candidates') }}
    where suppression_reason is not null and suppression_reason <> 'disputed'
),

scores as (
    select invoice_id, p_late, model_version
    from {{ source('ml', 'invoice_late_scores') }}
    where as_of = {{ as_of_date() }}
),

opt_outs as (
    {{ channel_opt_outs() }}
),

final as (
    select
        invoices.as_of,
        invoices.invoice_id,
        invoices.debtor_id,
        invoices.currency,
        debtors.debtor_type,
        debtors.country,
        debtors.language,
        invoices.issue_date,
        invoices.due_date,
        cast(invoices.due_date - invoices.as_of as integer) as days_to_due,
        {{ to_money('invoices.open_amount') }} as amount_due,
        scores.p_late,
        scores.model_version as late_model_version,
        debtors.has_valid_email and not coalesce(opt_outs.email_opted_out, false) as email_ok,
        debtors.has_valid_mobile and not coalesce(opt_outs.sms_opted_out, false) as sms_ok,
        debtors.has_mobile and not coalesce(opt_outs.phone_opted_out, false) as phone_ok
    from invoices
    inner join {{ ref('dim_debtors') }} as debtors on invoices.debtor_id = debtors.debtor_id
    left join scores on invoices.invoice_id = scores.invoice_id
    left join opt_outs on invoices.debtor_id = opt_outs.debtor_id
    where invoices.debtor_id not in (select debtor_id from direct_debit)
        and invoices.debtor_id not in (select debtor_id from held)
)

select * from final
