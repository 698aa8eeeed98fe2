"""A REPEATABLE READ transaction keeps an old snapshot; the orders table's dead tuples stay although autovacuum runs."""
import sys
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import ask, backend_pid, require  # noqa: E402

# Autovacuum looks every second and takes a table from 5% dead rows: it runs (and removes nothing) within the plant.
SETTINGS = {"autovacuum_naptime": "1", "autovacuum_vacuum_scale_factor": "0.05", "autovacuum_vacuum_threshold": "1000"}
TABLE = "orders"
ROWS = 150_000


def _busy_writer(zoo):
    """The application keeps updating recent orders, so the dead tuples keep growing during the diagnosis."""
    session = zoo.session(application="orders-api")

    def loop(stop):
        n = 0
        while not stop.is_set() and session.process.poll() is None:
            first = 1 + (n * 500) % ROWS
            session.send(f"UPDATE {TABLE} SET status = 'shipped', updated_at = now() WHERE id BETWEEN {first} AND {first + 499};")
            n += 1
            stop.wait(1)
    return loop


def plant(zoo) -> dict:
    pg = zoo.pg
    pg.value(f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, customer text NOT NULL, status text NOT NULL,"
             " amount_cents bigint NOT NULL, updated_at timestamptz NOT NULL);"
             f"INSERT INTO {TABLE} SELECT i, 'customer-' || (i % 5000), 'new', 100 + i % 90000, now()"
             f" FROM generate_series(1, {ROWS}) i")
    pg.value(f"VACUUM ANALYZE {TABLE}")  # a clean table before the snapshot: every dead tuple below is the holder's doing
    holder = zoo.session(application="export-job")
    pid = backend_pid(holder)
    # The snapshot is taken by the first query of the transaction; from then on backend_xmin holds the horizon.
    holder.send("BEGIN ISOLATION LEVEL REPEATABLE READ;")
    ask(holder, f"SELECT count(*) FROM {TABLE}")
    require(zoo, lambda: pg.value(f"SELECT backend_xmin IS NOT NULL FROM pg_stat_activity WHERE pid = {pid}") == "t", 10,
            "the REPEATABLE READ snapshot's backend_xmin")
    # Committed after the snapshot began: dead to everyone but the holder, which may still see them.
    pg.value(f"UPDATE {TABLE} SET status = 'paid', updated_at = now()")
    zoo.background(_busy_writer(zoo))

    def vacuumed_in_vain():
        row = pg.rows(f"""SELECT s.n_dead_tup, s.last_autovacuum > a.xact_start AS after_snapshot
                          FROM pg_stat_user_tables s, pg_stat_activity a WHERE s.relname = '{TABLE}' AND a.pid = {pid}""")
        return bool(row) and row[0]["after_snapshot"] is True and row[0]["n_dead_tup"] >= ROWS
    require(zoo, vacuumed_in_vain, 45, f"an autovacuum of {TABLE} after the snapshot began, leaving {ROWS} dead tuples")
    return {"holder_pid": pid, "table": TABLE}
