"""`max_xact_age_secs` against a real PostgreSQL, with the policy named by `policies.file` (an
aiHelpDesk-style file, version "1.0"): ending a session whose transaction has written for longer than
the limit is refused (its rollback may take as long), while a session that has only read — no
transaction id, nothing to roll back — is ended."""
import json

from conftest import http
from test_diagnose_postgres import config as postgres_config, wait_for

POLICY = """version: "1.0"
policies:
  - name: short-writers-only
    resources:
      - type: database
        match: {name: prod-db}
    rules:
      - {action: read, effect: allow}
      - action: [write, destructive]
        effect: allow
        conditions: {max_xact_age_secs: 1}
"""
TOKEN = "token-ops-0123456789"


def open_session(postgres, application, statements=""):
    """A session left idle in its transaction after `statements` and a read of the table, and its PID."""
    session = postgres.session()
    session.send(f"SET application_name = '{application}'; BEGIN; {statements}SELECT pg_backend_pid() FROM xact_age;")
    return session, int(session.read_line())


def alive(postgres, pid):
    return postgres.value(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}") == "1"


def decisions(hd):
    """Each policy decision's call PID and the transaction age the gate measured for it."""
    result = hd.run("audit", "export")
    assert result.returncode == 0, result.stderr
    found = {}
    for event in map(json.loads, result.stdout.splitlines()):
        if event.get("kind") != "policy_decision":
            continue
        data = json.loads(event["data"]) if isinstance(event["data"], str) else event["data"]
        pid = int(data["call"]["arguments"]["pid"])
        found[pid] = data.get("impact", {}).get("transaction_age_seconds")
    return found


def test_a_long_writer_is_not_ended_and_a_reader_is(helpdesk, postgres, tmp_path):
    (tmp_path / "governance-policy.yaml").write_text(POLICY)
    (tmp_path / "ops.token").write_text(TOKEN)
    postgres.value("DROP TABLE IF EXISTS xact_age; CREATE TABLE xact_age (id int PRIMARY KEY, n int); INSERT INTO xact_age VALUES (1, 0)")
    text, env = postgres_config(postgres, tmp_path)
    text += f"""
policies:
  file: {tmp_path / 'governance-policy.yaml'}
api:
  tokens:
    ops:
      token_file: {tmp_path / 'ops.token'}
"""
    hd = helpdesk(text)
    hd.start(env=env)
    writer, writer_pid = open_session(postgres, "age-writer", "UPDATE xact_age SET n = n + 1 WHERE id = 1; ")
    reader, reader_pid = open_session(postgres, "age-reader")
    try:
        assert postgres.value(f"SELECT backend_xid IS NOT NULL FROM pg_stat_activity WHERE pid = {writer_pid}") == "t"
        assert postgres.value(f"SELECT backend_xid IS NULL FROM pg_stat_activity WHERE pid = {reader_pid}") == "t"
        assert wait_for(lambda: int(postgres.value(
            f"SELECT floor(extract(epoch FROM now() - xact_start))::int FROM pg_stat_activity WHERE pid = {reader_pid}")) >= 2, timeout=10)

        def terminate(pid):
            status, _, data = http("POST", hd.url("/api/v1/db/terminate_backend"),
                                   body=json.dumps({"target": "prod-db", "arguments": {"pid": pid}}).encode(),
                                   headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}, timeout=15)
            return status, json.loads(data)

        status, body = terminate(writer_pid)
        assert status == 403, body
        message = body["error"]["message"]
        assert "its transaction has been open " in message and \
            " with writes; rolling it back may take as long; the limit is 1s, by policy short-writers-only" in message, message
        assert alive(postgres, writer_pid), "a refused call ends nothing"

        status, body = terminate(reader_pid)
        assert status == 200 and body["output"]["terminated"] is True, body
        assert wait_for(lambda: not alive(postgres, reader_pid), timeout=10)

        measured = decisions(hd)
        assert measured[writer_pid] >= 2, measured
        assert measured[reader_pid] == 0, measured
    finally:
        writer.close()
        reader.close()
