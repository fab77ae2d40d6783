"""The warehouse build: dbt through its runner, the receivables ledger its Python model books
(ledger.py), the Great Expectations gates, and publishing the marts as Parquet."""
