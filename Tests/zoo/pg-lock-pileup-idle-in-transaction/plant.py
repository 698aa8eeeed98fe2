"""billing-worker updates a row and leaves its transaction open; three UPDATEs of that row queue behind it."""
import sys
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import backend_pid, require  # noqa: E402

IDLE_SECONDS = 12  # the runbooks call an idle blocker critical from 10 s: keep a margin


def plant(zoo) -> dict:
    pg = zoo.pg
    pg.value("CREATE TABLE accounts (id int PRIMARY KEY, customer text NOT NULL, balance_cents bigint NOT NULL);"
             "INSERT INTO accounts SELECT i, 'customer-' || i, 10000 FROM generate_series(1, 1000) i")
    holder = zoo.session(application="billing-worker")
    pid = backend_pid(holder)
    holder.send("BEGIN; UPDATE accounts SET balance_cents = balance_cents - 1999 WHERE id = 42;")
    for amount in (500, 1250, 30):
        waiter = zoo.session(application="payments-api")
        waiter.send(f"UPDATE accounts SET balance_cents = balance_cents - {amount} WHERE id = 42;")
    require(zoo, lambda: pg.value("SELECT count(*) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0") == "3",
            20, "three UPDATEs waiting behind the billing-worker transaction")
    require(zoo, lambda: pg.value(f"""SELECT state = 'idle in transaction' AND now() - state_change >= interval '{IDLE_SECONDS} s'
                                      FROM pg_stat_activity WHERE pid = {pid}""") == "t",
            IDLE_SECONDS + 15, f"PID {pid} idle in transaction for {IDLE_SECONDS}s")
    return {"blocker_pid": pid}
