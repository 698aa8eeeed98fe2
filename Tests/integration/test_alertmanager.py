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


def alert_bot(helpdesk, tmp_path, api, alertmanager_extra=""):
    """A running bot with one bearer-token receiver, posting to the Web API stand-in."""
    (tmp_path / "am-token").write_text(TOKEN)
    hd = helpdesk(f"""
store: {{path: state/hd.sqlite}}
slack: {{api_base_url: {api.base_url}, default_channel: C0ALERTS, templates_dir: {REPO}/templates/slack}}
diagnosis: {{runbooks_dir: {REPO}/runbooks}}
alertmanager:
{alertmanager_extra}  receivers:
    helpdesk: {{bearer_token_file: {tmp_path / 'am-token'}}}
jobs: {{poll_interval: 50ms}}
""")
    hd.start(env={"SLACK_BOT_TOKEN": "xoxb-test-0123456789-abc"})
    return hd


def shipped_config(group_wait="1s", group_interval="2s", repeat_interval="4s"):
    """adapters/alertmanager/alertmanager.yml as shipped, pointed at this bot, with short timers."""
    text = open(os.path.join(REPO, "adapters", "alertmanager", "alertmanager.yml")).read()
    text = text.replace("https://helpdesk.example.org/webhooks/alertmanager", "{url}")
    text = text.replace("/etc/alertmanager/helpdesk-token", "{token_file}")
    text = text.replace("group_wait: 30s", f"group_wait: {group_wait}").replace("group_interval: 5m", f"group_interval: {group_interval}")
    return text.replace("repeat_interval: 4h", f"repeat_interval: {repeat_interval}")


def test_alert_is_diagnosed_once_and_resolved_in_its_thread(helpdesk, postgres, tmp_path):
    api = WebAPI()
    (tmp_path / "am-token").write_text(TOKEN)
    text, env = postgres_config(postgres, tmp_path)
    hd = helpdesk(text + f"""
slack: {{api_base_url: {api.base_url}, default_channel: C0ALERTS, templates_dir: {REPO}/templates/slack}}
alertmanager:
  routes:
    C0DBA: {{severity: critical, team: dba}}
  receivers:
    helpdesk: {{bearer_token_file: {tmp_path / 'am-token'}}}
jobs: {{poll_interval: 50ms}}
""")
    hd.start(env={**env, "SLACK_BOT_TOKEN": "xoxb-test-0123456789-abc"})
    manager = Alertmanager(free_port(), hd.url("/webhooks/alertmanager"), TOKEN, config=shipped_config()).start()
    try:
        now = datetime.datetime.now(datetime.timezone.utc)
        alert = {"labels": {"alertname": "PostgresLockPileUp", "severity": "critical", "db": "prod-db", "team": "dba"},
                 "annotations": {"summary": "sessions are waiting on locks"}, "startsAt": now.isoformat()}
        manager.post_alerts([alert])

        def thread_reply():
            roots = [c for c in api.calls if c["method"] == "chat.postMessage" and "thread_ts" not in c["body"]]
            replies = [c for c in api.calls if c["method"] == "chat.postMessage" and c["body"].get("thread_ts")]
            return roots and replies and (roots, replies)
        roots, replies = wait(thread_reply)
        assert len(roots) == 1
        root = roots[0]["body"]
        assert root["channel"] == "C0DBA", "routed by its labels"
        assert "PostgresLockPileUp" in root["text"] and "prod-db" in root["text"]
        assert "firing" in root["text"]
        diagnosis = replies[0]["body"]
        assert diagnosis["thread_ts"] == f"{1700000001:.6f}"
        assert diagnosis["text"].startswith("prod-db:")

        # The incident bundle lands in the same thread.
        complete = wait(lambda: [c for c in api.calls if c["method"] == "files.completeUploadExternal"])
        assert complete and complete[0]["body"]["channel_id"] == "C0DBA" and complete[0]["body"]["thread_ts"] == f"{1700000001:.6f}"
        asked = next(c for c in api.calls if c["method"] == "files.getUploadURLExternal")["body"]
        file_id = complete[0]["body"]["files"][0]["id"]
        uploaded = api.uploads[file_id]
        assert len(uploaded) == asked["length"] and asked["filename"].endswith(".tar.gz")
        import io
        import tarfile
        with tarfile.open(fileobj=io.BytesIO(uploaded)) as bundle:
            assert any(name.endswith("/manifest.json") for name in bundle.getnames())

        # Alertmanager re-sends the group (every group_interval while it changes, and every repeat_interval):
        # no second diagnosis across several of them.
        manager.post_alerts([alert])
        time.sleep(9)
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
    hd = alert_bot(helpdesk, tmp_path, api)
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


