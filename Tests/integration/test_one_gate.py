"""The one gate against real peers: a diagnosis asked by someone policy denies never opens a
connection to the database; a model's calls are decided as the person it investigates for, with
its own arguments; a vote cast from the command line notifies Slack like any other."""
import json
import os
import subprocess
import time

import pytest

from conftest import REPO, http
from fake_llm import FakeLLM
from slack_peer import SIGNING_SECRET, Recorder, SlackClient, WebAPI
from test_diagnose_postgres import config as postgres_config, wait_for

POLICY = """version: "1"
policies:
  - name: sre-reads
    principals: [{role: sre}]
    rules:
      - {action: read, effect: allow}
      - action: destructive
        effect: require_approval
        conditions: {approval_quorum: 1}
"""


def helpdesk_connections(postgres) -> int:
    return int(postgres.value("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'helpdesk%'"))


def answer_to(recorder, response_url, timeout=30):
    """The message posted to a command's response_url, waiting for it."""
    found = []
    wait_for(lambda: found.extend(p["body"] for p in recorder.posts if response_url.endswith(p["path"])) or found, timeout=timeout)
    assert found, "the answer never arrived"
    return found[0]


def events(hd, kind):
    result = hd.run("audit", "export")
    assert result.returncode == 0, result.stderr
    return [e for e in map(json.loads, result.stdout.splitlines()) if e.get("kind") == kind]


@pytest.fixture
def gated_bot(helpdesk, postgres, tmp_path):
    recorder = Recorder()
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(POLICY)
    text, env = postgres_config(postgres, tmp_path)
    text += f"""
policies: {{dir: {tmp_path / 'policies'}}}
slack:
  templates_dir: {REPO}/templates/slack
users:
  alice: {{roles: [sre], slack_user_id: U0ALICE}}
jobs: {{poll_interval: 50ms}}
"""
    hd = helpdesk(text)
    hd.start(env={**env, "SLACK_SIGNING_SECRET": SIGNING_SECRET})
    yield hd, SlackClient(hd.url(""), recorder), recorder, env
    recorder.stop()


def test_a_slack_user_policy_denies_reads_gets_no_data_and_the_database_sees_no_connection(gated_bot, postgres):
    hd, slack, recorder, _ = gated_bot
    before = helpdesk_connections(postgres)
    status, _, _, response_url = slack.command("diagnose prod-db queries are stuck", user_id="U0STRANGER")
    assert status == 200
    text = json.dumps(answer_to(recorder, response_url))
    assert "denied" in text or "no policy allows" in text, text
    assert helpdesk_connections(postgres) == before, "a denied diagnosis must not connect to the target"
    denied = [e for e in events(hd, "tool_call") if e["principal"] == "anonymous:slack:U0STRANGER"]
    assert denied and all('"outcome":"denied"' in e["data"] for e in denied)

    # The same question from a member whose role policy allows reads runs the tools.
    status, _, _, response_url = slack.command("diagnose prod-db queries are stuck", user_id="U0ALICE")
    assert "no policy allows" not in json.dumps(answer_to(recorder, response_url))
    assert any(e["principal"] == "alice" and '"outcome":"ok"' in e["data"] for e in events(hd, "tool_call"))


def test_a_models_calls_are_decided_with_its_own_arguments_and_audited(helpdesk, postgres, tmp_path):
    llm = FakeLLM(script=[
        {"tool": "long_running_queries", "input": {}},      # denied: only alice's role may read
        {"tool": "terminate_backend", "input": {"pid": 1}},  # denied outright for this principal
        {"text": "nothing more to see"},
    ])
    try:
        (tmp_path / "policies").mkdir()
        (tmp_path / "policies" / "p.yaml").write_text(POLICY)
        text, env = postgres_config(postgres, tmp_path)
        hd = helpdesk(text + f"""
policies: {{dir: {tmp_path / 'policies'}}}
users:
  alice: {{roles: [sre]}}
  bob: {{roles: [developer]}}
llm: {{provider: openai, model: fake-model, base_url: "http://127.0.0.1:{llm.port}/v1"}}
""")
        result = hd.run("diagnose", "prod-db", "--as", "bob", "--json", env={**env, "OPENAI_API_KEY": "sk-fake-openai-0123456789abcdef"})
        diagnosis = json.loads(result.stdout)
        refused = [t for t in diagnosis["tools"] if t.get("error")]
        assert refused and all("no policy allows" in t["error"] for t in refused), diagnosis["tools"]
        assert diagnosis["recommended_actions"] == [] or all(a["call"]["tool"] != "terminate_backend" for a in diagnosis["recommended_actions"])
        # The model was offered nothing bob may not call, and told why its calls were refused.
        offered = {tool["function"]["name"] for tool in llm.requests[0]["body"].get("tools", [])}
        assert "terminate_backend" not in offered and "long_running_queries" not in offered
        audited = events(hd, "tool_call") + events(hd, "policy_decision")
        assert any(e["principal"] == "bob" and "long_running_queries" in e["data"] for e in audited)
        assert any(e["principal"] == "bob" and "terminate_backend" in e["data"] for e in audited)
    finally:
        llm.stop()


