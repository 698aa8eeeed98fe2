"""The incident zoo (Tests/zoo): its plants are real (valid API objects, served to the real kubectl),
its scorer scores what the expectations say (runbook mode) and the glue around the model (model mode,
replaying each class's model.yaml), and no (class, trigger, mode) that passed in the baseline fails now."""
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from conftest import REPO, helpdesk_binary, http
from kube_stub import KubeStub

ZOO = REPO / "Tests" / "zoo"
sys.path.insert(0, str(ZOO))
import zoo  # noqa: E402

CLASSES = zoo.load_classes()
KUBERNETES = [c for c in CLASSES if c.kubernetes]


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d] if path.exists() else []


def test_every_planted_object_is_valid_for_kubernetes_1_30_strict():
    pytest.importorskip("kubernetes_validate", reason="kubernetes-validate comes with Tests/integration/requirements-chart.txt")
    problems = [problem for zoo_class in KUBERNETES for problem in zoo.object_problems(zoo_class)]
    assert not problems, "\n".join(problems)
    # PodMetrics (metrics.yaml) have no schema there: the fields metrics-server sends, every one.
    for zoo_class in KUBERNETES:
        for metric in documents(zoo_class.folder / "metrics.yaml"):
            assert metric["apiVersion"] == "metrics.k8s.io/v1beta1" and metric["kind"] == "PodMetrics", zoo_class.name
            assert {"name", "namespace"} <= set(metric["metadata"]) and metric["timestamp"] and metric["window"], zoo_class.name
            assert all({"cpu", "memory"} <= set(c["usage"]) for c in metric["containers"]), zoo_class.name


def test_every_class_has_its_plant_and_binds_what_its_expectations_name():
    problems = [problem for zoo_class in CLASSES for problem in zoo.plant_problems(zoo_class)]
    assert not problems, "\n".join(problems)


def test_every_class_has_a_model_answer_that_proposes_its_fix_and_nothing_it_must_not():
    problems = [problem for zoo_class in CLASSES for problem in zoo.model_problems(zoo_class)]
    assert not problems, "\n".join(problems)


def test_owner_chains_and_revisions_hold_together():
    """What a cluster guarantees and the runbooks rely on: controller owners exist with that uid, every
    ReplicaSet of a Deployment carries a revision, and the Deployment's revision is its newest."""
    for zoo_class in KUBERNETES:
        objects = documents(zoo_class.folder / "objects.yaml")
        uids = {(d["kind"], d["metadata"]["name"]): d["metadata"].get("uid") for d in objects}
        for d in objects:
            for owner in d["metadata"].get("ownerReferences") or []:
                assert uids.get((owner["kind"], owner["name"])) in (owner["uid"], None) and owner["controller"], (zoo_class.name, d["metadata"]["name"])
        for deployment in (d for d in objects if d["kind"] == "Deployment"):
            name = deployment["metadata"]["name"]
            revisions = [int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) for rs in objects
                         if rs["kind"] == "ReplicaSet" and rs["metadata"]["ownerReferences"][0]["name"] == name]
            if revisions:
                assert int(deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) == max(revisions), (zoo_class.name, name)
        pods = {d["metadata"]["name"] for d in objects if d["kind"] == "Pod"}
        plant = yaml.safe_load((zoo_class.folder / "plant.yaml").read_text())
        assert set(plant.get("logs") or {}) <= pods, zoo_class.name
        if "pod" in (plant.get("bindings") or {}):
            assert plant["bindings"]["pod"] in pods, zoo_class.name


# ------------------------------------------------------------------------------ the stub and kubectl


@pytest.fixture
def kubectl(tmp_path):
    if not shutil.which("kubectl"):
        pytest.fail("kubectl is not installed", pytrace=False)
    stubs = []

    def serve(zoo_class_name):
        stub = KubeStub.load(ZOO / zoo_class_name).start()
        stubs.append(stub)
        config = stub.kubeconfig(tmp_path / f"kubeconfig-{len(stubs)}")

        def run(*args):
            return subprocess.run(["kubectl", "--kubeconfig", str(config), "--context", "stub", *args], capture_output=True, text=True,
                                  timeout=30, env={**os.environ, "HOME": str(tmp_path)})
        return stub, run

    yield serve
    for stub in stubs:
        stub.stop()


