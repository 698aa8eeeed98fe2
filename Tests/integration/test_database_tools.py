"""The database reads a diagnosis joins on (issue 18), called through the API against a real PostgreSQL 15:
connections by application, the tables a blocker holds, activity over a window, the vacuum horizon,
sequential scans, and disk use against the inventory's disk_capacity."""
import json
import threading
import time

from conftest import http
from test_diagnose_postgres import config as postgres_config, wait_for

CAPACITY = 1024 * 1024 * 1024  # disk_capacity: 1GB (1024-based, as PostgreSQL counts)
TOKEN = "token-tools-0123456789"
POLICY = """version: "1"
policies:
  - name: lab
    resources:
      - type: database
        match: {name: prod-db}
    rules:
      - {action: read, effect: allow}
"""


def begin(helpdesk, postgres, tmp_path):
    """The API with reads allowed on prod-db, whose inventory entry declares disk_capacity: 1GB."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "lab.yaml").write_text(POLICY)
    (tmp_path / "ops.token").write_text(TOKEN)
    text, env = postgres_config(postgres, tmp_path)
    assert "      tags: [production]\n" in text
    text = text.replace("      tags: [production]\n", "      tags: [production]\n      disk_capacity: 1GB\n")
    text += f"""
policies:
  dir: {tmp_path / 'policies'}
api:
  tokens:
    ops:
      token_file: {tmp_path / 'ops.token'}
