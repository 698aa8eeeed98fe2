"""A real Alertmanager drives the whole alert story: firing → one diagnosis in the group's
thread → resolved in the same thread, with repeats changing nothing."""
import datetime
import json
import os
import time

from conftest import free_port, http
from peers import Alertmanager
from slack_peer import WebAPI
from test_diagnose_postgres import config as postgres_config

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOKEN = "alertmanager-bearer-0123456789"


def wait(condition, timeout=40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    return condition()


def test_alert_is_diagnosed_once_and_resolved_in_its_thread(helpdesk, postgres, tmp_path):
    api = WebAPI()
    (tmp_path / "am-token").write_text(TOKEN)
    text, env = postgres_config(postgres, tmp_path)
    hd = helpdesk(text + f"""
slack: {{api_base_url: {api.base_url}, default_channel: C0ALERTS, templates_dir: {REPO}/templates/slack}}
alertmanager:
  receivers:
    helpdesk: {{bearer_token_file: {tmp_path / 'am-token'}}}
jobs: {{poll_interval: 50ms}}
""")
    hd.start(env={**env, "SLACK_BOT_TOKEN": "xoxb-test-0123456789-abc"})
    manager = Alertmanager(free_port(), hd.url("/webhooks/alertmanager"), TOKEN).start()
    try:
        now = datetime.datetime.now(datetime.timezone.utc)
        alert = {"labels": {"alertname": "PostgresLockPileUp", "severity": "critical", "db": "prod-db"},
                 "annotations": {"summary": "sessions are waiting on locks"}, "startsAt": now.isoformat()}
        manager.post_alerts([alert])

        def thread_reply():
            roots = [c for c in api.calls if c["method"] == "chat.postMessage" and "thread_ts" not in c["body"]]
            replies = [c for c in api.calls if c["method"] == "chat.postMessage" and c["body"].get("thread_ts")]
            return roots and replies and (roots, replies)
        roots, replies = wait(thread_reply)
        assert len(roots) == 1
        root = roots[0]["body"]
        assert root["channel"] == "C0ALERTS" and "PostgresLockPileUp" in root["text"] and "prod-db" in root["text"]
        assert "firing" in root["text"]
        diagnosis = replies[0]["body"]
        assert diagnosis["thread_ts"] == f"{1700000001:.6f}"
        assert diagnosis["text"].startswith("prod-db:")

        # The incident bundle lands in the same thread.
        complete = wait(lambda: [c for c in api.calls if c["method"] == "files.completeUploadExternal"])
        assert complete and complete[0]["body"]["channel_id"] == "C0ALERTS" and complete[0]["body"]["thread_ts"] == f"{1700000001:.6f}"
        asked = next(c for c in api.calls if c["method"] == "files.getUploadURLExternal")["body"]
        file_id = complete[0]["body"]["files"][0]["id"]
        uploaded = api.uploads[file_id]
        assert len(uploaded) == asked["length"] and asked["filename"].endswith(".tar.gz")
        import io
        import tarfile
        with tarfile.open(fileobj=io.BytesIO(uploaded)) as bundle:
            assert any(name.endswith("/manifest.json") for name in bundle.getnames())

        # Alertmanager re-sends the group (every group_interval while it changes, and on repeat): no second diagnosis.
        manager.post_alerts([alert])
        time.sleep(5)
        jobs = [job for job in hd.jobs() if job["kind"] == "srebot.alert"]
        assert len(jobs) == 1

        # Resolve it: the thread says how long it lasted and the root turns resolved.
        manager.post_alerts([{**alert, "endsAt": datetime.datetime.now(datetime.timezone.utc).isoformat()}])
        update = wait(lambda: [c for c in api.calls if c["method"] == "chat.update"])
        assert update and "resolved" in update[0]["body"]["text"] and update[0]["body"]["ts"] == f"{1700000001:.6f}"
        resolved = [c["body"]["text"] for c in api.calls if c["method"] == "chat.postMessage" and "resolved after" in c["body"].get("text", "")]
        assert resolved and resolved[0].startswith(":large_green_circle: PostgresLockPileUp on `prod-db` resolved after ")
    finally:
        manager.stop()
        api.stop()


def test_webhook_rejects_bad_credentials_and_malformed_payloads_and_posts_unknown_targets(helpdesk, tmp_path):
    api = WebAPI()
    (tmp_path / "am-token").write_text(TOKEN)
    hd = helpdesk(f"""
store: {{path: state/hd.sqlite}}
slack: {{api_base_url: {api.base_url}, default_channel: C0ALERTS, templates_dir: {REPO}/templates/slack}}
diagnosis: {{runbooks_dir: {REPO}/runbooks}}
alertmanager:
  receivers:
    helpdesk: {{bearer_token_file: {tmp_path / 'am-token'}}}
""")
    hd.start(env={"SLACK_BOT_TOKEN": "xoxb-test-0123456789-abc"})
    try:
        payload = {"version": "4", "groupKey": "{}:{alertname=\"DiskFull\"}", "status": "firing", "receiver": "helpdesk",
                   "groupLabels": {"alertname": "DiskFull"}, "commonLabels": {"alertname": "DiskFull"}, "commonAnnotations": {},
                   "externalURL": "http://am", "truncatedAlerts": 0,
                   "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull", "instance": "mystery-host:9100"},
                               "annotations": {}, "startsAt": "2026-11-24T10:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
                               "generatorURL": "", "fingerprint": "75660623fbaac4ea"}]}
        status, _, _ = http("POST", hd.url("/webhooks/alertmanager"), body=json.dumps(payload).encode(),
                            headers={"Authorization": "Bearer wrong", "Content-Type": "application/json"})
        assert status == 401
        status, _, body = http("POST", hd.url("/webhooks/alertmanager"), body=b'{"version": "4"}',
                               headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        assert status == 400 and "is missing" in json.loads(body)["error"]["message"]
        status, _, body = http("POST", hd.url("/webhooks/alertmanager"), body=json.dumps(payload).encode(),
                               headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        assert status == 200 and json.loads(body)["new"] == "1"
        reply = wait(lambda: [c for c in api.calls if c["method"] == "chat.postMessage" and c["body"].get("thread_ts")])
        assert reply and "mystery-host:9100 is not in the inventory" in reply[0]["body"]["text"]
    finally:
        api.stop()


def payload(alerts, group="{}:{alertname=\"Storm\"}"):
    return {"version": "4", "groupKey": group, "status": "firing", "receiver": "helpdesk", "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://am", "truncatedAlerts": 0, "alerts": alerts}


def alert(name, severity, fingerprint, starts="2026-11-24T10:00:00Z"):
    return {"status": "firing", "labels": {"alertname": name, "severity": severity, "instance": "h1"}, "annotations": {},
            "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": fingerprint}


def test_storm_gets_one_summary_and_only_the_worst_is_diagnosed_and_cooldown_holds(helpdesk, tmp_path):
    api = WebAPI()
    (tmp_path / "am-token").write_text(TOKEN)
    hd = helpdesk(f"""
store: {{path: state/hd.sqlite}}
slack: {{api_base_url: {api.base_url}, default_channel: C0ALERTS, templates_dir: {REPO}/templates/slack}}
diagnosis: {{runbooks_dir: {REPO}/runbooks}}
alertmanager:
  storm_threshold: 3
  storm_diagnose_top: 1
  cooldown: 10m
  receivers:
    helpdesk: {{bearer_token_file: {tmp_path / 'am-token'}}}
jobs: {{poll_interval: 50ms}}
""")
    hd.start(env={"SLACK_BOT_TOKEN": "xoxb-test-0123456789-abc"})
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    try:
        storm = [alert("CPUHigh", "warning", "f1"), alert("DiskFull", "critical", "f2"), alert("MemHigh", "warning", "f3"),
                 alert("NetFlap", "info", "f4"), alert("LoadHigh", "warning", "f5")]
        status, _, body = http("POST", hd.url("/webhooks/alertmanager"), body=json.dumps(payload(storm)).encode(), headers=headers)
        assert status == 200 and json.loads(body)["storm"] == "true"
        summary = wait(lambda: [c for c in api.calls if c["method"] == "chat.postMessage" and "Alert storm" in c["body"].get("text", "")])
        assert summary and all(name in summary[0]["body"]["text"] for name in ("CPUHigh", "DiskFull", "NetFlap"))
        wait(lambda: [j for j in hd.jobs() if j["kind"] == "srebot.alert" and j["state"] == "done"])
        diagnosed = [j for j in hd.jobs() if j["kind"] == "srebot.alert"]
        assert len(diagnosed) == 1 and '"f2"' in diagnosed[0]["payload"], "only the critical one"

        # The critical alert fires again (a new episode) within the cooldown: noted, not diagnosed.
        again = payload([alert("DiskFull", "critical", "f2", starts="2026-11-24T10:05:00Z")], group="{}:{alertname=\"DiskFull\"}")
        http("POST", hd.url("/webhooks/alertmanager"), body=json.dumps(again).encode(), headers=headers)
        result = wait(lambda: [j for j in hd.jobs() if j["kind"] == "srebot.alert" and j["state"] == "done" and "cooldown" in (j.get("result") or "")])
        assert result, [j.get("result") for j in hd.jobs()]
    finally:
        api.stop()