RESOURCES = {"Pod": "pods", "Event": "events", "Namespace": "namespaces", "Node": "nodes", "PersistentVolumeClaim": "persistentvolumeclaims",
             "ConfigMap": "configmaps", "Deployment": "deployments", "ReplicaSet": "replicasets", "StatefulSet": "statefulsets", "Job": "jobs"}


@pytest.mark.parametrize("name", [c.name for c in KUBERNETES])
def test_kubectl_gets_every_planted_object(kubectl, name):
    _, run = kubectl(name)
    objects = documents(ZOO / name / "objects.yaml")
    for kind in sorted({d["kind"] for d in objects}):
        result = run("get", RESOURCES[kind], "--all-namespaces", "-o", "json")
        assert result.returncode == 0, result.stderr
        got = sorted(item["metadata"]["name"] for item in json.loads(result.stdout)["items"])
        assert got == sorted(d["metadata"]["name"] for d in objects if d["kind"] == kind), kind
    metrics = documents(ZOO / name / "metrics.yaml")
    namespace = objects[0]["metadata"]["name"] if objects[0]["kind"] == "Namespace" else "orders"
    raw = run("get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods")
    if metrics:
        assert raw.returncode == 0 and len(json.loads(raw.stdout)["items"]) == len(metrics), raw.stderr
    else:
        assert raw.returncode != 0 and "the server could not find the requested resource" in raw.stderr


def test_rollout_undo_finds_the_revision_and_patches_the_deployment_back(kubectl):
    stub, run = kubectl("k8s-crashloop-after-new-revision")
    result = run("rollout", "undo", "deployment/orders-api", "--namespace", "orders", "--to-revision=4")
    assert result.returncode == 0 and "rolled back" in result.stdout, result.stderr
    (path, patch), = stub.patches()
    assert path.startswith("/apis/apps/v1/namespaces/orders/deployments/orders-api")
    template = next(op["value"] for op in patch if op["path"] == "/spec/template")
    assert template["spec"]["containers"][0]["image"] == "registry.example.com/orders/orders-api:1.4.2"
    # kubectl found the ReplicaSets through the Deployment's selector and kept those it controls.
    assert any("/replicasets?" in request[1] and "labelSelector=app%3Dorders-api" in request[1] for request in stub.requests)
    missing = run("rollout", "undo", "deployment/orders-api", "--namespace", "orders", "--to-revision=9")
    assert missing.returncode != 0 and "unable to find specified revision 9" in missing.stderr


def test_logs_previous_and_the_kubelets_answers_without_a_log(kubectl):
    _, run = kubectl("k8s-crashloop-after-new-revision")
    previous = run("logs", "orders-api-7c9d8f6b5-x2k8p", "--namespace", "orders", "--previous", "--tail=1")
    assert previous.returncode == 0 and 'column "discount_code" of relation "orders" does not exist' in previous.stdout
    assert previous.stdout.count("\n") == 1
    healthy = run("logs", "orders-api-5f4b8c7d9-drssw", "--namespace", "orders", "--previous")
    assert healthy.returncode != 0 and "previous terminated container" in healthy.stderr
    _, run = kubectl("k8s-image-pull-backoff")
    pulling = run("logs", "orders-api-4c8d9f7b6-j5zct", "--namespace", "orders")
    assert "is waiting to start: trying and failing to pull image" in pulling.stderr


def test_events_field_selector_and_pod_label_selector(kubectl):
    _, run = kubectl("db-pod-not-running-behind-alert")
    pods = run("get", "pods", "--namespace", "data", "--selector", "app=postgres", "-o", "name")
    assert pods.stdout.split() == ["pod/postgres-0"]
    none = run("get", "pods", "--namespace", "data", "--selector", "app in (redis)", "-o", "name")
    assert none.returncode == 0 and none.stdout.strip() == ""
    events = run("get", "events", "--namespace", "data", "--field-selector", "involvedObject.name=postgres-0,type=Warning", "-o", "json")
    assert [e["reason"] for e in json.loads(events.stdout)["items"]] == ["BackOff"]


