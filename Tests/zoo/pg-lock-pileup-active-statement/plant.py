"""One statement updates a cart row and keeps running (active); three UPDATEs of that row wait behind it."""
import sys
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import backend_pid, require  # noqa: E402

WAIT_SECONDS = 12  # the runbooks act on an active blocker once its waiters waited 10 s: keep a margin


def plant(zoo) -> dict:
    pg = zoo.pg
    pg.value("CREATE TABLE carts (id int PRIMARY KEY, customer text NOT NULL, status text NOT NULL, total_cents bigint NOT NULL);"
             "INSERT INTO carts SELECT i, 'customer-' || i, 'open', 0 FROM generate_series(1, 1000) i")
    blocker = zoo.session(application="checkout-reconciler")
    pid = backend_pid(blocker)
    # ONE statement: the data-modifying CTE locks the row first, then the same statement keeps running, so the
    # session is `active` (not idle in transaction) while it holds the lock.
    blocker.send("WITH touched AS (UPDATE carts SET status = 'reconciling' WHERE id = 7 RETURNING id) "
                 "SELECT pg_sleep(900) FROM touched;")
    require(zoo, lambda: pg.value(f"SELECT state = 'active' AND wait_event = 'PgSleep' FROM pg_stat_activity WHERE pid = {pid}") == "t",
            10, "the blocker's statement running")
    for cents in (1999, 4550, 120):
        waiter = zoo.session(application="checkout-api")
        waiter.send(f"UPDATE carts SET total_cents = {cents} WHERE id = 7;")
    require(zoo, lambda: pg.value("SELECT count(*) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0") == "3",
            20, "three UPDATEs waiting behind the running statement")
    require(zoo, lambda: pg.value(f"""SELECT min(now() - query_start) >= interval '{WAIT_SECONDS} s' FROM pg_stat_activity
                                      WHERE cardinality(pg_blocking_pids(pid)) > 0""") == "t",
            WAIT_SECONDS + 15, f"the waiters waiting {WAIT_SECONDS}s")
    return {"blocker_pid": pid}
