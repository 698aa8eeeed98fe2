"""Slash commands as Slack sends them, through a running `helpdesk serve`, with every answer
parsed by slack-sdk's Block Kit models."""
import json
import os
import time

import pytest

from conftest import http
from slack_peer import SIGNING_SECRET, Recorder, SlackClient, WebAPI, parsed_blocks
from test_diagnose_postgres import config as postgres_config, lock_pileup, wait_for  # noqa: F401 (fixture)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

POLICY = """version: "1"
policies:
  - name: production
    resources: [{type: database, match: {tags: [production]}}]
    rules:
      - {action: read, effect: allow}
      - action: destructive
        effect: require_approval
        conditions: {approval_quorum: 2, approvers: [role:dba]}
"""


@pytest.fixture
def slack_bot(helpdesk, postgres, tmp_path):
    recorder = Recorder()
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(POLICY)
    text, env = postgres_config(postgres, tmp_path)
    text += f"""
policies: {{dir: {tmp_path / 'policies'}}}
users:
  alice: {{roles: [sre], slack_user_id: U0ALICE}}
  carol: {{roles: [dba], slack_user_id: U0CAROL}}
  dave: {{roles: [dba], slack_user_id: U0DAVE}}
jobs: {{poll_interval: 50ms}}
"""
    hd = helpdesk(text)
    hd.start(env={**env, "SLACK_SIGNING_SECRET": SIGNING_SECRET})
    yield hd, SlackClient(hd.url(""), recorder), recorder
    recorder.stop()


def test_help_is_answered_inline_as_valid_block_kit(slack_bot):
    _, slack, _ = slack_bot
    status, message, elapsed, _ = slack.command("help")
    assert status == 200
    assert message["response_type"] == "ephemeral"
    blocks = parsed_blocks(message)
    assert blocks[0].type == "header"
    assert "`/helpdesk diagnose TARGET [symptom…]`" in message["blocks"][1]["text"]["text"]


def test_diagnose_is_acknowledged_at_once_and_answered_on_response_url(slack_bot):
    _, slack, recorder = slack_bot
    status, ack, elapsed, response_url = slack.command("diagnose prod-db is it healthy")
    assert status == 200 and ack["response_type"] == "ephemeral" and ack["text"].startswith("Working on it")
    assert elapsed < 3, f"Slack gives up after 3 s; the ack took {elapsed:.2f} s"
    answer = recorder.wait_for(response_url)
    parsed_blocks(answer)
    assert answer["response_type"] == "in_channel"
    assert answer["replace_original"] is False and answer["delete_original"] is False
    assert answer["text"].startswith("prod-db:")


def test_bad_signatures_stale_requests_and_unknown_commands(slack_bot):
    hd, slack, recorder = slack_bot
    status, body, _, _ = slack.command("help", secret="not-the-signing-secret")
    assert status == 401 and body["error"]["message"] == "request signature is not valid"
    status, _, _, _ = slack.command("help", timestamp=1_500_000_000)
    assert status == 401
    status, ack, _, response_url = slack.command("make me a sandwich")
    assert status == 200
    answer = recorder.wait_for(response_url)
    parsed_blocks(answer)
    assert answer["text"] == 'I did not understand "make me a sandwich".'
    metrics = http("GET", hd.url("/metrics"))[2].decode()
    assert 'helpdesk_slack_requests_total{endpoint="commands",outcome="rejected_mismatch"} 1' in metrics
    assert 'helpdesk_slack_requests_total{endpoint="commands",outcome="rejected_stale"} 1' in metrics


def test_a_redelivered_command_runs_once(slack_bot):
    _, slack, recorder = slack_bot
    _, first, _, url_one = slack.command("status", trigger_id="trigger.same")
    _, second, _, url_two = slack.command("status", trigger_id="trigger.same")
    assert first["text"].startswith("Working on it") and second["text"] == "Already working on that."
    recorder.wait_for(url_one)
    assert not [post for post in recorder.posts if post["path"] == url_two[len(recorder.url):]]