def test_times_move_with_the_clock():
    recorded = datetime(2026, 12, 5, 7, tzinfo=timezone.utc)
    stub = KubeStub.load(ZOO / "k8s-crashloop-after-new-revision", now=recorded + timedelta(days=3))
    crash = next(p for p in stub.objects["pods"]["orders"] if p["metadata"]["name"] == "orders-api-7c9d8f6b5-x2k8p")
    assert crash["metadata"]["creationTimestamp"] == "2026-12-08T06:38:02Z"
    assert stub.logs[("orders", "orders-api-7c9d8f6b5-x2k8p")]["previous"].startswith("2026-12-08T06:56:14.402Z")


# --------------------------------------------------------------------------------------- the scorer


def diagnosis(findings=(), actions=(), summary="prod-db: 1 critical", tools=()):
    return {"summary": summary, "findings": list(findings), "tools": list(tools),
            "recommended_actions": [{"call": {"tool": tool, "target": "prod-db", "arguments": arguments}, "reason": ""} for tool, arguments in actions]}


def finding(summary, rule="r", advice=None):
    return {"rule": rule, "summary": summary, "severity": "critical", **({"advice": advice} if advice is not None else {})}


EXPECTED = {"root_cause": {"must_mention": ["idle in transaction", "$blocker_pid"], "finding_rule": "idle-transaction-blocking"},
            "fix": {"tool": "terminate_backend", "arguments": {"pid": "$blocker_pid"}},
            "must_not": {"recommend_tools": ["cancel_query"], "say": ["autovacuum"]}}


def test_scorer_passes_the_right_diagnosis_and_says_what_is_missing_or_wrong():
    right = diagnosis([finding("PID 4242 is idle in transaction and blocks 3", rule="idle-transaction-blocking")],
                      [("terminate_backend", {"pid": 4242.0})])
    outcome = zoo.score(EXPECTED, right, {"blocker_pid": 4242})
    assert outcome.passed and outcome.finding_rule and not outcome.missing and not outcome.wrong

    wrong = diagnosis([finding("PID 17 waits; autovacuum is slow")], [("cancel_query", {"pid": 17}), ("terminate_backend", {"pid": 17})])
    outcome = zoo.score(EXPECTED, wrong, {"blocker_pid": 4242})
    assert not outcome.passed and outcome.named is False and outcome.fix is False and outcome.clean is False
    assert outcome.finding_rule is False
    assert "mention 'idle in transaction'" in outcome.missing and "mention '4242'" in outcome.missing
    assert "recommend terminate_backend(pid=4242) (recommended instead: terminate_backend(pid=17))" in outcome.missing
    assert outcome.wrong == ["recommends cancel_query(pid=17)", "says 'autovacuum'"]


def test_scorer_list_bindings_numbers_as_text_and_a_missing_binding():
    expected = {"root_cause": {"must_mention": ["$application"]},
                "fix": {"tool": "rollout_undo", "arguments": {"name": "$deployment", "to_revision": "$previous_revision", "pid": "$idle_pids"}}}
    bindings = {"application": "leaky-app", "deployment": "orders-api", "previous_revision": 4, "idle_pids": [11, 12, 13]}
    ok = diagnosis([finding("20 sessions of LEAKY-APP idle")], [("rollout_undo", {"name": "orders-api", "to_revision": "4", "pid": 12})])
    assert zoo.score(expected, ok, bindings).passed
    assert zoo.expand("pids $idle_pids of $application", bindings) == ["pids 11 of leaky-app", "pids 12 of leaky-app", "pids 13 of leaky-app"]
    with pytest.raises(zoo.MissingBinding):
        zoo.expand("$nobody", bindings)


def test_scorer_when_no_tool_fixes_it_advice_is_needed_and_no_write_may_be_recommended():
    expected = {"root_cause": {"must_mention": ["orders-api-config"]}, "fix": {"tool": None, "arguments": {}},
                "must_not": {"recommend_tools": ["rollout_restart"], "say": []}}
    advised = diagnosis([finding("pod crashes: key missing in ConfigMap orders-api-config", advice="add the key")], [("pod_logs", {"name": "x"})])
    assert zoo.score(expected, advised, {}).passed
    silent = diagnosis([finding("pod crashes: key missing in ConfigMap orders-api-config", advice="")])
    assert zoo.score(expected, silent, {}).missing == ["advice on the finding that names the cause (r has none; no tool fixes this: a person does)"]
    restart = diagnosis([finding("orders-api-config", advice="add the key")], [("scale", {"name": "x", "replicas": 0})])
    outcome = zoo.score(expected, restart, {})
    assert outcome.fix is False and outcome.clean and outcome.wrong == ["recommends scale(name=x, replicas=0) (no tool fixes this)"]


