"""The governance path end to end: a destructive action on a production database, asked through
the API, needs two different approvers, runs once when the second approves, and the audit chain
verifies until someone edits it."""
import json
import os
import sqlite3
import time

from conftest import http
from test_diagnose_postgres import config as postgres_config, lock_pileup, wait_for  # noqa: F401 (fixture)

POLICY = """version: "1"
policies:
  - name: production
    resources:
      - type: database
        match: {tags: [production]}
    rules:
      - {action: read, effect: allow}
      - action: destructive
        effect: require_approval
        conditions: {approval_quorum: 2, approvers: [role:dba], approval_ttl: 30m}
"""

TOKENS = {"bob": "token-bob-0123456789", "alice": "token-alice-0123456789", "carol": "token-carol-0123456789"}


def test_two_approvers_then_exactly_one_termination_and_a_verifiable_audit_chain(helpdesk, postgres, tmp_path, lock_pileup):
    holder_pid, holder, waiters = lock_pileup
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "production.yaml").write_text(POLICY)
    for name, token in TOKENS.items():
        (tmp_path / f"{name}.token").write_text(token)
    text, env = postgres_config(postgres, tmp_path)
    text += f"""
policies:
  dir: {tmp_path / 'policies'}
users:
  alice: {{roles: [dba]}}
  carol: {{roles: [dba]}}
  bob: {{roles: [developer]}}
api:
  tokens:
""" + "".join(f"    {name}:\n      token_file: {tmp_path / (name + '.token')}\n" for name in TOKENS) + """
jobs:
  poll_interval: 50ms
"""
    hd = helpdesk(text)
    server = hd.start(env=env)

    def call(method, path, who, body=None):
        status, _, data = http(method, hd.url(path), body=json.dumps(body).encode() if body is not None else None,
                               headers={"Authorization": f"Bearer {TOKENS[who]}", "Content-Type": "application/json"})
        return status, json.loads(data) if data else None

    # A read runs at once; the destructive call becomes an approval request.
    status, body = call("POST", "/api/v1/db/blocking_locks", "bob", {"target": "prod-db"})
    assert status == 200 and body["output"]["blockers"][0]["pid"] == holder_pid
    # An incident that is not on record is not shown to approvers as the request's origin.
    status, body = call("POST", "/api/v1/db/terminate_backend", "bob",
                        {"target": "prod-db", "arguments": {"pid": holder_pid}, "incident": "inc_not_on_record", "finding": "trust me"})
    assert status == 202, body
    approval = body["approval"]
    assert approval["status"] == "pending" and approval["quorum"] == 2 and approval["requester"] == "bob"
    approval_id = approval["id"]

    # What approvers are shown, read from the database when the request opened: who the blocker is,
    # what it ran, how long its transaction has written, and every session queued behind it.
    evidence = approval["request"]["evidence"]
    assert evidence["effect"].startswith(f"ends PostgreSQL session {holder_pid} on prod-db")
    assert "incident_id" not in evidence and "finding" not in evidence
    session = evidence["session"]
    assert session["pid"] == holder_pid
    assert session["user"] == postgres.value(f"SELECT usename FROM pg_stat_activity WHERE pid = {holder_pid}")
    assert session["application"] == "billing-worker" and session["state"] == "idle in transaction"
    assert "pg_backend_pid" in session["query"] and len(session["query"]) <= 300
    assert session["transaction_has_written"] is True and session["transaction_age_seconds"] >= 11
    waiting = {row["pid"] for row in postgres.rows("SELECT pid FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0")}
    assert session["blocked_count"] == 3 and set(session["blocked_pids"]) == waiting
    assert 1 <= session["blocked_directly"] <= 3
    _, stored = call("GET", f"/v1/approvals/{approval_id}", "alice")
    assert stored["request"]["evidence"] == evidence

    status, pending = call("GET", "/v1/approvals/pending", "alice")
    assert [a["id"] for a in pending["approvals"]] == [approval_id]

    # The requester cannot approve; one approver counts once; a token cannot vote as someone else.
    status, body = call("POST", f"/v1/approvals/{approval_id}/approve", "bob", {"approved_by": "bob", "reason": "me"})
    assert status == 403 and "cannot decide it" in body["error"]["message"]
    status, body = call("POST", f"/v1/approvals/{approval_id}/approve", "alice", {"approved_by": "carol"})
    assert status == 403 and "acts as alice" in body["error"]["message"]
    status, body = call("POST", f"/v1/approvals/{approval_id}/approve", "alice", {"approved_by": "alice", "reason": "blocker confirmed"})
    assert status == 200 and body["result"] == "recorded", body
    status, body = call("POST", f"/v1/approvals/{approval_id}/approve", "alice", {"approved_by": "alice"})
    assert status == 403 and "counts once" in body["error"]["message"]
    assert postgres.value(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {holder_pid}") == "1", "not yet: one approval of two"

    status, body = call("POST", f"/v1/approvals/{approval_id}/approve", "carol", {"approved_by": "carol", "reason": "go"})
    assert status == 200 and body["result"] == "approved", body

    def executed():
        _, record = call("GET", f"/v1/approvals/{approval_id}", "alice")
        return record["execution"] in ("succeeded", "failed") and record
    assert wait_for(executed, timeout=20)
    _, record = call("GET", f"/v1/approvals/{approval_id}", "alice")
    assert record["execution"] == "succeeded", record["result"]
    assert record["result"]["terminated"] is True and record["result"]["pid"] == holder_pid

    # The blocker is gone and every blocked update went through.
    assert postgres.value(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {holder_pid}") == "0"
    for waiter in waiters:
        assert waiter.read_line() == "done"
    assert postgres.value("SELECT count(*) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0") == "0"

    # A late vote is answered with who decided and when.
    status, body = call("POST", f"/v1/approvals/{approval_id}/deny", "alice", {"denied_by": "alice"})
    assert status == 409 and body["message"].startswith("already decided: approved by carol")

    # The audit log holds the story, with the action run exactly once, and the chain verifies.
    export = hd.run("audit", "export")
    events = [json.loads(line) for line in export.stdout.splitlines()]
    kinds = [event["kind"] for event in events]
    assert kinds.count("approval_created") == 1 and kinds.count("approval_decided") == 1
    assert kinds.count("approval_vote") == 2, "the refused votes changed nothing"
    received = [json.loads(e["data"])["path"] for e in events if e["kind"] == "request_received"]
    assert f"/v1/approvals/{approval_id}/approve" in received and "/api/v1/db/terminate_backend" in received
    runs = [e for e in events if e["kind"] == "tool_call" and json.loads(e["data"]).get("approval") == approval_id]
    assert len(runs) == 1 and json.loads(runs[0]["data"])["outcome"] == "ok"
    status, verification = call("GET", "/v1/verify", "alice")
    # The verify request is itself audited before it runs, so it sees one event more than the export.
    assert status == 200 and verification["ok"] is True and verification["checked"] == len(events) + 1
    assert hd.run("audit", "verify").returncode == 0

    # Editing one event breaks the chain visibly, at that event.
    server.terminate()
    server.wait(timeout=20)
    victim = next(e for e in events if e["kind"] == "approval_decided")
    with sqlite3.connect(hd.folder / "state" / "hd.sqlite") as db:
        db.execute("UPDATE audit_events SET principal = 'mallory' WHERE id = ?", (victim["id"],))
    broken = hd.run("audit", "verify")
    assert broken.returncode == 1
    assert f"chain broken at event {victim['seq']} ({victim['id']}): its contents do not match its hash" in broken.stderr
