"""A frequent statement filters orders_seq on the unindexed customer_ref: every call reads the whole table, and it
dominates total time in pg_stat_statements."""
import random
import sys
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import require, script  # noqa: E402

SETTINGS = {"shared_preload_libraries": "pg_stat_statements"}
TABLE = "orders_seq"
COLUMN = "customer_ref"
ROWS = 250_000
CALLS = 250


def plant(zoo) -> dict:
    pg = zoo.pg
    pg.value("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    pg.value(f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, {COLUMN} text NOT NULL, status text NOT NULL,"
             " amount_cents bigint NOT NULL, created_at timestamptz NOT NULL)")
    pg.value(f"INSERT INTO {TABLE} SELECT i, 'CUST-' || lpad((i % 25000)::text, 6, '0'), (ARRAY['new','paid','shipped'])[1 + i % 3],"
             f" 100 + i % 90000, now() - i * interval '10 seconds' FROM generate_series(1, {ROWS}) i")
    pg.value(f"ANALYZE {TABLE}")
    # Start the statistics window after the setup, like a reset in the morning: only the workload counts.
    pg.value("SELECT pg_stat_statements_reset()")
    rng = random.Random(18)
    statements = []
    for n in range(CALLS):
        # The API's lookup by customer (a sequential scan each time) among cheap primary-key reads.
        statements.append(f"SELECT id, status, amount_cents, created_at FROM {TABLE} WHERE {COLUMN} = "
                          f"'CUST-{rng.randrange(25000):06d}' ORDER BY created_at DESC LIMIT 20;")
        statements.append(f"SELECT status, amount_cents FROM {TABLE} WHERE id = {rng.randrange(1, ROWS)};")
    # Top-level statements from one client, as the application sends them (pg_stat_statements tracks top level).
    script(pg, "SET application_name = 'orders-api';\n" + "\n".join(statements) + "\n", timeout=240)
    require(zoo, lambda: pg.value(f"""SELECT coalesce(sum(calls), 0) >= {CALLS} FROM pg_stat_statements
                                      WHERE query LIKE '%{COLUMN} = $1%'""") == "t", 10, f"{CALLS} calls in pg_stat_statements")
    require(zoo, lambda: pg.value(f"SELECT seq_scan >= {CALLS} FROM pg_stat_user_tables WHERE relname = '{TABLE}'") == "t", 10,
            f"{CALLS} sequential scans of {TABLE} in pg_stat_user_tables")
    return {"table": TABLE, "column": COLUMN}