def test_scorer_healthy_systems_have_no_finding_and_no_write_tool():
    expected = {"root_cause": None, "fix": None, "expect_findings": 0, "must_not": {"recommend_tools": ["ALL_WRITE_TOOLS"], "say": ["Pending"]}}
    looked = [{"tool": name, "action": "read", "error": None} for name in ("pods", "deployments", "events")]
    assert zoo.score(expected, diagnosis(summary="prod-cluster: no problems found by 3 tools", tools=looked), {}).passed
    noisy = diagnosis([finding("pod x is Pending")], [("scale", {"name": "x", "replicas": 2})], tools=looked)
    outcome = zoo.score(expected, noisy, {})
    assert outcome.named is None and outcome.fix is None and not outcome.passed
    assert outcome.wrong == ["recommends scale(name=x, replicas=2)", "says 'Pending'", "1 findings where 0 expected: pod x is Pending"]
    # Nothing found by tools that failed is no healthy verdict.
    blind = diagnosis(summary="prod-cluster: no problems found by 2 tools (1 of 2 tools failed)",
                      tools=[{"tool": "pods", "action": "read", "error": None}, {"tool": "nodes", "action": "read", "error": "forbidden"}])
    assert zoo.score(expected, blind, {}).wrong == ["1 of 2 tools failed, so nothing found proves nothing: nodes: forbidden"]
    # A write tool the binary knows and this list does not still counts: the diagnosis says its action.
    novel = diagnosis([], [("drain_node", {"name": "w"})], tools=[{"tool": "drain_node", "action": "destructive"}])
    assert "recommends drain_node(name=w)" in zoo.score(expected, novel, {}).wrong


def test_scorer_nothing_found_is_no_healthy_verdict_when_nothing_was_looked_at_or_something_stood_in_the_way():
    expected = {"root_cause": None, "fix": None, "expect_findings": 0, "must_not": {"recommend_tools": ["ALL_WRITE_TOOLS"], "say": []}}
    looked = [{"tool": "server_info", "action": "read", "error": None}]
    # No tool ran (no runbook matched, the target unknown): nothing found proves nothing.
    idle = zoo.score(expected, diagnosis(summary="prod-db: no problems found by 0 tools"), {})
    assert not idle.passed and idle.wrong == ["no tool ran, so nothing found proves nothing"]
    # A problem the diagnosis reports (a runbook it could not run) while the tools it did run found nothing.
    blocked = zoo.score(expected, {**diagnosis(tools=looked), "problems": ["runbook postgres-locks: refused by policy"]}, {})
    assert not blocked.passed and blocked.wrong == ["the diagnosis reports problems, so nothing found proves nothing: runbook postgres-locks: refused by policy"]
    # Each reason is said; the model scorer holds a healthy class to the same.
    everything = {**diagnosis(), "problems": ["cannot reach prod-db"]}
    assert zoo.score(expected, everything, {}).wrong == ["no tool ran, so nothing found proves nothing",
                                                         "the diagnosis reports problems, so nothing found proves nothing: cannot reach prod-db"]
    assert zoo.cleanliness(expected, everything, {})[0] is False
    assert zoo.score(expected, {**diagnosis(tools=looked), "problems": []}, {}).passed


def test_scorer_the_cause_is_named_in_one_finding_not_spread_over_several():
    expected = {"root_cause": {"must_mention": ["idle in transaction", "$blocker_pid"]}}
    bindings = {"blocker_pid": 4242}
    # Each word said, but by different findings: nothing ties PID 4242 to the idle transaction.
    spread = diagnosis([finding("PID 4242 runs a long query", rule="long-query"), finding("3 sessions are idle in transaction", rule="idle")],
                       summary="prod-db: 2 critical — PID 4242 runs a long query")
    outcome = zoo.score(expected, spread, bindings)
    assert outcome.named is False and not outcome.passed
    assert outcome.missing == ["name the cause in one finding: 'idle in transaction', '4242' are each said, but in no one finding or the "
                               "summary (closest: finding long-query, without 'idle in transaction')"]
    # A finding's advice counts with its own summary.
    advised = diagnosis([finding("3 sessions are idle in transaction", advice="end PID 4242, the oldest")])
    assert zoo.score(expected, advised, bindings).named is True
    # The diagnosis's summary (the worst finding's) counts as one place.
    summarised = diagnosis([finding("the oldest holds row locks")], summary="prod-db: 1 critical — PID 4242 is idle in transaction")
    assert zoo.score(expected, summarised, bindings).named is True
    # Said nowhere: each missing word, as before.
    assert zoo.score(expected, diagnosis([finding("all calm")]), bindings).missing == ["mention 'idle in transaction'", "mention '4242'"]


