"""The landing contract and everything that loads a landing batch into raw.*: batches and dialects,
file readers, row checks, the load, quarantine, and what the contract generates (dbt sources,
README table)."""
