"""A loop of small committed transactions pushes age(datfrozenxid) past a lowered autovacuum_freeze_max_age and the
workload keeps it climbing. The forced (anti-wraparound) autovacuum comes with the launcher's next round (up to a
minute); the big ledger table's autovacuum is cost-throttled, so that freeze takes minutes and the age stays past the
setting however long the scoring of this class takes."""
import sys
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import require, script  # noqa: E402

FREEZE_MAX_AGE = 100_000  # the lowest value PostgreSQL accepts
SETTINGS = {"autovacuum_freeze_max_age": str(FREEZE_MAX_AGE)}
DATABASE = "postgres"
XIDS = 200_000
LEDGER_ROWS = 400_000  # ~3000 pages: at one page per 100 ms the forced vacuum needs minutes, the class a few seconds


def _climbing(zoo):
    """The workload goes on during the diagnosis: a few hundred transactions a second."""
    session = zoo.session(application="ledger-writer")
    session.send("SET synchronous_commit = off;")

    def loop(stop):
        while not stop.is_set() and session.process.poll() is None:
            session.send("CALL record_heartbeats(100);")
            stop.wait(0.5)
    return loop


def plant(zoo) -> dict:
    pg = zoo.pg
    # The ledger's rows carry XIDs from before the loop: its relfrozenxid is what holds datfrozenxid back. Its
    # autovacuum is cost-throttled (as busy big tables often are), so the freeze that would advance it is slow.
    pg.value("CREATE TABLE ledger (id bigint PRIMARY KEY, account int NOT NULL, amount_cents bigint NOT NULL, booked_at timestamptz NOT NULL)"
             " WITH (autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1)")
    pg.value(f"INSERT INTO ledger SELECT i, i % 1000, i % 777, now() FROM generate_series(1, {LEDGER_ROWS}) i")
    pg.value("CREATE TABLE heartbeats (id int PRIMARY KEY, beat_at timestamptz); INSERT INTO heartbeats VALUES (1, now())")
    # One committed transaction per iteration, each with its own XID (txid_current() assigns one).
    pg.value("""CREATE PROCEDURE record_heartbeats(n int) LANGUAGE plpgsql AS $$
                BEGIN FOR i IN 1..n LOOP PERFORM txid_current(); COMMIT; END LOOP; END $$""")
    # Separate statements (not one -c string, which would be one transaction the procedure cannot COMMIT in);
    # without waiting for each commit's flush the loop takes seconds, not minutes.
    script(pg, f"SET synchronous_commit = off;\nCALL record_heartbeats({XIDS});\n")
    zoo.background(_climbing(zoo))
    require(zoo, lambda: int(pg.value(f"SELECT age(datfrozenxid) FROM pg_database WHERE datname = '{DATABASE}'"))
            > FREEZE_MAX_AGE * 1.5, 10, f"age(datfrozenxid) of {DATABASE} above 1.5 x autovacuum_freeze_max_age")
    return {"database": DATABASE}