def test_scorer_when_no_tool_fixes_it_the_advice_is_on_the_finding_that_names_the_cause():
    expected = {"root_cause": {"must_mention": ["orders-api-config", "LOG_LEVEL"]}, "fix": {"tool": None, "arguments": {}},
                "must_not": {"recommend_tools": [], "say": []}}
    # Another finding's advice (about something else) is no advice for this cause.
    elsewhere = diagnosis([finding("key LOG_LEVEL missing in ConfigMap orders-api-config", rule="config-key-missing"),
                           finding("pod y restarted once", rule="restarted", advice="watch it")])
    outcome = zoo.score(expected, elsewhere, {})
    assert outcome.named is True and outcome.fix is False
    assert outcome.missing == ["advice on the finding that names the cause (config-key-missing has none; no tool fixes this: a person does)"]
    on_it = diagnosis([finding("key LOG_LEVEL missing in ConfigMap orders-api-config", rule="config-key-missing", advice="add the key"),
                       finding("pod y restarted once", rule="restarted")])
    assert zoo.score(expected, on_it, {}).passed
    # Named by no finding: no advice can be on it.
    unnamed = diagnosis([finding("ConfigMap orders-api-config", advice="look"), finding("LOG_LEVEL", advice="look")])
    outcome = zoo.score(expected, unnamed, {})
    assert outcome.named is False and outcome.fix is False
    assert "advice on the finding that names the cause (no finding names it)" in outcome.missing


def test_the_write_tool_list_is_every_write_and_destructive_tool_the_binary_offers(helpdesk, tmp_path):
    """ALL_WRITE_TOOLS is zoo.KNOWN_WRITE_TOOLS (no command lists tools with their action) plus what a
    diagnosis itself ran as a write; a new write tool the list lacks would pass `must_not` unseen. The
    server's agent list (GET /api/v1/agents: every agent this build has, whatever the inventory) says each
    tool's action: the list must be exactly its write and destructive tools."""
    (tmp_path / "token").write_text("zoo-api-token-0123456789")
    hd = helpdesk(f"store: {{path: {tmp_path / 'hd.sqlite'}}}\napi: {{tokens: {{zoo: {{token_file: {tmp_path / 'token'}}}}}}}\n")
    hd.start(env={"HOME": str(tmp_path)})
    status, _, body = http("GET", hd.url("/api/v1/agents"), headers={"Authorization": "Bearer zoo-api-token-0123456789"})
    assert status == 200, body
    tools = [tool for agent in json.loads(body)["agents"] for tool in agent["tools"]]
    writes = {tool["name"] for tool in tools if tool["action"] in ("write", "destructive")}
    assert {tool["action"] for tool in tools} <= {"read", "write", "destructive"}
    assert writes == zoo.KNOWN_WRITE_TOOLS, (f"the binary's write tools not in zoo.KNOWN_WRITE_TOOLS: {sorted(writes - zoo.KNOWN_WRITE_TOOLS)}; "
                                             f"listed but not offered: {sorted(zoo.KNOWN_WRITE_TOOLS - writes)}")
    # The OpenAPI document's tool enums name the same database and Kubernetes tools the server offers.
    spec = json.loads((REPO / "Sources" / "HelpdeskServer" / "openapi.json").read_text())
    enums = {name for path in ("/api/v1/db/{tool}", "/api/v1/k8s/{tool}")
             for name in spec["paths"][path]["post"]["parameters"][0]["schema"]["enum"]}
    assert enums <= {tool["name"] for tool in tools}, sorted(enums - {tool["name"] for tool in tools})


