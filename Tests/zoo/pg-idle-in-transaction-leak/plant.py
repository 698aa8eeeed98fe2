"""invoice-sync leaks transactions: twenty of its sessions wrote a row, never committed, and sit idle in transaction."""
import sys
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import PlantError, backend_pid, require  # noqa: E402

# 20 leaked sessions and the diagnosis's own connections stay far from the limit: saturation is another class.
SETTINGS = {"max_connections": "40"}
APPLICATION = "invoice-sync"
SESSIONS = 20
IDLE_SECONDS = 62  # the runbooks report an idle transaction from 60 s


def plant(zoo) -> dict:
    pg = zoo.pg
    pg.value("CREATE TABLE sync_batches (id bigserial PRIMARY KEY, worker int NOT NULL, started_at timestamptz NOT NULL DEFAULT now(),"
             " status text NOT NULL)")
    pids = []
    for worker in range(1, SESSIONS + 1):
        session = zoo.session(application=APPLICATION)
        pids.append(backend_pid(session))
        # The code path that forgets to COMMIT: each session took an XID (an INSERT) and holds it, so the xmin
        # horizon is held too, but no two sessions touch the same row, so nobody waits.
        session.send(f"BEGIN; INSERT INTO sync_batches (worker, status) VALUES ({worker}, 'started');")
    pid_list = ",".join(map(str, pids))
    require(zoo, lambda: pg.value(f"""SELECT count(*) FROM pg_stat_activity WHERE pid IN ({pid_list})
                                      AND state = 'idle in transaction' AND backend_xid IS NOT NULL""") == str(SESSIONS),
            20, f"{SESSIONS} {APPLICATION} sessions idle in transaction")
    require(zoo, lambda: pg.value(f"""SELECT bool_and(now() - state_change >= interval '{IDLE_SECONDS} s')
                                      FROM pg_stat_activity WHERE pid IN ({pid_list})""") == "t",
            IDLE_SECONDS + 20, f"every {APPLICATION} session idle in transaction for {IDLE_SECONDS}s")
    if pg.value("SELECT count(*) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0") != "0":
        raise PlantError("a session waits on a lock: the leak must block nobody")
    return {"application": APPLICATION, "idle_pids": pids}
