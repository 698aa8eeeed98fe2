"""A reporting statement has been running for over a minute, blocking nobody."""
import sys
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import backend_pid, require  # noqa: E402

RUNNING_SECONDS = 62  # the runbooks call a statement long-running from 60 s
FRAGMENT = "quarterly_revenue_by_region"


def plant(zoo) -> dict:
    pg = zoo.pg
    pg.value("CREATE TABLE invoices (id bigint PRIMARY KEY, customer_id int NOT NULL, region text NOT NULL,"
             " amount_cents bigint NOT NULL, issued_at timestamptz NOT NULL);"
             "INSERT INTO invoices SELECT i, i % 997, (ARRAY['emea','amer','apac'])[1 + i % 3], 100 + i % 50000,"
             " now() - (i % 200) * interval '1 day' FROM generate_series(1, 50000) i; ANALYZE invoices")
    report = zoo.session(application="finance-reports")
    pid = backend_pid(report)
    # pg_sleep in FROM runs once and keeps the statement `active` for the whole time without burning a CPU that
    # the other classes share; the rest of the statement is the report it stands for.
    report.send(f"SELECT region, sum(amount_cents) AS {FRAGMENT} FROM invoices, pg_sleep(3600) "
                "WHERE issued_at >= date_trunc('quarter', now()) GROUP BY region;")
    require(zoo, lambda: pg.value(f"SELECT state FROM pg_stat_activity WHERE pid = {pid}") == "active", 10,
            "the report statement running")
    require(zoo, lambda: pg.value(f"""SELECT state = 'active' AND now() - query_start >= interval '{RUNNING_SECONDS} s'
                                      FROM pg_stat_activity WHERE pid = {pid}""") == "t",
            RUNNING_SECONDS + 15, f"PID {pid} running for {RUNNING_SECONDS}s")
    return {"query_pid": pid, "query_fragment": FRAGMENT}