# ------------------------------------------------------------------------------ model mode's scorer


MODEL_EXPECTED = {**EXPECTED, "fix": {"tool": "terminate_backend", "arguments": {"pid": "$blocker_pid"}}}
TURNS = [{"tool": "blocking_locks", "input": {}}, {"tool": "terminate_backend", "input": {"pid": 4242}}, {"text": "PID 4242 blocks; end it."}]


def request(messages, tools=("blocking_locks", "idle_in_transaction", "cancel_query", "terminate_backend")):
    return {"model": "zoo-replay", "tools": [{"name": name, "input_schema": {}} for name in tools], "messages": messages}


def replayed(briefing="The runbooks found:\n- [critical] PID 4242 is idle in transaction and blocks 3", first_result=('{"blockers":[]}', False),
             second_result=("recorded as a recommended action; it runs only if a human approves it", False), tools=None):
    """The three requests helpdesk sends while the fake replays TURNS, in Anthropic's format."""
    opening = [{"role": "user", "content": [{"type": "text", "text": briefing}]}]
    call1 = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "blocking_locks", "input": {}}]}
    reply1 = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": first_result[0], "is_error": first_result[1]}]}
    call2 = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_2", "name": "terminate_backend", "input": {"pid": 4242}}]}
    reply2 = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": second_result[0], "is_error": second_result[1]}]}
    extra = {} if tools is None else {"tools": tools}
    return [request(opening, **extra), request(opening + [call1, reply1], **extra), request(opening + [call1, reply1, call2, reply2], **extra)]


def model_diagnosis(actions=(("terminate_backend", {"pid": 4242}),), analysis="PID 4242 blocks; end it.", findings=None):
    result = diagnosis(findings if findings is not None else [finding("PID 4242 is idle in transaction and blocks 3")], actions,
                       summary=f"prod-db: {analysis}")
    return {**result, "mode": "llm", "analysis": analysis, "llm": {"provider": "anthropic", "steps": 3, "stopped_because": None}}


def test_model_scorer_passes_the_glue_that_offers_briefs_runs_and_records():
    outcome = zoo.score_model(MODEL_EXPECTED, model_diagnosis(), {"blocker_pid": 4242}, TURNS, replayed())
    assert outcome.passed and (outcome.offered, outcome.evidence, outcome.executed, outcome.proposed, outcome.clean) == (True,) * 5
    assert not outcome.missing and not outcome.wrong and not outcome.notes


def test_model_scorer_names_each_broken_piece_of_glue():
    bindings = {"blocker_pid": 4242}
    # A tool the model calls that its first request did not offer.
    outcome = zoo.score_model(MODEL_EXPECTED, model_diagnosis(), bindings, TURNS, replayed(tools=("blocking_locks",)))
    assert outcome.offered is False and outcome.missing[0].startswith("offer terminate_backend (the first request offered: blocking_locks)")
    # A briefing that lost the evidence (cut, or the findings left out).
    outcome = zoo.score_model(MODEL_EXPECTED, model_diagnosis(), bindings, TURNS, replayed(briefing='- blocking_locks {}: {"blockers":[{"pid":42'))
    assert outcome.evidence is False and "the briefing to mention 'idle in transaction'" in outcome.missing
    assert outcome.notes == ["the briefing cut blocking_locks {}'s output"]
    # A read that came back as an error.
    outcome = zoo.score_model(MODEL_EXPECTED, model_diagnosis(), bindings, TURNS, replayed(first_result=("the tool failed: timeout", True)))
    assert outcome.executed is False and outcome.wrong == ["blocking_locks() came back as an error: the tool failed: timeout"]
    # The fix recommended only by a runbook finding while the model's own proposal was refused.
    outcome = zoo.score_model(MODEL_EXPECTED, model_diagnosis(), bindings, TURNS, replayed(second_result=("refused: off-hours", True)))
    assert outcome.proposed is False and outcome.executed is True
    # The model's answer lost on the way to the analysis.
    outcome = zoo.score_model(MODEL_EXPECTED, model_diagnosis(analysis=None), bindings, TURNS, replayed())
    assert outcome.executed is False and outcome.wrong[0].startswith("the analysis is not the model's answer")
    # A diagnosis that never asked the model.
    outcome = zoo.score_model(MODEL_EXPECTED, {**diagnosis(), "mode": "runbook"}, bindings, TURNS, [])
    assert not outcome.passed and outcome.wrong[:2] == ["the model was not asked (mode runbook): ", "the model was never asked"]


