{#-
    The receivables of a sale tape at $as_of, one row per receivable, with every bidder field of
    dictionary.yml (pseudonyms aside: tape.py adds them) plus debtor_id and invoice_id, which the
    tape writer replaces. The selection: sale_candidates unresolved $months whole months after
    collection started, with at least the currency's minimum balance, and either no exclusion or
    one the selection keeps as its own pool ($pooled). A forward-flow tape (`forward_flow`) holds
    instead the receivables without any exclusion that reached $days past due from $first to
    $last (forward_flow.window: since the previous forward-flow run, within the agreement's
    dates). Rendered by tape.py with Jinja: `history` (months of repayments), `pool_by` (columns),
    `balance_edges` and `age_edges` with their `balance_labels` and `age_labels`.
-#}
with candidates as (
    select *
    from marts.sale_candidates
    {%- if forward_flow %}
    where exclusion is null
        and due_date + $days between $first and $last
    {%- else %}
    where months_in_collection >= $months
        and principal_balance >= coalesce(
            $min_amounts[list_position($min_currencies, currency)], $min_default
        )
        and (exclusion is null or list_contains($pooled, exclusion))
    {%- endif %}
),

debtors as (
    select distinct debtor_id from candidates
),

contact as (
    -- what the debtor was sent and how they answered, per channel, in the last 36 months
    select
        events.debtor_id,
        max(events.occurred_date) as last_contact_date,
        count(*) filter (where channel = 'email' and event_type = 'sent') as email_sent,
        count(*) filter (
            where channel = 'email' and event_type in ('opened', 'clicked', 'replied')
        ) as email_responses,
        count(*) filter (where channel = 'sms' and event_type = 'sent') as sms_sent,
        count(*) filter (
            where channel = 'sms' and event_type in ('clicked', 'replied')
        ) as sms_responses,
        count(*) filter (where channel = 'letter' and event_type = 'sent') as letter_sent,
        count(*) filter (where event_type = 'call_attempt') as phone_attempts,
        count(*) filter (where event_type = 'call_connected') as phone_connected,
        count(*) filter (where event_type = 'promise_to_pay') as promises_to_pay
    from staging.stg_billing__contact_events as events
    inner join debtors on events.debtor_id = debtors.debtor_id
    where events.occurred_date < $as_of
        and events.occurred_date >= $as_of - interval 36 month
    group by events.debtor_id
),

contactable as (
    -- valid and not opted out: the dunning candidates' own definition
    select debtor_id, bool_or(email_ok) as email_valid, bool_or(sms_ok) as phone_valid,
        any_value(steps_taken) as steps_taken
    from marts.dunning_candidates
    where debtor_id in (select debtor_id from debtors)
    group by debtor_id
),

history as (
    select
        ledger.invoice_id,
        {%- for m in range(1, history + 1) %}
        coalesce(sum(ledger.allocated_amount) filter (where months_back = {{ m }}), 0)
            as repaid_m{{ '%02d' % m }},
        {%- endfor %}
        coalesce(sum(ledger.allocated_amount) filter (where months_back between 1 and {{ history }}), 0)
            as repaid_total_36m
    from (
        select
            invoice_id,
            allocated_amount,
            (year($as_of) * 12 + month($as_of)) - (year(applied_date) * 12 + month(applied_date))
                as months_back
        from intermediate.int_ledger
        where invoice_id in (select invoice_id from candidates) and applied_date < $as_of
    ) as ledger
    group by ledger.invoice_id
),

fees as (
    select invoice_id, sum(fee_amount) as fees_balance
    from dunning.ledger
    where state = 'sent' and fee_amount > 0
        and invoice_id in (select invoice_id from candidates)
    group by invoice_id
),

rows as (
    select
        candidates.debtor_id,
        candidates.invoice_id,
        candidates.debtor_type as legal_type,
        candidates.country,
        case when len(regexp_replace(customers.postal_code, '[^0-9]', '', 'g')) >= 2
            then left(regexp_replace(customers.postal_code, '[^0-9]', '', 'g'), 2) end as region,
        case
            when candidates.debtor_type <> 'consumer' or customers.date_of_birth is null then null
            when date_sub('year', customers.date_of_birth, $as_of) < 25 then '18-24'
            when date_sub('year', customers.date_of_birth, $as_of) < 35 then '25-34'
            when date_sub('year', customers.date_of_birth, $as_of) < 45 then '35-44'
            when date_sub('year', customers.date_of_birth, $as_of) < 55 then '45-54'
            when date_sub('year', customers.date_of_birth, $as_of) < 65 then '55-64'
            else '65+'
        end as age_band,
        dim.customer_since,
        coalesce(features.deceased, false) as deceased,
        case
            when features.bankrupt then 'bankrupt'
            when features.debt_restructuring then 'debt_restructuring'
            else 'none'
        end as insolvency_status,
        false as legal_proceedings,
        coalesce(dim.has_email, false) as email_available,
        coalesce(contactable.email_valid, false) as email_valid,
        coalesce(dim.has_mobile, false) as phone_available,
        coalesce(contactable.phone_valid, false) as phone_valid,
        contact.last_contact_date,
        dim.last_response_date,
        candidates.as_of as cut_off_date,
        candidates.issue_date as inception_date,
        candidates.due_date,
        candidates.country as governing_law,
        candidates.currency,
        candidates.amount as original_amount,
        candidates.principal_balance,
        cast(0 as decimal(18, 2)) as interest_balance,
        cast(coalesce(fees.fees_balance, 0) as decimal(18, 2)) as fees_balance,
        cast(candidates.principal_balance + coalesce(fees.fees_balance, 0) as decimal(18, 2))
            as total_balance,
        candidates.days_past_due,
        candidates.default_date,
        candidates.months_since_default,
        candidates.last_payment_date,
        candidates.last_payment_amount,
        candidates.status as legal_status,
        candidates.limitation_date,
        candidates.collection_started_date,
        candidates.months_in_collection,
        case when candidates.placed_with_agency then 'external' else 'internal' end
            as collection_type,
        array_to_string(contactable.steps_taken, ',') as steps_taken,
        {%- for name in ('email_sent', 'email_responses', 'sms_sent', 'sms_responses',
                         'letter_sent', 'phone_attempts', 'phone_connected', 'promises_to_pay') %}
        cast(coalesce(contact.{{ name }}, 0) as integer) as {{ name }},
        {%- endfor %}
        cast(coalesce(history.repaid_total_36m, 0) as decimal(18, 2)) as repaid_total_36m,
        {%- for m in range(1, history + 1) %}
        cast(coalesce(history.repaid_m{{ '%02d' % m }}, 0) as decimal(18, 2))
            as repaid_m{{ '%02d' % m }},
        {%- endfor %}
        scores.grade,
        round(scores.p_collect_30d, 4) as p_collect_30d,
        scores.model_version,
        candidates.exclusion
    from candidates
    left join marts.dim_debtors as dim on candidates.debtor_id = dim.debtor_id
    left join marts.debtor_features as features
        on candidates.debtor_id = features.debtor_id and features.as_of = $as_of
    left join staging.stg_billing__customers as customers
        on candidates.debtor_id = customers.debtor_id
    left join contact on candidates.debtor_id = contact.debtor_id
    left join contactable on candidates.debtor_id = contactable.debtor_id
    left join history on candidates.invoice_id = history.invoice_id
    left join fees on candidates.invoice_id = fees.invoice_id
    left join ml.debtor_scores as scores
        on candidates.debtor_id = scores.debtor_id and scores.as_of = $as_of
),

banded as (
    select
        *,
        case
            {%- for edge in balance_edges %}
            when total_balance < {{ edge }} then '{{ balance_labels[loop.index0] }}'
            {%- endfor %}
            else '{{ balance_labels[-1] }}'
        end as balance_band,
        case
            {%- for edge in age_edges %}
            when months_since_default < {{ edge }} then '{{ age_labels[loop.index0] }}'
            {%- endfor %}
            else '{{ age_labels[-1] }}'
        end as default_age_band
    from rows
)

-- a pool: the receivables alike in the selection's pool_by; an exclusion kept apart leads
select
    *,
    lower(concat_ws('-', exclusion{% for dim in pool_by %}, {{ dim }}{% endfor %})) as pool
from banded
