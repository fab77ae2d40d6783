"""The receivables ledger: every payment and credit note booked once to the invoices it pays, with
the day each share was applied (flows/build/ledger.py has the rules). It holds every loaded
event, whatever the run's as_of; int_payments_allocated and the snapshots read it as of a date
(macro allocations_as_of). Incremental per debtor (incremental_debtors.sql): a build re-books the
debtors with rows loaded since the last one.
"""


def model(dbt, session):
    # the folder's materialization is not applied to Python models: set here as for the rest
    dbt.config(materialized="incremental", independent_of_as_of=True)
    from debtflow.flows.build import ledger

    debtors = None
    if dbt.is_incremental and _previous_build(session, dbt.this.identifier):
        # the pre-hooks collected them (macro collect_changed_debtors)
        debtors = [
            row[0]
            for row in session.execute(
                "select debtor_id from intermediate.changed_debtors where model = ?",
                [dbt.this.identifier],
            ).fetchall()
        ]
    return ledger.book(
        session,
        dbt.ref("stg_billing__invoices").sql_query(),
        dbt.ref("stg_billing__payments").sql_query(),
        debtors,
    )


def _previous_build(session, model: str) -> bool:
    """The Python side of macro previous_build: the model has a build to continue from."""
    return bool(
        session.execute(
            "select count(*) from intermediate.build_state "
            "where model = ? and not coalesce(retest_all, false)",
            [model],
        ).fetchone()[0]
    )
