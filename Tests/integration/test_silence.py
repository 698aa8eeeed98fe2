"""Silence from the thread, against a real Alertmanager: the alert group's root carries a
"Silence 1h" button, `/helpdesk silence FINGERPRINT@RECEIVER DURATION` does the same; either creates
the silence at the receiver's Alertmanager through policy (as whoever clicked or typed), the
Alertmanager stops notifying, the thread says so, and the audit log holds the call. When the same
alert reached the bot through two receivers (two Alertmanagers), a fingerprint alone is refused
with the choices, and FINGERPRINT@RECEIVER silences at that receiver's Alertmanager only."""
import datetime
import json
import os
import time
import urllib.request

from conftest import free_port
from peers import Alertmanager
from slack_peer import SIGNING_SECRET, Recorder, SlackClient, WebAPI, click, parsed_blocks
from test_alertmanager import wait

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOKEN = "alertmanager-bearer-0123456789"
OTHER_TOKEN = "alertmanager-bearer-other-9876543210"

# SREs may silence without approval (the shipped default asks one approval); nobody else may.
# Reads stay allowed, so alerts are diagnosed as usual.
POLICY = """version: "1"
policies:
  - name: reads
    rules:
      - {action: read, effect: allow}
  - name: sre-silences
    principals: [{role: sre}]
    resources: [{type: alertmanager}]
    rules:
      - {action: write, effect: allow}
"""

# Short timers: an unchanged firing group is sent again every repeat_interval (4s).
ALERTMANAGER = """
route:
  receiver: helpdesk
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 4s
receivers:
  - name: helpdesk
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: {token_file}
"""


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def silence_bot(helpdesk, tmp_path, with_url=True):
    """A bot whose receiver `helpdesk` names the real Alertmanager (or not), with Slack on both sides."""
    api, recorder = WebAPI(), Recorder()
    port = free_port()
    (tmp_path / "am-token").write_text(TOKEN)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(POLICY)
    url = f", url: 'http://127.0.0.1:{port}'" if with_url else ""
    hd = helpdesk(f"""
store: {{path: state/hd.sqlite}}
slack: {{api_base_url: {api.base_url}, default_channel: C0ALERTS, templates_dir: {REPO}/templates/slack}}
diagnosis: {{runbooks_dir: {REPO}/runbooks}}
policies: {{dir: {tmp_path / 'policies'}}}
users:
  alice: {{roles: [sre], slack_user_id: U0ALICE}}
  bob: {{roles: [developer], slack_user_id: U0BOB}}
alertmanager:
  receivers:
    helpdesk: {{bearer_token_file: {tmp_path / 'am-token'}{url}}}
jobs: {{poll_interval: 50ms}}
""")
    hd.start(env={"SLACK_BOT_TOKEN": "xoxb-test-0123456789-abc", "SLACK_SIGNING_SECRET": SIGNING_SECRET})
    manager = Alertmanager(port, hd.url("/webhooks/alertmanager"), TOKEN, config=ALERTMANAGER).start()
    return hd, api, recorder, manager, SlackClient(hd.url(""), recorder)


def firing(name, **labels):
    return {"labels": {"alertname": name, "severity": "warning", **labels}, "annotations": {"summary": f"{name} fires"},
            "startsAt": datetime.datetime.now(datetime.timezone.utc).isoformat()}


def root_of(api, name):
    """The root message of `name`'s group, as posted through the Web API."""
    roots = [c for c in api.calls if c["method"] == "chat.postMessage" and "thread_ts" not in c["body"] and name in c["body"].get("text", "")]
    return roots[0] if roots else None


def notifications(hd, name):
    """How many notifications of `name`'s group reached the bot's webhook (one alert_received event each)."""
    events = [json.loads(line) for line in hd.run("audit", "export").stdout.splitlines()]
    return sum(1 for e in events if e.get("kind") == "alert_received" and f'alertname="{name}"' in (e.get("target") or ""))


def audit_events(hd):
    return [json.loads(line) for line in hd.run("audit", "export").stdout.splitlines() if line.startswith("{\"")]


