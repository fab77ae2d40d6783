"""Contract-shaped landing batches at scale, written by DuckDB (fast, no simulation behind them).

For benchmarks of ingest only: the simulator is the realistic world; this is the big one.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb


def write_history(landing: Path, debtors: int, months: int, end: date, fmt: str = "parquet") -> str:
    batch_id = f"{end.isoformat()}T0600"
    folder = landing / batch_id
    folder.mkdir(parents=True, exist_ok=True)
    start = end - timedelta(days=31 * months)
    con = duckdb.connect()
    opts = "(format parquet, row_group_size 500000)" if fmt == "parquet" else "(format csv, header)"
    con.execute(f"""copy (
        select 'D' || i as debtor_id, case when i % 7 = 0 then 'business' else 'consumer' end as debtor_type,
               'Name ' || i as name, 'd' || i || '@example.com' as email, '+3161' || lpad((i % 10000000)::varchar, 7, '0') as phone_mobile,
               null as street, null as postal_code, null as city, case i % 3 when 0 then 'NL' when 1 then 'BE' else 'NO' end as country,
               'nl' as language, null::date as date_of_birth, null as company_registration,
               date '{start}' - (i % 900)::int as customer_since, 'online' as acquisition_channel, true as paperless,
               timestamp '{start}' as updated_at
        from range({debtors}) t(i)) to '{folder}/customers.{fmt}' {opts}""")
    con.execute(f"""copy (
        select 'I' || i || '-' || m as invoice_id, 'D' || i as debtor_id, 'invoice' as document_type,
               date '{start}' + (m * 30 + i % 28)::int as issue_date, date '{start}' + (m * 30 + i % 28 + 14)::int as due_date,
               (10 + (i * 7 + m) % 500)::decimal(18,2) as amount, 'EUR' as currency, 'energy' as product,
               false as disputed, null::timestamp as dispute_opened_at,
               (date '{start}' + (m * 30 + i % 28)::int)::timestamp as updated_at
        from range({debtors}) t(i), range({months}) s(m)) to '{folder}/invoices.{fmt}' {opts}""")
    con.execute(f"""copy (
        select 'P' || i || '-' || m as payment_id, 'D' || i as debtor_id, 'I' || i || '-' || m as invoice_id,
               (date '{start}' + (m * 30 + i % 28 + (i + m) % 40)::int)::timestamp as paid_at,
               (10 + (i * 7 + m) % 500)::decimal(18,2) as amount, 'EUR' as currency, 'bank_transfer' as method,
               null as reference
        from range({debtors}) t(i), range({months}) s(m)) to '{folder}/payments.{fmt}' {opts}""")
    return batch_id


def write_daily(landing: Path, debtors: int, day: date, rows: int = 50_000) -> str:
    """One day's CSV batch: `rows` new invoices and as many payments for existing debtors."""
    batch_id = f"{day.isoformat()}T0600"
    folder = landing / batch_id
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"""copy (
        select 'N' || i || '-{day}' as invoice_id, 'D' || (i * 17 % {debtors}) as debtor_id, 'invoice' as document_type,
               date '{day}' - 1 as issue_date, date '{day}' + 13 as due_date, (10 + i % 300)::decimal(18,2) as amount,
               'EUR' as currency, 'energy' as product, false as disputed, null as dispute_opened_at,
               (date '{day}' - 1)::timestamp as updated_at
        from range({rows}) t(i)) to '{folder}/invoices.csv' (format csv, header)""")
    con.execute(f"""copy (
        select 'NP' || i || '-{day}' as payment_id, 'D' || (i * 13 % {debtors}) as debtor_id, null as invoice_id,
               (date '{day}' - 1)::timestamp as paid_at, (5 + i % 200)::decimal(18,2) as amount, 'EUR' as currency,
               'ideal' as method, null as reference
        from range({rows}) t(i)) to '{folder}/payments.csv' (format csv, header)""")
    return batch_id
