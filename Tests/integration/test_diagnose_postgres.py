"""`helpdesk diagnose` against a real PostgreSQL with real trouble planted in it."""
import json
import os
import tarfile
import time

import pytest


def config(postgres, tmp_path) -> str:
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{postgres.port}:*:postgres:{postgres.password}\n")
    os.chmod(passfile, 0o600)
    return f"""
store:
  path: state/hd.sqlite
diagnosis:
  bundles_dir: bundles
infrastructure:
  db_servers:
    prod-db:
      connection_string: "host=127.0.0.1 port={postgres.port} dbname=postgres user=postgres sslmode=disable"
      tags: [production]
""", {"PGPASSFILE": str(passfile), "PGPASSWORD": ""}


def wait_for(condition, timeout=30, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


@pytest.fixture
def lock_pileup(postgres):
    postgres.value("DROP TABLE IF EXISTS accounts; CREATE TABLE accounts (id int PRIMARY KEY, balance int); INSERT INTO accounts VALUES (1, 100)")
    holder = postgres.session()
    holder.send("SET application_name = 'billing-worker'; BEGIN; UPDATE accounts SET balance = balance - 1 WHERE id = 1; SELECT pg_backend_pid();")
    holder_pid = int(holder.read_line())
    waiters = []
    for amount in (2, 3, 4):
        waiter = postgres.session()
        waiter.send(f"UPDATE accounts SET balance = balance - {amount} WHERE id = 1; SELECT 'done';")
        waiters.append(waiter)
    assert wait_for(lambda: postgres.value("SELECT count(*) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0") == "3")
    # The runbook calls an idle-in-transaction blocker critical after 10 seconds. Whole seconds cut down, as the
    # tools count them (`::int` rounds: at 10.5 s it said 11 and the tool, a moment later, 10).
    assert wait_for(lambda: int(postgres.value(
        f"SELECT floor(extract(epoch FROM now() - state_change))::int FROM pg_stat_activity WHERE pid = {holder_pid}")) >= 11, timeout=20)
    yield holder_pid, holder, waiters
    for session in [holder, *waiters]:
        session.close()


def test_lock_pileup_names_the_blocker_and_recommends_terminating_it(helpdesk, postgres, tmp_path, lock_pileup):
    holder_pid, _, _ = lock_pileup
    text, env = config(postgres, tmp_path)
    hd = helpdesk(text)
    started = time.monotonic()
    result = hd.run("diagnose", "prod-db", "--symptom", "payments are stuck", "--json", env=env)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    diagnosis = json.loads(result.stdout)
    print(f"diagnosis took {diagnosis['milliseconds']} ms inside, {elapsed:.2f} s for the whole command")

    assert diagnosis["runbooks"] == ["postgres-locks"]
    assert all(tool["error"] is None for tool in diagnosis["tools"]), diagnosis["tools"]
    critical = [f for f in diagnosis["findings"] if f["severity"] == "critical"]
    assert [f["rule"] for f in critical] == ["idle-transaction-blocking"]
    finding = critical[0]
    assert finding["evidence"]["pid"] == holder_pid
    assert finding["evidence"]["application"] == "billing-worker"
    assert finding["evidence"]["blocked_total"] == 3
    assert f"PID {holder_pid} (postgres, application \"billing-worker\")" in finding["summary"]
    assert diagnosis["recommended_actions"][0]["call"] == {"tool": "terminate_backend", "target": "prod-db", "arguments": {"pid": holder_pid}}
    assert diagnosis["summary"].startswith("prod-db: 1 critical")

    # The bundle holds every tool's output and the diagnosis.
    with tarfile.open(diagnosis["bundle_path"]) as bundle:
        names = bundle.getnames()
        root = diagnosis["incident_id"]
        manifest = json.load(bundle.extractfile(f"{root}/manifest.json"))
        assert manifest["trigger"] == "symptom: payments are stuck"
        assert len(manifest["tools"]) == len(diagnosis["tools"]) == 5  # database_activity samples deadlocks
        for entry in manifest["tools"]:
            assert f"{root}/{entry['file']}" in names
            output = json.load(bundle.extractfile(f"{root}/{entry['file']}"))
            assert output["error"] is None and output["output"] is not None
        blocking = json.load(bundle.extractfile(f"{root}/tools/01-blocking_locks.json"))
        assert blocking["output"]["blockers"][0]["pid"] == holder_pid
        assert f"{root}/diagnosis.md" in names
        assert b"terminate_backend(pid=" in bundle.extractfile(f"{root}/diagnosis.md").read()


def test_healthy_database_exits_zero_with_the_fallback_runbook(helpdesk, postgres, tmp_path):
    text, env = config(postgres, tmp_path)
    hd = helpdesk(text)
    result = hd.run("diagnose", "prod-db", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# prod-db: no problems found by 9 tools" in result.stdout
    assert "bundle: " in result.stdout


def test_unknown_target_and_wrong_password_are_explained(helpdesk, postgres, tmp_path):
    text, env = config(postgres, tmp_path)
    hd = helpdesk(text)
    unknown = hd.run("diagnose", "prod-dbb", env=env)
    assert unknown.returncode == 2
    assert "prod-dbb is not in the inventory; known targets: prod-db" in unknown.stdout

    wrong = hd.run("diagnose", "prod-db", "--json", env={"PGPASSFILE": "/nonexistent", "PGPASSWORD": "wrong-password"})
    assert wrong.returncode == 2
    diagnosis = json.loads(wrong.stdout)
    assert all("password authentication failed" in tool["error"] for tool in diagnosis["tools"]), diagnosis["tools"]
    assert "wrong-password" not in wrong.stdout + wrong.stderr


def test_connection_saturation_is_found(helpdesk, postgres, tmp_path):
    sessions = []
    try:
        for _ in range(15):
            session = postgres.session()
            session.send("SELECT 1;")
            assert session.read_line() == "1"
            sessions.append(session)
        text, env = config(postgres, tmp_path)
        hd = helpdesk(text)
        result = hd.run("diagnose", "prod-db", "--symptom", "too many connections", "--json", env=env)
        diagnosis = json.loads(result.stdout)
        assert diagnosis["runbooks"] == ["postgres-connections"]
        rules = {f["rule"] for f in diagnosis["findings"]}
        assert rules & {"connections-near-limit", "connections-high"}, diagnosis["findings"]
        stats = [f for f in diagnosis["findings"] if f["rule"].startswith("connections")][0]["evidence"]
        assert stats["max_connections"] == 20 and stats["total"] >= 16
    finally:
        for session in sessions:
            session.close()
