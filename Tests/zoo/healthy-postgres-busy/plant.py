"""A busy but healthy server: a finance report has been running for about 20 s and its snapshot spans a manual VACUUM
of orders, after which the 20 000 row versions an order writer's committed updates left behind stay until the report
ends (the next vacuum removes them); a standby made with pg_basebackup streams with nothing to replay; three orders-api
sessions are idle (not in a transaction) and a cart service commits a short transaction every few hundred
milliseconds. Nothing is wrong. The report ends by itself within a minute, before any runbook would call it long."""
import sys
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import PlantError, Standby, ask, backend_pid, number, require  # noqa: E402

TABLE = "orders"
ROWS = 200_000
DEAD = 20_000            # updated after the report began: dead, but the report may still see them
BATCH = 500              # the writer's transactions: 40 short UPDATEs of 500 orders each
REPORT_SECONDS = 55      # the whole report (pg_sleep stands for its work): under the runbooks' 60 s
REPORT_AGE = 20          # how long it has run when the diagnosis starts
REPLICA = "replica-1"
IDLE_SESSIONS = 3


def _carts(zoo):
    """Short transactions all along: a cart updated and its event recorded, committed, a few times a second."""
    session = zoo.session(application="cart-service")

    def loop(stop):
        n = 0
        while not stop.is_set() and session.process.poll() is None:
            cart = 1 + n % 200
            session.send(f"BEGIN; UPDATE carts SET items = items + 1, updated_at = now() WHERE id = {cart};"
                         f" INSERT INTO cart_events (cart_id, kind) VALUES ({cart}, 'add'); COMMIT;")
            n += 1
            stop.wait(0.3)
    return loop


def plant(zoo) -> dict:
    pg = zoo.pg
    pg.value(f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, customer_id int NOT NULL, region text NOT NULL, status text NOT NULL,"
             " amount_cents bigint NOT NULL, updated_at timestamptz NOT NULL);"
             f"INSERT INTO {TABLE} SELECT i, i % 4999, (ARRAY['emea','amer','apac'])[1 + i % 3], 'paid', 100 + i % 90000,"
             f" now() - (i % 90) * interval '1 day' FROM generate_series(1, {ROWS}) i;"
             "CREATE TABLE carts (id int PRIMARY KEY, items int NOT NULL, updated_at timestamptz NOT NULL);"
             "INSERT INTO carts SELECT i, 0, now() FROM generate_series(1, 200) i;"
             "CREATE TABLE cart_events (id bigserial PRIMARY KEY, cart_id int NOT NULL, kind text NOT NULL, at timestamptz NOT NULL DEFAULT now())")
    pg.value(f"VACUUM ANALYZE {TABLE}, carts, cart_events")

    standby = Standby(pg, zoo.free_port(), REPLICA)
    zoo.on_cleanup(standby.stop)  # before anything else can fail: a half-started standby is stopped too
    standby.start()
    require(zoo, lambda: pg.value(f"SELECT state FROM pg_stat_replication WHERE application_name = '{REPLICA}'") == "streaming",
            30, f"{REPLICA} streaming")

    for _ in range(IDLE_SESSIONS):
        idle = zoo.session(application="orders-api")
        ask(idle, f"SELECT count(*) FROM {TABLE} WHERE customer_id = 42")  # used, then idle in its pool: no transaction open
    zoo.background(_carts(zoo))

    report = zoo.session(application="finance-reports")
    pid = backend_pid(report)
    # pg_sleep in FROM runs once and keeps the statement active (holding its snapshot) without burning a CPU the other
    # classes share; the rest of the statement is the report it stands for.
    report.send(f"SELECT region, count(*), sum(amount_cents) AS revenue_by_region FROM {TABLE}, pg_sleep({REPORT_SECONDS})"
                " WHERE updated_at >= now() - interval '30 days' GROUP BY region;")
    require(zoo, lambda: pg.value(f"SELECT state = 'active' AND backend_xmin IS NOT NULL FROM pg_stat_activity WHERE pid = {pid}") == "t",
            10, "the report running with its snapshot")

    # The order writer: short committed transactions, after the report's snapshot.
    writer = zoo.session(application="order-writer")
    for first in range(1, DEAD + 1, BATCH):
        writer.send(f"UPDATE {TABLE} SET status = 'shipped', updated_at = now() WHERE id BETWEEN {first} AND {first + BATCH - 1};")
    ask(writer, f"SELECT count(*) FROM {TABLE} WHERE status = 'shipped'")
    dead = f"SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = '{TABLE}'"
    # The writer's statistics reach the shared counters up to a second after its commits: wait for them, or they
    # would be added on top of what the vacuum reports.
    require(zoo, lambda: number(pg, dead) >= DEAD, 10, f"the writer's {DEAD} dead tuples counted")
    # A DBA's manual VACUUM while the report runs: it cannot remove what the report may still see, and says so.
    pg.value(f"VACUUM {TABLE}")
    require(zoo, lambda: number(pg, dead) == DEAD and pg.value(f"SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = '{TABLE}'") == "t",
            10, f"{DEAD} dead tuples in {TABLE} after the vacuum")
    require(zoo, lambda: pg.value(f"""SELECT state = 'active' AND now() - query_start >= interval '{REPORT_AGE} s'
                                      FROM pg_stat_activity WHERE pid = {pid}""") == "t",
            REPORT_AGE + 10, f"the report running for {REPORT_AGE}s")
    lag = number(pg, f"SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), -1) FROM pg_stat_replication"
                     f" WHERE application_name = '{REPLICA}'")
    if not 0 <= lag < 16 * 1024 * 1024:
        raise PlantError(f"{REPLICA} is {lag} bytes behind in replay, not streaming without lag")
    # (the cart service is between two statements of a transaction for a moment now and then: that is not idling in it)
    if pg.value("SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND now() - state_change > interval '1 s'") != "0":
        raise PlantError("a session is idle in transaction")
    return {"report_pid": pid, "table": TABLE, "replica": REPLICA}
