"""With shared_buffers at 16 MB, a workload keeps scanning a ~250 MB table: almost every block the database reads comes
from outside the buffer cache. The workload runs in the background until the class ends. The table lives in the
application's own database, `shop`, which prod-db's connection names (so the finding's database is not the user's name,
postgres, which every finding may carry)."""
import sys
import time
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import PlantError, ask, require  # noqa: E402

SETTINGS = {"shared_buffers": "16MB"}
DATABASE = "shop"
TABLE = "page_views"
ROWS = 1_000_000  # ~250 MB
PAUSE_SECONDS = 1.0  # between scans: about one full scan (~30 000 blocks read) a second or two, not a CPU-bound loop


def _reader(zoo):
    session = zoo.session(application="analytics-dashboard", database=DATABASE)
    # One process per scan (no parallel workers): the load stays near one core whatever the machine.
    session.send("SET max_parallel_workers_per_gather = 0;")

    def loop(stop):
        user = 0
        while not stop.is_set() and session.process.poll() is None:
            user = (user + 7919) % 50000
            try:
                ask(session, f"SELECT count(*) FROM {TABLE} WHERE user_id = {user}")
            except PlantError:
                return  # the session was closed under us: the class is ending
            stop.wait(PAUSE_SECONDS)
    return loop


def _window(pg, seconds: float = 3) -> tuple[int, int]:
    sql = "SELECT blks_read || ' ' || blks_hit FROM pg_stat_database WHERE datname = current_database()"
    read1, hit1 = map(int, pg.value(sql, DATABASE).split())
    time.sleep(seconds)
    read2, hit2 = map(int, pg.value(sql, DATABASE).split())
    return read2 - read1, hit2 - hit1


def plant(zoo) -> dict:
    pg = zoo.pg
    pg.create_database(DATABASE)
    # CREATE TABLE AS writes through a bulk-insert ring, as a nightly load would; the table is ~16x shared_buffers.
    pg.value(f"""CREATE TABLE {TABLE} AS SELECT i AS id, i % 50000 AS user_id, '/articles/' || (i % 9973) || '/' || md5(i::text) AS url,
                 repeat(md5((i * 7)::text), 4) AS referrer, now() - i * interval '1 second' AS viewed_at
                 FROM generate_series(1, {ROWS}) i""", DATABASE)
    zoo.background(_reader(zoo))
    require(zoo, lambda: int(pg.value(f"SELECT coalesce(heap_blks_read, 0) FROM pg_statio_user_tables WHERE relname = '{TABLE}'", DATABASE)) > 100_000,
            60, f"over 100 000 blocks of {TABLE} read")

    def collapsed():
        read, hit = _window(pg)
        return read > 10_000 and hit / (hit + read) < 0.5
    require(zoo, collapsed, 20, "a 3 s window with many blocks read and a hit ratio below 0.5")
    return {"bindings": {"database": DATABASE, "table": TABLE}, "inventory": {"dbname": DATABASE}}
