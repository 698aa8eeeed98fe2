"""Session tools pinned to the session they were asked for, against a real PostgreSQL: a call
carrying `backend_start` acts only while the PID still names that session, in one statement."""
import json

from conftest import http
from test_diagnose_postgres import config as postgres_config, wait_for

POLICY = """version: "1"
policies:
  - name: lab
    resources:
      - type: database
        match: {name: prod-db}
    rules:
      - {action: read, effect: allow}
      - {action: write, effect: allow}
      - {action: destructive, effect: allow}
"""
TOKEN = "token-ops-0123456789"


def start(helpdesk, postgres, tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "lab.yaml").write_text(POLICY)
    (tmp_path / "ops.token").write_text(TOKEN)
    text, env = postgres_config(postgres, tmp_path)
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
                               headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}, timeout=15)
        return status, json.loads(data)
    return call


def idle_session(postgres, application, transaction=False):
    session = postgres.session()
    session.send(f"SET application_name = '{application}'; {'BEGIN; ' if transaction else ''}SELECT pg_backend_pid();")
    return session, int(session.read_line())


def pin(postgres, pid):
    """What DatabaseAgent.pin records: the session's backend_start as PostgreSQL renders it in JSON."""
    return postgres.value(f"SELECT to_json(backend_start) #>> '{{}}' FROM pg_stat_activity WHERE pid = {pid}")


def alive(postgres, pid):
    return postgres.value(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}") == "1"


def test_terminate_refuses_another_session_on_the_pid_and_ends_the_pinned_one(helpdesk, postgres, tmp_path):
    call = start(helpdesk, postgres, tmp_path)
    session, pid = idle_session(postgres, "pinned-victim", transaction=True)
    try:
        backend_start = pin(postgres, pid)
        # The read a diagnosis runs shows the same identity, so its recommended action can carry it.
        status, body = call("idle_in_transaction", {"min_seconds": 0})
        assert status == 200, body
        assert [s["backend_start"] for s in body["output"]["sessions"] if s["pid"] == pid] == [backend_start]
        # The PID as it would be after the approved session ended and another took its number.
        status, body = call("terminate_backend", {"pid": pid, "backend_start": "2020-01-01T00:00:00+00:00"})
        assert status == 502, body
        message = body["error"]["message"]
        assert message.startswith(f"PID {pid} now belongs to another session (started "), message
        assert "application \"pinned-victim\"" in message and message.endswith(
            "the approved session (started 2020-01-01T00:00:00+00:00) has ended: nothing done"), message
        assert alive(postgres, pid), "a refused call touched nothing"

        status, body = call("cancel_query", {"pid": pid, "backend_start": "2020-01-01T00:00:00+00:00"})
        assert status == 502 and "now belongs to another session" in body["error"]["message"], body

        status, body = call("terminate_backend", {"pid": pid, "backend_start": backend_start, "session_application": "pinned-victim"})
        assert status == 200, body
        assert body["output"]["terminated"] is True and body["output"]["pid"] == pid
        assert body["output"]["session"]["backend_start"] == backend_start
        assert body["output"]["session"]["application"] == "pinned-victim"
        assert wait_for(lambda: not alive(postgres, pid), timeout=10)

        # Approved again later, the ended session is gone: nothing to act on, and it says so.
        status, body = call("terminate_backend", {"pid": pid, "backend_start": backend_start})
        assert status == 502
        assert body["error"]["message"] == (f"no session has PID {pid} on prod-db any more; the approved session "
                                            f"(started {backend_start}) has ended: nothing done")
    finally:
        session.close()


def test_unpinned_calls_still_act_on_the_pid(helpdesk, postgres, tmp_path):
    call = start(helpdesk, postgres, tmp_path)
    session, pid = idle_session(postgres, "unpinned")
    try:
        status, body = call("terminate_backend", {"pid": pid})
        assert status == 200 and body["output"]["terminated"] is True, body
        assert wait_for(lambda: not alive(postgres, pid), timeout=10)
        status, body = call("terminate_backend", {"pid": pid})
        assert status == 502 and body["error"]["message"] == f"no session has PID {pid} on prod-db; it may have ended already"
    finally:
        session.close()