def test_model_scorer_on_a_healthy_class_wants_a_briefing_without_findings():
    expected = {"root_cause": None, "fix": None, "expect_findings": 0, "must_not": {"recommend_tools": ["ALL_WRITE_TOOLS"], "say": ["critical"]}}
    turns = [{"tool": "blocking_locks", "input": {}}, {"text": "All good."}]
    quiet = {**model_diagnosis(actions=(), analysis="All good.", findings=[]), "tools": [{"tool": "blocking_locks", "action": "read", "error": None}]}
    requests = replayed(briefing="Runbooks run: postgres-health\n\nThe runbooks found nothing.\n")[:2]
    outcome = zoo.score_model(expected, quiet, {}, turns, requests)
    assert outcome.passed and outcome.proposed is None
    noisy = zoo.score_model(expected, quiet, {}, turns, replayed(briefing="The runbooks found:\n- [critical] disk full")[:2])
    assert noisy.evidence is False and noisy.wrong == ["the briefing reports findings on a healthy system: - [critical] disk full"]


def test_model_answers_fill_bindings_keeping_numbers_and_the_modes_parse():
    bindings = {"pid": 4242, "pids": [7, 8], "table": "orders"}
    assert zoo.fill([{"tool": "t", "input": {"pid": "$pid", "any": "$pids"}}, {"text": "PID $pid on $table"}], bindings) == \
        [{"tool": "t", "input": {"pid": 4242, "any": 7}}, {"text": "PID 4242 on orders"}]
    with pytest.raises(zoo.MissingBinding):
        zoo.fill({"pid": "$nobody"}, bindings)
    assert zoo.parse_modes("both") == zoo.parse_modes("model,runbook") == ("runbook", "model")
    assert zoo.parse_modes("model") == ("model",)
    with pytest.raises(Exception):
        zoo.parse_modes("llm")


def test_the_replay_fake_concludes_with_the_scripts_text():
    from fake_llm import FakeLLM
    fake = FakeLLM(script=[{"tool": "pods", "input": {"namespace": "orders"}}, {"text": "all good"}])
    try:
        body = {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "briefing"}]}]}
        fake.requests.append({"body": body})
        assert fake.anthropic(body)["content"][1] == {"type": "tool_use", "id": "toolu_1", "name": "pods", "input": {"namespace": "orders"}}
        fake.requests.append({"body": body})
        assert fake.anthropic(body)["content"] == [{"type": "text", "text": "all good"}]
        fake.reset()
        fake.requests.append({"body": body})
        assert fake.anthropic(body)["stop_reason"] == "tool_use"
    finally:
        fake.stop()


def test_baseline_only_moves_up(tmp_path):
    rows = [{"class": "a", "trigger": "person", "pass": True}, {"class": "a", "trigger": "alert", "pass": False}]
    path = tmp_path / "baseline.json"
    assert zoo.write_baseline(path, rows, "runbook") == []
    assert zoo.baseline_passes(path) == {"a/person"}
    worse = [{"class": "a", "trigger": "person", "pass": False, "missing": [], "wrong": []}]
    assert zoo.write_baseline(path, worse, "runbook") == worse
    assert zoo.compare(worse, zoo.baseline_passes(path)) == (worse, [])
    # Model rows are keyed model:class/trigger; a run of one mode keeps the other mode's pairs.
    model = [{"class": "a", "trigger": "person", "mode": "model", "pass": True}]
    assert zoo.write_baseline(path, model, "model") == []
    assert zoo.baseline_passes(path) == {"a/person", "model:a/person"}
    assert json.loads(path.read_text())["modes"] == ["runbook", "model"]
    failing = [{**model[0], "pass": False, "missing": [], "wrong": []}]
    assert zoo.compare(failing, zoo.baseline_passes(path)) == (failing, [])


