"""Slack has a bad minute (every Web API call and upload answers 429 or 500) while an alert storm
runs: afterwards every message arrives exactly once, the digest edits queued meanwhile went out as
one, and nothing is left failed or pending."""
import json
import sqlite3
import time

from conftest import http
from slack_peer import WebAPI
from test_alertmanager import TOKEN, alert_bot


def notification(group: int) -> dict:
    alerts = [{"status": "firing", "labels": {"alertname": f"Outage{group}", "severity": "critical" if index == 0 and group % 10 == 3 else "warning",
                                              "instance": f"i{group}-{index}"},
               "annotations": {}, "startsAt": "2026-12-03T11:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
               "fingerprint": f"out{group:03d}-{index}"} for index in range(10)]
    return {"version": "4", "groupKey": f"{{}}:{{alertname=\"Outage{group}\"}}", "status": "firing", "receiver": "helpdesk",
            "groupLabels": {"alertname": f"Outage{group}"}, "commonLabels": {"alertname": f"Outage{group}"}, "commonAnnotations": {},
            "externalURL": "http://am", "truncatedAlerts": 0, "alerts": alerts}


def test_a_minute_of_429_and_500_loses_and_duplicates_nothing(helpdesk, tmp_path):
    api = WebAPI()
    hd = alert_bot(helpdesk, tmp_path, api, alertmanager_extra="  storm_threshold: 5\n  storm_settle: 2s\n  storm_digest_interval: 2s\n"
                                                              "  storm_quiet_period: 10s\n  diagnosis_delay: 0s\n")
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    try:
        api.outage_until = time.monotonic() + 60
        for group in range(50):  # 500 alerts over 50 s, all while Slack is down
            status = http("POST", hd.url("/webhooks/alertmanager"), body=json.dumps(notification(group)).encode(), headers=headers)[0]
            assert status == 200
            time.sleep(1)
        assert api.outage_calls > 0, "the outbox kept trying during the outage"

        def settled():
            with sqlite3.connect(hd.folder / "state" / "hd.sqlite") as db:
                open_rows = db.execute("SELECT COUNT(*) FROM slack_outbox WHERE state != 'sent'").fetchone()[0]
                storms_open = db.execute("SELECT COUNT(*) FROM storms WHERE closed_at IS NULL").fetchone()[0]
                uploads_left = db.execute("SELECT COUNT(*) FROM jobs WHERE kind LIKE 'slack.%' AND state != 'done'").fetchone()[0]
            return time.monotonic() > api.outage_until and open_rows == 0 and storms_open == 0 and uploads_left == 0
        # The storm ends once the rate stays at or below 5 a minute for 10 s: the last alerts slide out of the
        # sliding minute within about 90 s, so it closes about 100 s after the last alert, well inside this.
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not settled():
            time.sleep(1)
        with sqlite3.connect(hd.folder / "state" / "hd.sqlite") as db:
            states = dict(db.execute("SELECT state, COUNT(*) FROM slack_outbox GROUP BY state").fetchall())
            dead = db.execute("SELECT kind, last_error FROM jobs WHERE state = 'dead'").fetchall()
            stored = db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
        assert settled(), (states, dead)
        assert stored == 500 and not dead and set(states) == {"sent"}, (stored, dead, states)

        posts = [c for c in api.calls if c["method"] == "chat.postMessage" and c["ok"]]
        texts = [json.dumps(c["body"], sort_keys=True) for c in posts]
        assert len(texts) == len(set(texts)), "no message posted twice"
        roots = [c for c in posts if "thread_ts" not in c["body"]]
        assert len(roots) == 1 and "Alert storm" in roots[0]["body"]["text"], [c["body"]["text"][:60] for c in roots]
        assert len([c for c in posts if "Alert storm over" in c["body"].get("text", "")]) == 1
        diagnoses = [c for c in posts if c["body"].get("thread_ts") and "Alert storm over" not in c["body"].get("text", "")]
        assert len(diagnoses) == 3, [c["body"].get("text", "")[:80] for c in diagnoses]
        assert len(api.uploads) == 3, "each diagnosis's bundle uploaded once"
        # Every digest edit queued during the outage went out as one (plus, at most, the storm's final edit).
        edits = [c for c in api.calls if c["method"] == "chat.update" and c["ok"]]
        assert 1 <= len(edits) <= 2, len(edits)
        assert "500 alerts firing" in edits[-1]["body"]["text"] or "500" in edits[-1]["body"]["text"], edits[-1]["body"]["text"]
    finally:
        api.stop()