def test_a_vote_from_the_command_line_that_completes_the_quorum_posts_to_slack(helpdesk, postgres, tmp_path):
    api = WebAPI()
    try:
        (tmp_path / "policies").mkdir()
        (tmp_path / "policies" / "p.yaml").write_text(POLICY)
        (tmp_path / "token").write_text("api-token-0123456789")
        text, env = postgres_config(postgres, tmp_path)
        hd = helpdesk(text + f"""
policies: {{dir: {tmp_path / 'policies'}}}
slack: {{api_base_url: {api.base_url}, default_channel: C0APPROVALS, templates_dir: {REPO}/templates/slack}}
users:
  alice: {{roles: [sre]}}
  carol: {{roles: [sre]}}
api:
  tokens:
    alice: {{token_file: {tmp_path / 'token'}}}
jobs: {{poll_interval: 50ms}}
""")
        bot_env = {**env, "SLACK_BOT_TOKEN": "xoxb-test-0123456789-abc"}
        hd.start(env=bot_env)
        session = postgres.session()
        session.send("SELECT pg_backend_pid();")
        pid = int(session.read_line())
        status, _, body = http("POST", hd.url("/api/v1/db/terminate_backend"), body=json.dumps({"target": "prod-db", "arguments": {"pid": pid}}).encode(),
                               headers={"Authorization": "Bearer api-token-0123456789", "Content-Type": "application/json"})
        assert status == 202, body
        approval = json.loads(body)["approval"]["id"]
        assert wait_for(lambda: any(c["method"] == "chat.postMessage" and approval in json.dumps(c["body"]) for c in api.calls))
        result = hd.run("approvals", "approve", approval, "--as", "carol", env=bot_env)
        assert result.returncode == 0, result.stderr
        # The server's outbox delivers what the command's vote queued: the decision in the thread.
        assert wait_for(lambda: any(c["method"] in ("chat.postMessage", "chat.update") and "approved by carol" in json.dumps(c["body"])
                                    for c in api.calls), timeout=20), [c["method"] for c in api.calls]
        assert wait_for(lambda: postgres.value(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}") == "0", timeout=20)
        session.close()
    finally:
        api.stop()


def test_scale_by_more_pods_than_policy_allows_is_refused_and_never_reaches_the_cluster(helpdesk, tmp_path):
    import shutil
    from kube_stub import KubeStub, deployment
    if not shutil.which("kubectl"):
        pytest.fail("kubectl is not installed", pytrace=False)
    stub = KubeStub().start()
    try:
        stub.objects["deployments"]["orders"] = [deployment("orders-worker", desired=3, available=3)]
        kubeconfig = stub.kubeconfig(tmp_path / "kubeconfig")
        (tmp_path / "policies").mkdir()
        (tmp_path / "policies" / "p.yaml").write_text("""version: "1"
policies:
  - name: pii-clusters
    priority: 200
    resources: [{type: kubernetes, match: {sensitivity: [pii], tool: pod_logs}}]
    rules: [{action: read, effect: deny, message: no logs from clusters holding PII}]
  - name: scaling
    rules:
      - {action: read, effect: allow}
      - {action: write, effect: allow, conditions: {max_pods_affected: 3}}
""")
        (tmp_path / "token").write_text("api-token-0123456789")
        hd = helpdesk(f"""
store: {{path: state/hd.sqlite}}
policies: {{dir: {tmp_path / 'policies'}}}
infrastructure:
  k8s_clusters:
    prod-cluster: {{context: stub, kubeconfig: {kubeconfig}, sensitivity: [pii]}}
api:
  tokens:
    ops: {{token_file: {tmp_path / 'token'}}}
""")
        hd.start(env={"HOME": str(tmp_path)})
        auth = {"Authorization": "Bearer api-token-0123456789", "Content-Type": "application/json"}

        def scale(replicas):
            return http("POST", hd.url("/api/v1/k8s/scale"), headers=auth, body=json.dumps(
                {"target": "prod-cluster", "arguments": {"namespace": "orders", "name": "orders-worker", "replicas": replicas}}).encode())

        status, _, body = scale(1000)
        assert status == 403, body
        assert b"997 pods, over the limit of 3" in body
        assert not [r for r in stub.requests if r[0] == "PATCH"], "a refused scale never reaches the cluster"
        status, _, body = scale(5)
        assert status == 200, body
        assert [r for r in stub.requests if r[0] == "PATCH"]
        # The inventory's sensitivity is what a sensitivity rule matches.
        status, _, body = http("POST", hd.url("/api/v1/k8s/pod_logs"), headers=auth, body=json.dumps(
            {"target": "prod-cluster", "arguments": {"namespace": "orders", "name": "orders-worker-1"}}).encode())
        assert status == 403 and b"PII" in body, body
    finally:
        stub.stop()