def test_the_silence_button_stops_notifications_at_the_real_alertmanager(helpdesk, tmp_path):
    hd, api, recorder, manager, slack = silence_bot(helpdesk, tmp_path)
    try:
        manager.post_alerts([firing("SilenceMe", instance="h1:9100")])
        root = wait(lambda: root_of(api, "SilenceMe"))
        assert root, [c["body"].get("text") for c in api.calls]
        parsed_blocks(root["body"])
        actions = next(block for block in root["body"]["blocks"] if block["type"] == "actions")
        button = actions["elements"][0]
        assert button["action_id"] == "silence" and button["text"]["text"] == "Silence 1h"
        value = json.loads(button["value"])
        assert value["duration"] == "1h" and len(button["value"]) <= 2000
        # The button names one alert instance: its fingerprint, the receiver that got it and the episode.
        stored = [json.loads(line) for line in hd.run("alerts", "list", "--json").stdout.splitlines()]
        assert (value["fingerprint"], value["receiver"], value["starts_at"]) in {
            (a["fingerprint"], a["receiver"], a["startsAt"]) for a in stored if a["labels"]["alertname"] == "SilenceMe"}
        assert value["receiver"] == "helpdesk"

        # Unsilenced, the group keeps coming back every repeat_interval.
        assert wait(lambda: notifications(hd, "SilenceMe") >= 2, timeout=30), "Alertmanager re-sends a firing group"

        # Bob may not silence: refused by policy, nothing reaches Alertmanager.
        _, url = click(slack, "silence", button["value"], "U0BOB", message=root["body"])
        refused = recorder.wait_for(url)
        assert refused["response_type"] == "ephemeral" and "Not allowed" in refused["text"]
        assert get_json(f"http://127.0.0.1:{manager.port}/api/v2/silences") == []

        # Alice may: the silence is created and told in the alert's thread.
        _, url = click(slack, "silence", button["value"], "U0ALICE", message=root["body"])
        answer = recorder.wait_for(url)
        parsed_blocks(answer)
        assert answer["response_type"] == "ephemeral" and answer["text"] == "Silenced SilenceMe for 1h"
        silences = get_json(f"http://127.0.0.1:{manager.port}/api/v2/silences")
        assert len(silences) == 1
        silence = silences[0]
        assert silence["status"]["state"] == "active" and silence["createdBy"] == "alice"
        assert {(m["name"], m["value"], m["isRegex"], m.get("isEqual", True)) for m in silence["matchers"]} == {
            ("alertname", "SilenceMe", False, True), ("severity", "warning", False, True), ("instance", "h1:9100", False, True)}
        ends = datetime.datetime.fromisoformat(silence["endsAt"].replace("Z", "+00:00"))
        assert 3500 < (ends - datetime.datetime.now(datetime.timezone.utc)).total_seconds() <= 3600

        root_ts = root["reply"]["ts"]
        reply = wait(lambda: [c for c in api.calls if c["method"] == "chat.postMessage" and c["body"].get("thread_ts") == root_ts
                              and "silenced" in c["body"].get("text", "")])
        assert reply, "the silence is told in the alert's thread"
        text = reply[0]["body"]["text"]
        assert text.startswith(":mute: alice silenced *SilenceMe* for 1h") and silence["id"] in text
        assert reply[0]["body"]["channel"] == root["body"]["channel"]

        # Alertmanager holds the alert as suppressed by that silence ...
        alerts = get_json(f"http://127.0.0.1:{manager.port}/api/v2/alerts")
        mine = next(a for a in alerts if a["labels"]["alertname"] == "SilenceMe")
        assert mine["status"]["state"] == "suppressed" and mine["status"]["silencedBy"] == [silence["id"]]

        # ... and stops notifying: re-posted, it does not reach the bot across several repeat intervals,
        # while another group, unsilenced, keeps arriving over the same pipeline.
        time.sleep(2)  # a notification already in flight when the silence was made
        before = notifications(hd, "SilenceMe")
        manager.post_alerts([firing("SilenceMe", instance="h1:9100"), firing("StillLoud", instance="h2:9100")])
        assert wait(lambda: notifications(hd, "StillLoud") >= 2, timeout=30)
        time.sleep(8)
        assert notifications(hd, "SilenceMe") == before, "the silenced alert still reached the bot"

        # The audit log holds the decisions and the call, as who asked.
        events = audit_events(hd)
        calls = [e for e in events if e["kind"] == "tool_call" and json.loads(e["data"])["call"]["tool"] == "create_silence"]
        assert len(calls) == 1 and calls[0]["principal"] == "alice" and calls[0]["target"] == "helpdesk"
        data = json.loads(calls[0]["data"])
        assert data["outcome"] == "ok" and data["call"]["action"] == "write"
        assert json.loads(data["call"]["arguments"]["matchers"]) == {"alertname": "SilenceMe", "severity": "warning", "instance": "h1:9100"}
        decisions = [(e["principal"], json.loads(e["data"])["decision"]["effect"]) for e in events
                     if e["kind"] == "policy_decision" and e["target"] == "helpdesk"]
        assert decisions == [("bob", "deny"), ("alice", "allow")]
        assert hd.run("audit", "verify").returncode == 0
    finally:
        manager.stop()
        api.stop()
        recorder.stop()


