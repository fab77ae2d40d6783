-- Receivables on a published bidder tape, with the days its offer runs: from the tape's cut-off
-- until offered_until. While on offer they are not dunned (bidders price what the tape says)
-- and not put on another tape.
with tapes as (
    select * from {{ source('sale', 'tapes') }}
    where kind = 'bidder' and state = 'published'
),

receivables as (
    select * from {{ source('sale', 'tape_receivables') }}
),

final as (
    select
        receivables.invoice_id,
        receivables.debtor_id,
        tapes.tape_id,
        tapes.as_of as offered_from,
        tapes.offered_until
    from receivables
    inner join tapes on receivables.tape_id = tapes.tape_id
)

select * from final
