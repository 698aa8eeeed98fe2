"""reporting-pool opens most of max_connections and keeps them idle; other clients are about to be refused."""
import sys
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import backend_pid, require  # noqa: E402

SETTINGS = {"max_connections": "20"}
APPLICATION = "reporting-pool"
POOL = 17
# 17 + 1 other client = 18 held; with the diagnosis's own connection (1 or 2: the agent opens at most 2 per
# target) connection_stats counts 19-20 of 20, over the runbooks' 0.9. Nothing else may connect meanwhile.
OTHERS = {"orders-api": 1}


def plant(zoo) -> dict:
    pg = zoo.pg
    pg.value("CREATE TABLE daily_sales (day date PRIMARY KEY, orders int NOT NULL, revenue_cents bigint NOT NULL);"
             "INSERT INTO daily_sales SELECT d::date, 100, 100000 FROM generate_series(now() - interval '99 days', now(), interval '1 day') d")
    pids = []
    for application, count in [(APPLICATION, POOL), *OTHERS.items()]:
        for _ in range(count):
            session = zoo.session(application=application)
            pids.append(backend_pid(session))
            # A pool warms its connections with a query, then parks them idle (not in a transaction).
            session.send("SELECT count(*) FROM daily_sales;")
    expected = POOL + sum(OTHERS.values())
    require(zoo, lambda: pg.value(f"""SELECT count(*) FILTER (WHERE state = 'idle') FROM pg_stat_activity
                                      WHERE pid IN ({','.join(map(str, pids))})""") == str(expected),
            20, f"{expected} idle sessions, {POOL} of them {APPLICATION}")
    return {"application": APPLICATION}
