"""A mass UPDATE on a table whose autovacuum is off leaves half its rows dead; it was never vacuumed nor analyzed."""
import sys
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import require  # noqa: E402

TABLE = "events"
ROWS = 150_000


def plant(zoo) -> dict:
    pg = zoo.pg
    pg.value(f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, kind text NOT NULL, payload text NOT NULL, created_at timestamptz NOT NULL)"
             " WITH (autovacuum_enabled = false)")
    pg.value(f"INSERT INTO {TABLE} SELECT i, (ARRAY['click','view','signup'])[1 + i % 3], repeat(md5(i::text), 2),"
             f" now() - i * interval '1 second' FROM generate_series(1, {ROWS}) i")
    # The backfill that rewrote every row: each old version is dead, and nothing will ever vacuum them.
    pg.value(f"UPDATE {TABLE} SET payload = upper(payload)")
    # Each psql call ends its backend, which flushes the counters: wait until the stats system shows them.
    require(zoo, lambda: pg.value(f"""SELECT n_dead_tup >= {ROWS} AND n_live_tup >= {ROWS}
                                      FROM pg_stat_user_tables WHERE relname = '{TABLE}'""") == "t",
            15, f"{ROWS} dead tuples of {TABLE} in pg_stat_user_tables")
    return {"table": TABLE}
