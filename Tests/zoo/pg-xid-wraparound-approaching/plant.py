"""A loop of small committed transactions pushes age(datfrozenxid) of the application's database, `billing`, past a
lowered autovacuum_freeze_max_age and the workload keeps it climbing. The forced (anti-wraparound) autovacuum comes
with the launcher's next round (up to a minute); the big ledger table's autovacuum is cost-throttled, so that freeze
takes minutes and billing's age stays past the setting however long the scoring of this class takes.

age(datfrozenxid) is per database: the cluster's other databases (postgres, template1, template0) are small and were
frozen long ago, as autovacuum does in a minute for a database of catalogs only; the plant freezes them itself so that
billing alone is past the setting when plant() returns. prod-db's connection names billing (so the finding's database
is not the user's name, postgres, which every finding may carry)."""
import json
import sys
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import PlantError, require, script  # noqa: E402

FREEZE_MAX_AGE = 100_000  # the lowest value PostgreSQL accepts
SETTINGS = {"autovacuum_freeze_max_age": str(FREEZE_MAX_AGE)}
DATABASE = "billing"
XIDS = 200_000
LEDGER_ROWS = 400_000  # ~3000 pages: at one page per 100 ms the forced vacuum needs minutes, the class a few seconds
AGES = "SELECT json_object_agg(datname, age(datfrozenxid)) FROM pg_database"


def _climbing(zoo):
    """The workload goes on during the diagnosis: a few hundred transactions a second."""
    session = zoo.session(application="ledger-writer", database=DATABASE)
    session.send("SET synchronous_commit = off;")

    def loop(stop):
        while not stop.is_set() and session.process.poll() is None:
            session.send("CALL record_heartbeats(100);")
            stop.wait(0.5)
    return loop


def _freeze_all_but_the_ledger(pg):
    """What the forced autovacuum does within seconds to everything small: billing's catalogs and heartbeats are
    frozen, so the ledger, whose throttled freeze takes minutes, is what holds billing's datfrozenxid back (the oldest
    age(relfrozenxid), which the advice names first), as in a real incident."""
    tables = pg.value("""SELECT string_agg(format('VACUUM (FREEZE) %I.%I;', n.nspname, c.relname), E'\n')
                         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE c.relkind IN ('r', 'm') AND NOT (n.nspname = 'public' AND c.relname = 'ledger')""", DATABASE)
    script(pg, tables + "\n", database=DATABASE)


def _freeze_the_other_databases(pg):
    """What autovacuum does within a minute to a database of catalogs only: VACUUM (FREEZE) it, which moves its
    datfrozenxid up to now. template0 takes no connections; a DBA freezing it by hand allows them for the while."""
    for database in ("postgres", "template1"):
        pg.value("VACUUM (FREEZE)", database)
    pg.value("ALTER DATABASE template0 WITH ALLOW_CONNECTIONS true")
    try:
        pg.value("VACUUM (FREEZE)", "template0")
    finally:
        pg.value("ALTER DATABASE template0 WITH ALLOW_CONNECTIONS false")


def plant(zoo) -> dict:
    pg = zoo.pg
    pg.create_database(DATABASE)
    # The ledger's rows carry XIDs from before the loop: its relfrozenxid is what holds billing's datfrozenxid back. Its
    # autovacuum is cost-throttled (as busy big tables often are), so the freeze that would advance it is slow.
    pg.value("CREATE TABLE ledger (id bigint PRIMARY KEY, account int NOT NULL, amount_cents bigint NOT NULL, booked_at timestamptz NOT NULL)"
             " WITH (autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1)", DATABASE)
    pg.value(f"INSERT INTO ledger SELECT i, i % 1000, i % 777, now() FROM generate_series(1, {LEDGER_ROWS}) i", DATABASE)
    pg.value("CREATE TABLE heartbeats (id int PRIMARY KEY, beat_at timestamptz); INSERT INTO heartbeats VALUES (1, now())", DATABASE)
    # One committed transaction per iteration, each with its own XID (txid_current() assigns one).
    pg.value("""CREATE PROCEDURE record_heartbeats(n int) LANGUAGE plpgsql AS $$
                BEGIN FOR i IN 1..n LOOP PERFORM txid_current(); COMMIT; END LOOP; END $$""", DATABASE)
    # Separate statements (not one -c string, which would be one transaction the procedure cannot COMMIT in);
    # without waiting for each commit's flush the loop takes seconds, not minutes.
    script(pg, f"SET synchronous_commit = off;\nCALL record_heartbeats({XIDS});\n", database=DATABASE)
    _freeze_all_but_the_ledger(pg)
    _freeze_the_other_databases(pg)
    zoo.background(_climbing(zoo))

    def billing_alone_past_it():
        ages = json.loads(pg.value(AGES))
        others = [age for name, age in ages.items() if name != DATABASE]
        return ages[DATABASE] > FREEZE_MAX_AGE * 1.5 and all(age < FREEZE_MAX_AGE for age in others)
    require(zoo, billing_alone_past_it, 10,
            f"age(datfrozenxid) of {DATABASE} above 1.5 x autovacuum_freeze_max_age, every other database's below it")
    oldest = pg.value("SELECT c.relname FROM pg_class c WHERE c.relkind IN ('r', 'm') ORDER BY age(c.relfrozenxid) DESC LIMIT 1", DATABASE)
    if oldest != "ledger":
        raise PlantError(f"the oldest age(relfrozenxid) in {DATABASE} is {oldest}'s, not the ledger's")
    return {"bindings": {"database": DATABASE}, "inventory": {"dbname": DATABASE}}
