"""An incident-scale storm: 10,000 alerts in 500 groups over one minute, sent at Alertmanager's
pace as its webhook payloads. Every alert is stored, the channel gets one storm root and a
digest edited every few seconds, only the most severe alerts are diagnosed, one closing
summary follows resolution, and Slack sees at most 40 calls (every upload step counted)."""
import concurrent.futures
import json
import sqlite3
import threading
import time

from conftest import http
from slack_peer import WebAPI
from test_alertmanager import TOKEN, alert_bot

GROUPS = 500
PER_GROUP = 20
# The most severe, arriving within the storm's 15 s settle window but after it began, so they must displace earlier picks.
CRITICAL = {("g10", 7), ("g50", 2), ("g100", 19)}


def notification(group: int, status: str) -> dict:
    name = f"g{group}"
    alerts = []
    for index in range(PER_GROUP):
        severity = "critical" if (name, index) in CRITICAL else ("warning" if index % 2 else "info")
        alerts.append({"status": status, "labels": {"alertname": f"Svc{group}Down", "severity": severity, "instance": f"{name}-{index}"},
                       "annotations": {"summary": "down"}, "startsAt": "2026-12-03T10:00:00Z",
                       "endsAt": "2026-12-03T10:05:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
                       "generatorURL": "", "fingerprint": f"{name}-{index:02d}"})
    return {"version": "4", "groupKey": f"{{}}:{{alertname=\"Svc{group}Down\"}}", "status": status, "receiver": "helpdesk",
            "groupLabels": {"alertname": f"Svc{group}Down"}, "commonLabels": {"alertname": f"Svc{group}Down"}, "commonAnnotations": {},
            "externalURL": "http://am", "truncatedAlerts": 0, "alerts": alerts}


def test_10000_alerts_in_500_groups_cost_slack_at_most_40_calls(helpdesk, tmp_path):
    api = WebAPI()
    hd = alert_bot(helpdesk, tmp_path, api, alertmanager_extra="  storm_diagnose_top: 3\n  storm_settle: 15s\n  storm_digest_interval: 10s\n")
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    statuses = []
    lock = threading.Lock()

    def send(body):
        status = http("POST", hd.url("/webhooks/alertmanager"), body=json.dumps(body).encode(), headers=headers, timeout=30)[0]
        with lock:
            statuses.append(status)

    try:
        first = time.monotonic()
        # Firing: 500 notifications evenly over 60 s (about 167 alerts a second).
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            for group in range(GROUPS):
                pool.submit(send, notification(group, "firing"))
                time.sleep(max(0.0, first + 60 * (group + 1) / GROUPS - time.monotonic()))
        # Resolution of every group, over 10 s.
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            for group in range(GROUPS):
                pool.submit(send, notification(group, "resolved"))
                time.sleep(0.02)
        last = time.monotonic()
        assert statuses.count(200) == 2 * GROUPS, sorted(set(statuses))

        # Two minutes after the last alert, counting every Slack call and upload.
        time.sleep(max(0.0, last + 120 - time.monotonic()))
        calls = list(api.calls)
        uploads = len(api.uploads)
        by_method = {}
        for call in calls:
            by_method[call["method"]] = by_method.get(call["method"], 0) + 1
        print(f"storm: {len(calls)} Web API calls + {uploads} uploads: {by_method}")
        assert len(calls) + uploads <= 40, by_method

        with sqlite3.connect(hd.folder / "state" / "hd.sqlite") as db:
            assert db.execute("SELECT COUNT(*) FROM alerts WHERE status = 'firing'").fetchone()[0] == GROUPS * PER_GROUP, "every alert stored"
            assert db.execute("SELECT COUNT(*) FROM alerts WHERE status = 'resolved'").fetchone()[0] == GROUPS * PER_GROUP
            chosen = {row[0] for row in db.execute("SELECT fingerprint FROM storm_candidates WHERE state = 'started'")}
            storms = db.execute("SELECT COUNT(*), MIN(closed_at IS NOT NULL) FROM storms").fetchone()
            counted = db.execute("SELECT firing, group_count FROM storms").fetchone()
        assert chosen == {f"{name}-{index:02d}" for name, index in CRITICAL}, "the three critical alerts, and only they, were diagnosed"
        assert storms == (1, 1), "one storm, closed"

        roots = [c for c in calls if c["method"] == "chat.postMessage" and "thread_ts" not in c["body"]]
        assert len(roots) <= 2, "at most one group root before the storm began, then the storm's own"
        summaries = [c for c in calls if "Alert storm over" in c["body"].get("text", "")]
        assert len(summaries) == 1 and summaries[0]["body"].get("thread_ts"), "one closing summary, in the storm's thread"
        # Counted from the notification that started it (the one before had its own root).
        assert counted[0] >= GROUPS * PER_GROUP - 2 * PER_GROUP and counted[1] >= GROUPS - 2, counted
        assert f"{counted[0]} alerts in {counted[1]} groups" in summaries[0]["body"]["text"], summaries
        diagnoses = [c for c in calls if c["method"] == "chat.postMessage" and c["body"].get("thread_ts") and c not in summaries]
        assert len(diagnoses) == 3, [c["body"].get("text", "")[:80] for c in diagnoses]
    finally:
        api.stop()