def test_the_slash_command_silences_by_fingerprint_at_receiver(helpdesk, tmp_path):
    hd, api, recorder, manager, slack = silence_bot(helpdesk, tmp_path)
    try:
        manager.post_alerts([firing("DiskFull", instance="db1:9100")])
        root = wait(lambda: root_of(api, "DiskFull"))
        assert root
        stored = wait(lambda: [json.loads(line) for line in hd.run("alerts", "list", "--json").stdout.splitlines()])
        fingerprint = stored[0]["fingerprint"]

        assert f"{fingerprint}@helpdesk" in hd.run("alerts", "list").stdout, "the table shows what the command takes"
        _, _, _, url = slack.command(f"silence {fingerprint}@helpdesk 2h", user_id="U0ALICE")
        answer = recorder.wait_for(url)
        parsed_blocks(answer)
        assert answer["response_type"] == "in_channel" and answer["text"] == "Silenced DiskFull for 2h"
        silences = get_json(f"http://127.0.0.1:{manager.port}/api/v2/silences")
        assert len(silences) == 1 and silences[0]["createdBy"] == "alice"
        assert {m["name"]: m["value"] for m in silences[0]["matchers"]} == {"alertname": "DiskFull", "severity": "warning", "instance": "db1:9100"}
        ends = datetime.datetime.fromisoformat(silences[0]["endsAt"].replace("Z", "+00:00"))
        assert 7100 < (ends - datetime.datetime.now(datetime.timezone.utc)).total_seconds() <= 7200
        reply = wait(lambda: [c for c in api.calls if c["method"] == "chat.postMessage" and c["body"].get("thread_ts") == root["reply"]["ts"]
                              and "silenced" in c["body"].get("text", "")])
        assert reply and silences[0]["id"] in reply[0]["body"]["text"]

        _, _, _, url = slack.command("silence 0123456789abcdef 1h", user_id="U0ALICE")
        unknown = recorder.wait_for(url)
        assert "No alert 0123456789abcdef" in unknown["text"]
        _, _, _, url = slack.command(f"silence {fingerprint}@elsewhere 1h", user_id="U0ALICE")
        elsewhere = recorder.wait_for(url)
        assert f"No alert {fingerprint}@elsewhere" in elsewhere["text"]
        assert len(get_json(f"http://127.0.0.1:{manager.port}/api/v2/silences")) == 1
    finally:
        manager.stop()
        api.stop()
        recorder.stop()


def test_without_a_receiver_url_there_is_no_button_and_the_command_is_refused(helpdesk, tmp_path):
    hd, api, recorder, manager, slack = silence_bot(helpdesk, tmp_path, with_url=False)
    try:
        manager.post_alerts([firing("NoURL", instance="h3:9100")])
        root = wait(lambda: root_of(api, "NoURL"))
        assert root and not any(block["type"] == "actions" for block in root["body"]["blocks"])
        stored = wait(lambda: [json.loads(line) for line in hd.run("alerts", "list", "--json").stdout.splitlines()])
        _, _, _, url = slack.command(f"silence {stored[0]['fingerprint']} 1h", user_id="U0ALICE")
        refused = recorder.wait_for(url)
        assert "set alertmanager.receivers.helpdesk.url" in refused["text"]
        assert get_json(f"http://127.0.0.1:{manager.port}/api/v2/silences") == []
        events = audit_events(hd)
        assert any(e["kind"] == "tool_call" and e["target"] == "helpdesk" and json.loads(e["data"])["outcome"] == "denied" for e in events)
    finally:
        manager.stop()
        api.stop()
        recorder.stop()


