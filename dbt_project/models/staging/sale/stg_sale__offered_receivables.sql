-- Receivables on a published bidder tape, with the days its offer runs: after the tape's cut-off
-- (offered_from) up to offered_until. While on offer they are not dunned (bidders price what the
-- tape says) and go on no other tape; a tape made again for its own cut-off sees them as before.
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
