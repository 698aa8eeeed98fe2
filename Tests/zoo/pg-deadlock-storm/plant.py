"""Placing an order reserves stock: two groups of order-service sessions update the same two stock_items rows in
opposite orders, in a loop; PostgreSQL detects a deadlock and aborts one transaction several times a second. The loop
runs in the background until the class ends."""
import sys
import time
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import PlantError, require  # noqa: E402

# Detection after 100 ms instead of 1 s: many deadlocks in any few-second window the diagnosis reads.
SETTINGS = {"deadlock_timeout": "100ms"}
TABLE = "stock_items"  # not "orders": the symptom says orders, the finding must name the table
WORKERS_PER_GROUP = 2
PAUSE_SECONDS = 0.3  # between one worker's transactions: a few deadlocks a second, not a CPU-bound loop


def _worker(session, first: int, second: int):
    # One multi-statement query is one implicit transaction the server runs without a client round trip, so a
    # worker is `active` (never idle in transaction) while it holds a row; a deadlock aborts the whole of it.
    statement = (f"UPDATE {TABLE} SET reserved = reserved + 1, updated_at = now() WHERE id = {first} \\; "
                 "SELECT pg_sleep(0.05) \\; "
                 f"UPDATE {TABLE} SET reserved = reserved + 1, updated_at = now() WHERE id = {second};")

    def loop(stop):
        while not stop.is_set() and session.process.poll() is None:
            session.send(statement)
            session.send("SELECT 'tick';")
            while session.read_line() != "tick":
                if stop.is_set() or session.process.poll() is not None:
                    return
            stop.wait(PAUSE_SECONDS)
    return loop


def _deadlocks(pg) -> int:
    return int(pg.value("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"))


def plant(zoo) -> dict:
    pg = zoo.pg
    pg.value(f"CREATE TABLE {TABLE} (id int PRIMARY KEY, sku text NOT NULL, on_hand int NOT NULL, reserved int NOT NULL, updated_at timestamptz);"
             f"INSERT INTO {TABLE} SELECT i, 'SKU-' || lpad(i::text, 5, '0'), 1000, 0, now() FROM generate_series(1, 100) i")
    for first, second in ((1, 2), (2, 1)):
        for _ in range(WORKERS_PER_GROUP):
            zoo.background(_worker(zoo.session(application="order-service"), first, second))
    start = _deadlocks(pg)
    require(zoo, lambda: _deadlocks(pg) >= start + 3, 20, "deadlocks counted in pg_stat_database")
    # The rate the diagnosis measures: at least 2 in a 3 s window (stats flush about once a second).
    deltas = []
    for _ in range(4):
        before = _deadlocks(pg)
        time.sleep(3)
        deltas.append(_deadlocks(pg) - before)
        if deltas[-1] >= 2:
            return {"table": TABLE}
    raise PlantError(f"deadlocks per 3 s window: {deltas}, expected at least 2")