def test_a_full_run_that_does_not_run_a_baseline_pair_reports_it_missing(tmp_path):
    before = {"a/person", "a/alert", "b/person", "model:a/person", "model:b/person"}
    rows = [{"class": "a", "trigger": "person", "mode": "runbook", "pass": True}, {"class": "a", "trigger": "alert", "mode": "runbook", "pass": True}]
    # A run of some classes (--class) leaves the others alone.
    assert zoo.compare(rows, before) == ([], [])
    # A full runbook-mode run: class b is gone (deleted, renamed): a failure, not silence; model pairs were not asked for.
    regressions, new = zoo.compare(rows, before, full_modes=("runbook",))
    assert [zoo.pair(item) for item in regressions] == ["b/person"] and new == []
    assert regressions[0]["mode"] == "runbook" and not regressions[0]["pass"] and regressions[0]["missing"][0].startswith("missing: did not run")
    # Both modes: each mode's missing pairs, keyed as the baseline keys them.
    regressions, _ = zoo.compare(rows, before, full_modes=("runbook", "model"))
    assert [zoo.pair(item) for item in regressions] == ["b/person", "model:a/person", "model:b/person"]
    # A trigger dropped from a class is missing too; and the baseline refuses to forget it on its own.
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"modes": ["runbook"], "passing": ["a/person", "a/alert"]}))
    only_person = rows[:1]
    assert [zoo.pair(item) for item in zoo.write_baseline(path, only_person, "runbook", full_modes=("runbook",))] == ["a/alert"]
    assert zoo.baseline_passes(path) == {"a/person", "a/alert"}
    # Baseline keys and their parts.
    assert zoo.pair_parts("model:k8s-oomkilled/alert") == ("k8s-oomkilled", "alert", "model")
    assert zoo.pair_parts("k8s-oomkilled/person") == ("k8s-oomkilled", "person", "runbook")


# ------------------------------------------------------------------------------------------ the zoo


def artifacts() -> Path:
    folder = Path(os.environ.get("HELPDESK_TEST_ARTIFACTS") or Path(__file__).resolve().parent / "artifacts") / "zoo"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_zoo_holds_its_baseline():
    """Every class planted once and diagnosed in both modes (runbook, then model mode replaying its
    model.yaml on the same plant). Fails naming the pairs (`class/trigger`, `model:class/trigger`) that
    passed in Tests/zoo/baseline.json and fail now; update the baseline only from a run that passes more."""
    report = artifacts() / "zoo.json"
    result = subprocess.run([sys.executable, str(ZOO / "zoo.py"), "run", "--bin", helpdesk_binary(), "--mode", "both", "--jobs", "3",
                             "--json", str(report), "--baseline", str(ZOO / "baseline.json")], capture_output=True, text=True, timeout=1800)
    print(result.stdout)
    if result.returncode == 2:
        pytest.fail(f"the zoo could not start its peers:\n{result.stderr[-4000:]}", pytrace=False)
    assert result.returncode == 0, failure_text(result)


def failure_text(result: subprocess.CompletedProcess) -> str:
    """Why a zoo run failed: its regressions when it got to scoring them; otherwise (the scorer crashed, an
    option it does not know) its exit status, standard error and the end of its output."""
    if "REGRESSIONS" in result.stdout:
        return result.stdout[result.stdout.index("REGRESSIONS"):]
    return (f"zoo.py exited {result.returncode} without a REGRESSIONS report\n--- stderr (last 4000 characters):\n{result.stderr[-4000:]}"
            f"\n--- stdout (last 2000 characters):\n{result.stdout[-2000:]}")


def test_a_crashed_scorer_shows_its_exit_status_and_stderr():
    crashed = subprocess.CompletedProcess(["zoo.py"], 1, stdout="class  trigger\n", stderr="Traceback …\nKeyError: 'x'\n")
    text = failure_text(crashed)
    assert "zoo.py exited 1 without a REGRESSIONS report" in text and "KeyError: 'x'" in text
    regressed = subprocess.CompletedProcess(["zoo.py"], 1, stdout="table\n\nREGRESSIONS: passed in b, fail now:\n  a/person: x\n", stderr="noise")
    assert failure_text(regressed) == "REGRESSIONS: passed in b, fail now:\n  a/person: x\n"
    # For real: an option zoo.py does not have.
    result = subprocess.run([sys.executable, str(ZOO / "zoo.py"), "run", "--no-such-option"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "exited 2" in failure_text(result) and "--no-such-option" in failure_text(result)