def test_storm_gets_one_root_and_only_the_worst_is_diagnosed_in_its_thread_and_cooldown_holds(helpdesk, tmp_path):
    api = WebAPI()
    hd = alert_bot(helpdesk, tmp_path, api, alertmanager_extra="  storm_threshold: 3\n  storm_diagnose_top: 1\n  storm_settle: 1s\n"
                                                              "  storm_quiet_period: 3s\n  cooldown: 10m\n")
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    try:
        storm = [alert("CPUHigh", "warning", "f1"), alert("DiskFull", "critical", "f2"), alert("MemHigh", "warning", "f3"),
                 alert("NetFlap", "info", "f4"), alert("LoadHigh", "warning", "f5")]
        status, _, body = http("POST", hd.url("/webhooks/alertmanager"), body=json.dumps(payload(storm)).encode(), headers=headers)
        assert status == 200 and json.loads(body)["storm"] == "true"
        root = wait(lambda: [c for c in api.calls if c["method"] == "chat.postMessage" and "Alert storm" in c["body"].get("text", "")])
        assert root and "5 alerts firing in 1 groups" in root[0]["body"]["text"], root
        wait(lambda: [j for j in hd.jobs() if j["kind"] == "srebot.alert" and j["state"] == "done"])
        diagnosed = [j for j in hd.jobs() if j["kind"] == "srebot.alert"]
        assert len(diagnosed) == 1 and '"f2"' in diagnosed[0]["payload"], "only the critical one"
        replies = wait(lambda: [c for c in api.calls if c["method"] == "chat.postMessage" and c["body"].get("thread_ts")])
        assert replies, "the diagnosis goes into the storm's thread"
        # Quiet for its quiet period once the rate is back at the threshold (the 5 slide out of the sliding
        # minute within about 90 s): one closing summary in the storm's thread.
        over = wait(lambda: [c for c in api.calls if "Alert storm over" in c["body"].get("text", "")], timeout=120)
        assert len(over) == 1 and over[0]["body"].get("thread_ts"), over

        # The critical alert fires again (a new episode) within the cooldown: noted, not diagnosed (checked before it
        # could take a place, should this alert begin another storm while the last one's rate is still near the threshold).
        again = payload([alert("DiskFull", "critical", "f2", starts="2026-11-24T10:05:00Z")], group="{}:{alertname=\"DiskFull\"}")
        http("POST", hd.url("/webhooks/alertmanager"), body=json.dumps(again).encode(), headers=headers)
        result = wait(lambda: [j for j in hd.jobs() if j["kind"] == "srebot.alert" and j["state"] == "done" and "cooldown" in (j.get("result") or "")])
        assert result, [j.get("result") for j in hd.jobs()]
    finally:
        api.stop()


