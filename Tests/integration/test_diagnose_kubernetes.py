"""Kubernetes tools through the real kubectl against a loopback stub API server."""
import json
import shutil

import pytest

from kube_stub import KubeStub, deployment, event, pod


@pytest.fixture
def kube(tmp_path):
    if not shutil.which("kubectl"):
        pytest.fail("kubectl is not installed", pytrace=False)
    stub = KubeStub().start()
    stub.objects["pods"]["orders"] = [
        pod("orders-api-7d9f-abcde"),
        pod("orders-worker-5c6b-xyz12", ready=False, restarts=14, waiting="CrashLoopBackOff", last_exit="Error"),
    ]
    stub.objects["deployments"]["orders"] = [deployment("orders-worker", desired=3, available=1), deployment("orders-api", 2, 2)]
    stub.objects["events"]["orders"] = [
        event("orders-worker-5c6b-xyz12", "BackOff", "Back-off restarting failed container app"),
        event("orders-api-7d9f-abcde", "Pulled", "Container image already present", type_="Normal"),
        event("orders-worker-5c6b-qqq", "FailedScheduling", "0/3 nodes are available: 3 Insufficient memory."),
    ]
    stub.logs[("orders", "orders-worker-5c6b-xyz12")] = "starting\npanic: cannot reach database\n"
    stub.forbidden_namespaces.add("payments")
    yield stub, stub.kubeconfig(tmp_path / "kubeconfig")
    stub.stop()


def config(kubeconfig):
    return f"""
store:
  path: state/hd.sqlite
diagnosis:
  bundles_dir: bundles
infrastructure:
  k8s_clusters:
    prod-cluster:
      context: stub
      kubeconfig: {kubeconfig}
"""


def test_crash_looping_pod_and_unavailable_deployment_are_found(helpdesk, kube, tmp_path):
    stub, kubeconfig = kube
    hd = helpdesk(config(kubeconfig))
    result = hd.run("diagnose", "prod-cluster", "--namespace", "orders", "--symptom", "pods keep crashing", "--json",
                    env={"HOME": str(tmp_path)})
    assert result.returncode == 1, result.stdout + result.stderr
    diagnosis = json.loads(result.stdout)
    assert diagnosis["runbooks"] == ["kubernetes-workloads"]
    assert all(tool["error"] is None for tool in diagnosis["tools"]), diagnosis["tools"]
    by_rule = {}
    for finding in diagnosis["findings"]:
        by_rule.setdefault(finding["rule"], []).append(finding)
    crash = by_rule["crash-loop"][0]
    assert crash["severity"] == "critical"
    # The crashed container's log was read by the diagnosis itself (a follow-up), and its error line quoted.
    assert crash["summary"].startswith("pod orders-worker-5c6b-xyz12 crash-loops: CrashLoopBackOff (14 restarts, last exit Error code 1); "
                                       "its last error: panic: cannot reach database;"), crash["summary"]
    assert crash["recommended_actions"] == [] and crash["advice"]
    follow_up = [tool for tool in diagnosis["tools"] if tool["tool"] == "pod_logs"]
    assert follow_up == [{**follow_up[0], "arguments": {"name": "orders-worker-5c6b-xyz12", "previous": "true", "tail": 100, "namespace": "orders"}}]
    assert by_rule["deployment-unavailable"][0]["summary"] == "deployment orders-worker has 1 of 3 replicas available"
    assert [f["evidence"]["reason"] for f in by_rule["warning-events"]] == ["FailedScheduling"]
    # kubectl was asked for the namespace the request named, through discovery and the lists.
    paths = [request[1] for request in stub.requests]
    assert any(path.startswith("/api/v1/namespaces/orders/pods") for path in paths)
    assert any(path.startswith("/apis/apps/v1/namespaces/orders/deployments") for path in paths)


def test_forbidden_namespace_is_a_failed_tool_not_a_crash(helpdesk, kube, tmp_path):
    _, kubeconfig = kube
    hd = helpdesk(config(kubeconfig))
    result = hd.run("diagnose", "prod-cluster", "--namespace", "payments", "--json", env={"HOME": str(tmp_path)})
    assert result.returncode == 1
    diagnosis = json.loads(result.stdout)
    # Every namespaced read is refused; pod_metrics finds no metrics API here (404 before any namespace check)
    # and says so without failing, so the diagnosis is not healthy but not empty-handed either.
    errors = {tool["tool"]: tool["error"] for tool in diagnosis["tools"]}
    assert errors.pop("pod_metrics") is None
    assert errors and all(error and "forbidden" in error for error in errors.values()), errors
    assert diagnosis["healthy"] is False


def test_cluster_without_namespace_and_bad_namespace_are_refused(helpdesk, kube, tmp_path):
    _, kubeconfig = kube
    hd = helpdesk(config(kubeconfig))
    missing = hd.run("diagnose", "prod-cluster", env={"HOME": str(tmp_path)})
    assert missing.returncode == 2
    assert "prod-cluster is a cluster: name the namespace to look at" in missing.stdout
    hostile = hd.run("diagnose", "prod-cluster", "--namespace=--all-namespaces", "--json", env={"HOME": str(tmp_path)})
    diagnosis = json.loads(hostile.stdout)
    assert all("is not a valid Kubernetes name" in tool["error"] for tool in diagnosis["tools"]), diagnosis["tools"]