def test_a_fingerprint_two_receivers_got_is_refused_and_fingerprint_at_receiver_silences_at_that_one(helpdesk, tmp_path):
    """Two real Alertmanagers, each the Alertmanager of its own receiver, send the bot the same alert
    (same labels, so the same fingerprint): a fingerprint alone cannot say where to silence."""
    api, recorder = WebAPI(), Recorder()
    port, other_port = free_port(), free_port()
    (tmp_path / "am-token").write_text(TOKEN)
    (tmp_path / "other-token").write_text(OTHER_TOKEN)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(POLICY)
    hd = helpdesk(f"""
store: {{path: state/hd.sqlite}}
slack: {{api_base_url: {api.base_url}, default_channel: C0ALERTS, templates_dir: {REPO}/templates/slack}}
diagnosis: {{runbooks_dir: {REPO}/runbooks}}
policies: {{dir: {tmp_path / 'policies'}}}
users:
  alice: {{roles: [sre], slack_user_id: U0ALICE}}
alertmanager:
  receivers:
    helpdesk: {{bearer_token_file: {tmp_path / 'am-token'}, url: 'http://127.0.0.1:{port}'}}
    other: {{bearer_token_file: {tmp_path / 'other-token'}, url: 'http://127.0.0.1:{other_port}'}}
jobs: {{poll_interval: 50ms}}
""")
    hd.start(env={"SLACK_BOT_TOKEN": "xoxb-test-0123456789-abc", "SLACK_SIGNING_SECRET": SIGNING_SECRET})
    manager = Alertmanager(port, hd.url("/webhooks/alertmanager"), TOKEN, config=ALERTMANAGER).start()
    other = Alertmanager(other_port, hd.url("/webhooks/alertmanager"), OTHER_TOKEN,
                         config=ALERTMANAGER.replace("receiver: helpdesk", "receiver: other").replace("name: helpdesk", "name: other")).start()
    slack = SlackClient(hd.url(""), recorder)
    try:
        # Each Alertmanager gets the alert at its own time: two episodes, one per receiver.
        manager.post_alerts([firing("Twice", instance="h5:9100")])
        time.sleep(0.05)
        other.post_alerts([firing("Twice", instance="h5:9100")])

        def twice():
            stored = [json.loads(line) for line in hd.run("alerts", "list", "--json").stdout.splitlines()]
            mine = [a for a in stored if a["labels"]["alertname"] == "Twice" and a["status"] == "firing"]
            return mine if {a["receiver"] for a in mine} == {"helpdesk", "other"} else None
        stored = wait(twice, timeout=30)
        assert stored, "both receivers' notifications were stored"
        fingerprints = {a["fingerprint"] for a in stored}
        assert len(fingerprints) == 1, "the same labels are the same fingerprint at both Alertmanagers"
        fingerprint = fingerprints.pop()

        _, _, _, url = slack.command(f"silence {fingerprint} 1h", user_id="U0ALICE")
        refused = recorder.wait_for(url)
        parsed_blocks(refused)
        assert "reached 2 receivers" in refused["text"]
        assert f"`{fingerprint}@helpdesk`" in refused["text"] and f"`{fingerprint}@other`" in refused["text"]
        assert get_json(f"http://127.0.0.1:{port}/api/v2/silences") == []
        assert get_json(f"http://127.0.0.1:{other_port}/api/v2/silences") == []

        _, _, _, url = slack.command(f"silence {fingerprint}@other 1h", user_id="U0ALICE")
        answer = recorder.wait_for(url)
        parsed_blocks(answer)
        assert answer["text"] == "Silenced Twice for 1h"
        assert get_json(f"http://127.0.0.1:{port}/api/v2/silences") == [], "not at the other receiver's Alertmanager"
        silences = get_json(f"http://127.0.0.1:{other_port}/api/v2/silences")
        assert len(silences) == 1 and silences[0]["createdBy"] == "alice"
        assert {m["name"]: m["value"] for m in silences[0]["matchers"]} == {"alertname": "Twice", "severity": "warning", "instance": "h5:9100"}
        events = audit_events(hd)
        calls = [e for e in events if e["kind"] == "tool_call" and json.loads(e["data"])["call"]["tool"] == "create_silence"]
        assert [(c["principal"], c["target"]) for c in calls] == [("alice", "other")]
    finally:
        other.stop()
        manager.stop()
        api.stop()
        recorder.stop()
