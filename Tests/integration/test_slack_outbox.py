"""The Slack outbox against a Web API stand-in that rate-limits, fails and refuses: every approval
request reaches the channel exactly once (a 429 pauses the channel, a root retried after a 500 does
not hold the other threads), decisions edit the root message and reply in its thread after it, and
a refused message is recorded with Slack's error code."""
import json
import os
import sqlite3
import time

from conftest import http
from slack_peer import WebAPI

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BOT_TOKEN = "xoxb-test-0123456789-abcdefghij"
POLICY = """version: "1"
policies:
  - name: all
    rules:
      - action: write
        effect: require_approval
        conditions: {approval_quorum: 2}
"""


def test_outbox_survives_429_and_500_and_keeps_thread_order(helpdesk, tmp_path):
    api = WebAPI(post_message_script=[
        (429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"}),
        (500, {}, {"ok": False}),
    ])
    try:
        (tmp_path / "policies").mkdir()
        (tmp_path / "policies" / "p.yaml").write_text(POLICY)
        (tmp_path / "token").write_text("token-bob-0123456789")
        (tmp_path / "token-alice").write_text("token-alice-0123456789")
        (tmp_path / "token-carol").write_text("token-carol-0123456789")
        hd = helpdesk(f"""
store: {{path: state/hd.sqlite}}
policies: {{dir: {tmp_path / 'policies'}}}
slack:
  api_base_url: {api.base_url}
  default_channel: C0APPROVALS
  templates_dir: {REPO}/templates/slack
infrastructure:
  k8s_clusters:
    prod: {{context: nowhere}}
users:
  alice: {{roles: [sre]}}
  carol: {{roles: [sre]}}
api:
  tokens:
    bob: {{token_file: {tmp_path / 'token'}}}
    alice: {{token_file: {tmp_path / 'token-alice'}}}
    carol: {{token_file: {tmp_path / 'token-carol'}}}
jobs: {{poll_interval: 50ms}}
""")
        server = hd.start(env={"SLACK_BOT_TOKEN": BOT_TOKEN})

        def call(path, who, body):
            status, _, data = http("POST", hd.url(path), body=json.dumps(body).encode(),
                                   headers={"Authorization": f"Bearer token-{who}-0123456789", "Content-Type": "application/json"})
            return status, json.loads(data)

        ids = []
        for name in ("api", "worker", "web"):
            status, body = call("/api/v1/k8s/rollout_restart", "bob", {"target": "prod", "arguments": {"namespace": "orders", "name": name}})
            assert status == 202, body
            ids.append(body["approval"]["id"])

        def posted():
            return [c for c in api.calls if c["method"] == "chat.postMessage"]

        def approval(call):
            return next(i for i in ids if i in call["body"]["text"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len([c for c in posted() if c.get("ok") is True]) < 3:
            time.sleep(0.1)
        calls = posted()
        assert len(calls) == 5, calls  # 429, 500, then the three roots
        assert [c.get("ok") for c in calls] == [False, False, True, True, True]
        roots = calls[2:]
        assert sorted(approval(c) for c in roots) == sorted(ids), "each root posted exactly once"
        assert all(c["auth"] == f"Bearer {BOT_TOKEN}" and c["body"]["channel"] == "C0APPROVALS" for c in calls)
        assert all("thread_ts" not in c["body"] for c in calls)
        for failed in calls[:2]:
            retried = next(c for c in roots if approval(c) == approval(failed))
            assert failed["body"] == retried["body"], "the retried message is the same message"
        # The 429 paused the whole channel for its Retry-After, not just the one message: the other
        # roots (their own threads) were queued meanwhile and still waited.
        assert calls[1]["at"] - calls[0]["at"] >= 0.9, [c["at"] for c in calls]

        # Decide the first: the root is edited (its buttons gone) and the thread hears the outcome.
        root_ts = next(c for c in roots if approval(c) == ids[0])["reply"]["ts"]
        call(f"/v1/approvals/{ids[0]}/approve", "alice", {"approved_by": "alice"})
        call(f"/v1/approvals/{ids[0]}/approve", "carol", {"approved_by": "carol"})

        def replies_so_far():
            return [c["body"]["text"] for c in api.calls if c["method"] == "chat.postMessage" and c["body"].get("thread_ts") == root_ts]

        def unsent():
            with sqlite3.connect(hd.folder / "state" / "hd.sqlite") as db:
                return db.execute("SELECT COUNT(*) FROM slack_outbox WHERE state != 'sent'").fetchone()[0]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not any(": failed:" in text for text in replies_so_far()) or unsent()):
            time.sleep(0.1)
        updates = [c for c in api.calls if c["method"] == "chat.update"]
        assert updates and all(u["body"]["ts"] == root_ts for u in updates)
        assert not any(block["type"] == "actions" for block in updates[0]["body"]["blocks"])
        replies = [c for c in api.calls if c["method"] == "chat.postMessage" and c["body"].get("thread_ts") == root_ts]
        texts = [r["body"]["text"] for r in replies]
        assert texts[0] == f"`{ids[0]}`: approved by carol; running now"
        assert texts[-1].startswith(f"`{ids[0]}`: failed: kubectl failed"), texts

        # Every reply and edit came after its root was posted, into that root's thread.
        posted_ts = {}
        for index, c in enumerate(api.calls):
            target = c["body"].get("thread_ts") or c["body"].get("ts")
            if target:
                assert target in posted_ts and posted_ts[target] < index, (c["method"], c["body"].get("text"))
            if c["method"] == "chat.postMessage" and c["ok"]:
                posted_ts[c["reply"]["ts"]] = index

        # Nothing lost, nothing duplicated: each row the outbox sent is one call Slack accepted.
        assert unsent() == 0
        with sqlite3.connect(hd.folder / "state" / "hd.sqlite") as db:
            sent_rows = dict(db.execute("SELECT method, COUNT(*) FROM slack_outbox WHERE state = 'sent' GROUP BY method").fetchall())
        accepted = {m: len(api.successful(m)) for m in ("chat.postMessage", "chat.update")}
        assert sent_rows == {m: n for m, n in accepted.items() if n}, (sent_rows, accepted)
        bodies = [json.dumps(c["body"], sort_keys=True) for c in api.successful("chat.postMessage")]
        assert len(bodies) == len(set(bodies)), "no message posted twice"

        # No secret in the log, and each root was posted once.
        assert BOT_TOKEN not in hd.log(server)
        assert sum(1 for c in api.successful("chat.postMessage") if ids[1] in c["body"].get("text", "")) == 1
    finally:
        api.stop()


def test_refused_message_is_recorded_with_slacks_error_code(helpdesk, tmp_path):
    api = WebAPI(post_message_script=[(200, {}, {"ok": False, "error": "channel_not_found"})])
    try:
        (tmp_path / "policies").mkdir()
        (tmp_path / "policies" / "p.yaml").write_text(POLICY)
        (tmp_path / "token").write_text("token-bob-0123456789")
        hd = helpdesk(f"""
store: {{path: state/hd.sqlite}}
policies: {{dir: {tmp_path / 'policies'}}}
slack: {{api_base_url: {api.base_url}, default_channel: C0GONE, templates_dir: {REPO}/templates/slack}}
infrastructure: {{k8s_clusters: {{prod: {{context: nowhere}}}}}}
api: {{tokens: {{bob: {{token_file: {tmp_path / 'token'}}}}}}}
""")
        server = hd.start(env={"SLACK_BOT_TOKEN": BOT_TOKEN})
        status, _, _ = http("POST", hd.url("/api/v1/k8s/rollout_restart"), body=json.dumps({"target": "prod", "arguments": {"namespace": "o", "name": "x"}}).encode(),
                            headers={"Authorization": "Bearer token-bob-0123456789", "Content-Type": "application/json"})
        assert status == 202
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and "Slack refused a message" not in hd.log(server):
            time.sleep(0.1)
        assert "error=channel_not_found" in hd.log(server)
        time.sleep(1.5)
        assert len([c for c in api.calls if c["method"] == "chat.postMessage"]) == 1, "ok:false is not retried"
    finally:
        api.stop()