def test_destructive_command_needs_two_dba_approvals_given_in_slack(slack_bot, postgres, lock_pileup):
    _, slack, recorder = slack_bot
    holder_pid, _, waiters = lock_pileup
    _, _, _, url = slack.command(f"db terminate_backend prod-db pid={holder_pid}", user_id="U0ALICE")
    request = recorder.wait_for(url)
    parsed_blocks(request)
    actions = next(block for block in request["blocks"] if block["type"] == "actions")
    approve, deny = actions["elements"]
    assert approve["style"] == "primary" and deny["style"] == "danger" and "confirm" in approve
    approval_id = approve["value"]
    assert approval_id.startswith("apr_")

    _, _, _, url = slack.command(f"approve {approval_id}", user_id="U0ALICE")
    assert "cannot decide it" in recorder.wait_for(url)["text"]
    _, _, _, url = slack.command(f"approve {approval_id} confirmed", user_id="U0CAROL")
    assert recorder.wait_for(url)["text"] == f"{approval_id}: approval recorded"
    assert postgres.value(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {holder_pid}") == "1"
    _, _, _, url = slack.command(f"approve {approval_id}", user_id="U0UNKNOWN")
    assert "only known users" in recorder.wait_for(url)["text"]
    _, _, _, url = slack.command(f"approve {approval_id}", user_id="U0DAVE")
    decided = recorder.wait_for(url)
    parsed_blocks(decided)
    assert decided["text"] == f"{approval_id}: approved; running now"
    assert wait_for(lambda: postgres.value(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {holder_pid}") == "0", timeout=20)
    for waiter in waiters:
        assert waiter.read_line() == "done"

    _, _, _, url = slack.command("approvals", user_id="U0CAROL")
    assert recorder.wait_for(url)["text"] == "No approval requests are pending"


def test_expired_response_url_falls_back_to_the_web_api(helpdesk, postgres, tmp_path):
    recorder = Recorder()
    api = WebAPI()
    try:
        text, env = postgres_config(postgres, tmp_path)
        hd = helpdesk(text + f"""
slack:
  templates_dir: {REPO}/templates/slack
  api_base_url: {api.base_url}
jobs: {{poll_interval: 50ms}}
""")
        hd.start(env={**env, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": "xoxb-test-0123456789-x"})
        slack = SlackClient(hd.url(""), recorder)
        recorder.gone = True
        _, _, _, url = slack.command("incidents", user_id="U0ALICE")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not api.calls:
            time.sleep(0.1)
        assert api.calls, "nothing reached the Web API"
        call = api.calls[0]
        assert call["method"] == "chat.postEphemeral"
        assert call["body"]["channel"] == "C1" and call["body"]["user"] == "U0ALICE"
        assert call["body"]["text"] in ("No incidents yet", "Recent incidents")
    finally:
        recorder.stop()
        api.stop()


def test_ack_stays_fast_while_the_diagnosis_behind_it_takes_seconds(helpdesk, tmp_path):
    """A database that accepts connections and never answers makes the diagnosis wait for its
    connect timeout; the slash command's HTTP answer must not."""
    import socket
    import threading
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    accepted = []
    threading.Thread(target=lambda: [accepted.append(silent.accept()) for _ in range(8)], daemon=True).start()
    recorder = Recorder()
    try:
        hd = helpdesk(f"""
store: {{path: state/hd.sqlite}}
slack: {{templates_dir: {REPO}/templates/slack}}
diagnosis: {{runbooks_dir: {REPO}/runbooks, tool_timeout: 6s}}
infrastructure:
  db_servers:
    slow-db: {{connection_string: "host=127.0.0.1 port={silent.getsockname()[1]} user=x sslmode=disable connect_timeout=5"}}
jobs: {{poll_interval: 50ms}}
""")
        hd.start(env={"SLACK_SIGNING_SECRET": SIGNING_SECRET})
        slack = SlackClient(hd.url(""), recorder)
        started = time.monotonic()
        status, ack, elapsed, url = slack.command("diagnose slow-db")
        assert status == 200 and ack["text"].startswith("Working on it")
        assert elapsed < 1.0, f"ack took {elapsed:.2f} s"
        answer = recorder.wait_for(url, timeout=30)
        took = time.monotonic() - started
        assert took > 4, f"the diagnosis really was slow ({took:.1f} s)"
        assert answer["text"].startswith("slow-db:")
    finally:
        recorder.stop()
        silent.close()


PURPOSE_POLICY = """version: "1.0"
policies:
  - name: reads-for-a-reason
    resources: [{type: database}]
    rules:
      - action: read
        effect: allow
        conditions: {allowed_purposes: [diagnostic, remediation]}
        message: "Say why: add purpose=diagnostic."
"""


def test_a_command_declares_its_purpose_for_purpose_gated_policies(helpdesk, postgres, tmp_path):
    """aiHelpDesk's example policies allow reads only for a declared purpose: `purpose=WHY` declares it
    from Slack as X-Purpose does from the API; it is not passed to the tool."""
    recorder = Recorder()
    try:
        (tmp_path / "policies").mkdir()
        (tmp_path / "policies" / "p.yaml").write_text(PURPOSE_POLICY)
        text, env = postgres_config(postgres, tmp_path)
        hd = helpdesk(text + f"""
policies: {{dir: {tmp_path / 'policies'}}}
users:
  alice: {{roles: [sre], slack_user_id: U0ALICE}}
jobs: {{poll_interval: 50ms}}
""")
        hd.start(env={**env, "SLACK_SIGNING_SECRET": SIGNING_SECRET})
        slack = SlackClient(hd.url(""), recorder)
        _, _, _, url = slack.command("db blocking_locks prod-db", user_id="U0ALICE")
        refused = recorder.wait_for(url)
        assert "Say why: add purpose=diagnostic." in json.dumps(refused), refused
        _, _, _, url = slack.command("db blocking_locks prod-db purpose=diagnostic", user_id="U0ALICE")
        ran = recorder.wait_for(url)
        assert ran["response_type"] == "in_channel" and "blocking_locks" in ran["text"], ran
        _, _, _, url = slack.command("db blocking_locks prod-db purpose=Not!A-Word", user_id="U0ALICE")
        assert "purpose= takes one word" in json.dumps(recorder.wait_for(url))
        events = [json.loads(line) for line in hd.run("audit", "export").stdout.splitlines() if line.startswith("{\"")]
        data = [json.loads(e["data"]) if isinstance(e.get("data"), str) else e.get("data") or {} for e in events]
        purposes = [d.get("purpose") for e, d in zip(events, data) if e.get("kind") == "policy_decision"]
        assert purposes == [None, "diagnostic"], purposes
    finally:
        recorder.stop()
