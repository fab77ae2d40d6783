-- One row per payment received before as_of, with how it was allocated: to invoices (by
-- invoice_id, reference or oldest first) and what stayed unallocated as the debtor's credit.
-- A view: the rows are kept per debtor in int_payments_applied; only as_of moves daily.
{{ config(materialized='view') }}

select *, {{ as_of_date() }} as as_of
from {{ ref('int_payments_applied') }}