def test_storm_of_2000_alerts_over_200_fingerprints_loses_none_and_bounds_diagnoses(helpdesk, tmp_path):
    import concurrent.futures
    import sqlite3
    api = WebAPI()
    hd = alert_bot(helpdesk, tmp_path, api)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    try:
        batches = []
        for batch in range(100):  # 100 notifications × 20 alerts = 2,000 alerts over 200 fingerprints
            alerts = [alert(f"Alert{(batch * 20 + i) % 200}", ["critical", "warning", "info"][i % 3], f"fp{(batch * 20 + i) % 200:03d}")
                      for i in range(20)]
            batches.append(payload(alerts, group=f"{{}}:{{batch=\"{batch % 10}\"}}"))

        def send(body):
            return http("POST", hd.url("/webhooks/alertmanager"), body=json.dumps(body).encode(), headers=headers)[0]
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(send, batches))
        elapsed = time.monotonic() - started
        assert statuses == [200] * 100
        print(f"2,000 alerts in 100 notifications accepted in {elapsed:.2f} s")
        with sqlite3.connect(hd.folder / "state" / "hd.sqlite") as db:
            assert db.execute("SELECT COUNT(DISTINCT fingerprint) FROM alerts").fetchone()[0] == 200, "no alert lost"
            jobs = db.execute("SELECT COUNT(*) FROM jobs WHERE kind = 'srebot.alert'").fetchone()[0]
            storms = db.execute("SELECT COUNT(*) FROM storms").fetchone()[0]
        assert storms == 1
        # The first notification (20 alerts, not above the threshold of 20) was calm and diagnosed in full.
        assert 20 <= jobs <= 2 * 20 + 3 * 4, f"{jobs} diagnosis jobs: the first 20 (delayed, then competing once the storm began, each asked again after its settle window) and the storm picks"
        root = wait(lambda: [c for c in api.calls if "Alert storm" in c["body"].get("text", "")])
        assert len([c for c in api.calls if c["method"] == "chat.postMessage" and "thread_ts" not in c["body"]]) <= 3, \
            "group roots only before the storm started, then the storm's one root"
        assert root
    finally:
        api.stop()


def test_kill_9_while_alertmanager_keeps_sending_then_every_accepted_alert_is_diagnosed_once(helpdesk, tmp_path):
    import signal
    import sqlite3
    (tmp_path / "am-token").write_text(TOKEN)
    hd = helpdesk(f"""
store: {{path: state/hd.sqlite}}
diagnosis: {{runbooks_dir: {REPO}/runbooks}}
alertmanager:
  storm_threshold: 1000
  receivers:
    helpdesk: {{bearer_token_file: {tmp_path / 'am-token'}}}
jobs: {{poll_interval: 50ms, lease: 2s}}
""")
    port = free_port()
    first = hd.start(port=port)
    manager = Alertmanager(free_port(), f"http://127.0.0.1:{port}/webhooks/alertmanager", TOKEN,
                           config=shipped_config(group_wait="1s", group_interval="1s", repeat_interval="2s")).start()
    try:
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        manager.post_alerts([{"labels": {"alertname": f"Crash{i}", "severity": "warning", "instance": f"h{i}"}, "startsAt": now}
                             for i in range(5)])
        wait(lambda: any(j["kind"] == "srebot.alert" for j in hd.jobs()), timeout=20)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        manager.post_alerts([{"labels": {"alertname": f"Crash{i}", "severity": "warning", "instance": f"h{i}"}, "startsAt": now}
                             for i in range(5, 10)])
        time.sleep(3)  # Alertmanager keeps trying a dead bot
        hd.start(port=port)

        def all_done():
            jobs = [j for j in hd.jobs() if j["kind"] == "srebot.alert"]
            return len(jobs) == 10 and all(j["state"] == "done" for j in jobs) and jobs
        jobs = wait(all_done, timeout=60)
        assert jobs, [(j["kind"], j["state"]) for j in hd.jobs()]
        with sqlite3.connect(hd.folder / "state" / "hd.sqlite") as db:
            fingerprints = db.execute("SELECT COUNT(DISTINCT fingerprint) FROM alerts WHERE status = 'firing'").fetchone()[0]
            done_runs = db.execute("""SELECT j.id, COUNT(*) FROM jobs j JOIN job_runs r ON r.job_id = j.id
                                      WHERE j.kind = 'srebot.alert' AND r.outcome = 'done' GROUP BY j.id""").fetchall()
        assert fingerprints == 10
        assert all(count == 1 for _, count in done_runs) and len(done_runs) == 10, done_runs
    finally:
        manager.stop()