"""
    hd = helpdesk(text)
    hd.start(env=env)

    def call(tool, arguments):
        status, _, data = http("POST", hd.url(f"/api/v1/db/{tool}"), body=json.dumps({"target": "prod-db", "arguments": arguments}).encode(),
                               headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}, timeout=30)
        return status, json.loads(data)
    return call


def read(call, tool, arguments=None):
    status, body = call(tool, arguments or {})
    assert status == 200, body
    return body["output"]


def session(postgres, application, sql=""):
    opened = postgres.session()
    opened.send(f"SET application_name = '{application}'; {sql} SELECT pg_backend_pid();")
    return opened, int(opened.read_line())


def test_connections_by_application_name_the_pool_holding_them(helpdesk, postgres, tmp_path):
    call = begin(helpdesk, postgres, tmp_path)
    pool = [session(postgres, "reporting-pool")[0] for _ in range(4)]
    try:
        stats = read(call, "connection_stats")
        first = stats["by_application"][0]
        assert first == {"application": "reporting-pool", "connections": 4, "by_state": {"idle": 4}}, stats["by_application"]
        assert stats["top_application"] == first
        assert stats["top_application_share"] == round(4 / stats["max_connections"], 4)
        assert stats["available_connections"] == stats["max_connections"] - stats["reserved_connections"] - stats["total"]
        assert sum(entry["connections"] for entry in stats["by_application"]) == stats["total"]
    finally:
        for opened in pool:
            opened.close()


def test_a_blocker_names_the_tables_it_holds_and_activity_sees_deadlocks_in_its_window(helpdesk, postgres, tmp_path):
    postgres.value("DROP TABLE IF EXISTS tools_ledger; CREATE TABLE tools_ledger (id int PRIMARY KEY, v int); "
                   "INSERT INTO tools_ledger SELECT g, 0 FROM generate_series(1, 10) g")
    call = begin(helpdesk, postgres, tmp_path)
    holder, holder_pid = session(postgres, "ledger-writer", "BEGIN; UPDATE tools_ledger SET v = 1 WHERE id = 1;")
    waiter = postgres.session()
    waiter.send("UPDATE tools_ledger SET v = 2 WHERE id = 1; SELECT 'done';")
    try:
        assert wait_for(lambda: postgres.value(
            f"SELECT count(*) FROM pg_stat_activity WHERE {holder_pid} = ANY (pg_blocking_pids(pid))") == "1")
        blockers = read(call, "blocking_locks")["blockers"]
        root = next(b for b in blockers if b["pid"] == holder_pid)
        assert root["tables"] == ["tools_ledger"], root
    finally:
        holder.close()
        waiter.close()

    # Two sessions updating rows 1 and 2 in opposite orders, over and over: PostgreSQL aborts one each time.
    stop = threading.Event()

    def deadlock_forever(first, second):
        worker = postgres.session()
        worker.send("SET deadlock_timeout = '100ms';")
        while not stop.is_set():
            worker.send(f"BEGIN; UPDATE tools_ledger SET v = v + 1 WHERE id = {first}; SELECT pg_sleep(0.2); "
                        f"UPDATE tools_ledger SET v = v + 1 WHERE id = {second}; COMMIT;")
            time.sleep(0.5)
        worker.close()

    threads = [threading.Thread(target=deadlock_forever, args=pair, daemon=True) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        activity = read(call, "database_activity", {"seconds": 4})
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert activity["database"] == "postgres" and activity["window_seconds"] == 4
    assert activity["deadlocks"] >= 1, activity
    assert activity["deadlocks_total"] >= activity["deadlocks"]
    assert activity["xact_rollback"] >= 1 and activity["xact_commit"] >= 1
    assert activity["hit_ratio"] is None or 0 <= activity["hit_ratio"] <= 1
    assert [t["table"] for t in activity["busiest_tables"]][:1] == ["tools_ledger"], activity["busiest_tables"]
    assert isinstance(activity["contended_tables"], list) and isinstance(activity["most_read_tables"], list)
    postgres.value("DROP TABLE tools_ledger")


def test_vacuum_names_the_snapshot_it_could_not_pass_and_a_table_never_vacuumed(helpdesk, postgres, tmp_path):
    postgres.value("DROP TABLE IF EXISTS tools_orders, tools_events; "
                   "CREATE TABLE tools_orders (id int, v int) WITH (autovacuum_enabled = true); "
                   "INSERT INTO tools_orders SELECT g, 0 FROM generate_series(1, 5000) g; "
                   "CREATE TABLE tools_events (id int, v int) WITH (autovacuum_enabled = off); "
                   "INSERT INTO tools_events SELECT g, 0 FROM generate_series(1, 5000) g; UPDATE tools_events SET v = 1")
    call = begin(helpdesk, postgres, tmp_path)
    # The snapshot is taken by the transaction's first statement (the PID query), before the rows die.
    holder, holder_pid = session(postgres, "old-report", "BEGIN ISOLATION LEVEL REPEATABLE READ;")
    try:
        postgres.value("UPDATE tools_orders SET v = 1")
        postgres.value("VACUUM tools_orders")
        assert wait_for(lambda: postgres.value(
            "SELECT n_dead_tup >= 5000 AND last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'tools_orders'") == "t")
        stats = read(call, "vacuum_stats")
        tables = {t["table"]: t for t in stats["tables"]}
        orders = tables["tools_orders"]
        assert orders["never_vacuumed"] is False and orders["last_vacuumed"] is not None
        assert orders["vacuum_held_back_by"]["pid"] == holder_pid, orders
        assert orders["vacuum_held_back_by"]["application"] == "old-report"
        assert orders["vacuum_held_back_by"]["state"] == "idle in transaction"
        assert stats["oldest_snapshot"]["pid"] == holder_pid
        events = tables["tools_events"]
        assert events["autovacuum_enabled"] is False and events["never_vacuumed"] is True
        assert events["last_vacuumed"] is None and events["vacuum_held_back_by"] is None
        postgres_row = next(w for w in stats["wraparound"] if w["database"] == "postgres")
        assert postgres_row["freeze_max_age"] == 200000000 and postgres_row["past_freeze_max_age"] is False
        assert postgres_row["freeze_ratio"] == round(postgres_row["xid_age"] / 200000000, 4)
        assert len(stats["oldest_frozen_tables"]) == 3 and all("xid_age" in t for t in stats["oldest_frozen_tables"])
    finally:
        holder.close()
    postgres.value("DROP TABLE tools_orders, tools_events")


def test_table_stats_and_disk_use_against_the_declared_capacity(helpdesk, postgres, tmp_path):
    postgres.value("DROP TABLE IF EXISTS tools_scanned; CREATE TABLE tools_scanned (id int, customer_ref int, pad text); "
                   "INSERT INTO tools_scanned SELECT g, g % 100, repeat('x', 200) FROM generate_series(1, 200000) g; "
                   "CREATE INDEX ON tools_scanned (id)")
    for value in range(5):
        postgres.value(f"SELECT count(*) FROM tools_scanned WHERE customer_ref = {value}")
    call = begin(helpdesk, postgres, tmp_path)
    assert wait_for(lambda: postgres.value(
        "SELECT seq_scan >= 5 FROM pg_stat_user_tables WHERE relname = 'tools_scanned'") == "t")
    tables = read(call, "table_stats")["tables"]
    scanned = next(t for t in tables if t["name"] == "tools_scanned")
    assert scanned["table"] == "tools_scanned" and scanned["schema"] == "public"
    assert scanned["seq_scan"] >= 5 and scanned["seq_tup_read"] >= 1_000_000 and scanned["indexes"] == 1
    assert scanned["seq_share"] == 1.0 and scanned["bytes"] > 40_000_000 and scanned["size"].endswith("MB")

    sizes = read(call, "database_sizes")
    assert {d["database"] for d in sizes["databases"]} >= {"postgres"}
    assert sizes["capacity_bytes"] == CAPACITY and sizes["capacity"] == "1024 MB"
    assert sizes["wal_bytes"] > 0, "the tool connects as a superuser, which may list pg_wal"
    assert sizes["used_bytes"] == sizes["databases_bytes"] + sizes["wal_bytes"]
    assert sizes["used_ratio"] == round(sizes["used_bytes"] / CAPACITY, 4)
    largest = {t["table"]: t for t in sizes["largest_tables"]}
    assert largest["tools_scanned"]["bytes"] == scanned["bytes"], sizes["largest_tables"]
    assert all(set(t) == {"table", "bytes", "size"} for t in sizes["largest_tables"])
    postgres.value("DROP TABLE tools_scanned")
