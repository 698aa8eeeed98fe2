"""Policy files: checked from the command line, explained, and reloaded by a running server
(on change and on SIGHUP), with a bad file keeping the previous policies in force."""
import json
import re
import signal
import time
from pathlib import Path

from conftest import http

ALLOW_READS = 'version: "1"\npolicies:\n  - name: reads\n    rules:\n      - {action: read, effect: allow}\n'
DENY_READS = 'version: "1"\npolicies:\n  - name: reads\n    rules:\n      - {action: read, effect: deny, message: reads are off}\n'
BROKEN = 'version: "1"\npolicies:\n  - name: reads\n    rules:\n      - {action: read, effect: perhaps}\n'


def test_policy_check_and_govexplain(helpdesk, tmp_path):
    hd = helpdesk("")
    (tmp_path / "p.yaml").write_text(BROKEN)
    bad = hd.run("policy", "check", str(tmp_path / "p.yaml"))
    assert bad.returncode == 2
    assert f"{tmp_path / 'p.yaml'}:5: policies.0.rules.0.effect" in bad.stderr
    repo_policies = str(Path(__file__).resolve().parents[2] / "policies")
    ok = hd.run("policy", "check", repo_policies)
    assert ok.returncode == 0 and ok.stdout.startswith(f"ok: {repo_policies}")
    (tmp_path / "helpdesk.yaml").write_text(f"policies:\n  dir: {repo_policies}\n")
    weekday = hd.run("govexplain", "--resource", "database:prod-db", "--action", "destructive", "--tags", "production",
                     "--at", "2026-11-24T12:00:00Z", "--principal", "alice")
    assert weekday.returncode == 2 and "approvals: 2" in weekday.stdout
    night = hd.run("govexplain", "--resource", "database:prod-db", "--action", "destructive", "--tags", "production",
                   "--at", "2026-11-24T23:00:00Z")
    assert night.returncode == 1 and "allowed on weekdays between 07:00 and 20:00 UTC only" in night.stdout
    read = hd.run("govexplain", "--resource", "host:vm1", "--action", "read")
    assert read.returncode == 0 and "policy: everything-else" in read.stdout
    nonsense = hd.run("govexplain", "--resource", "printer:x", "--action", "read")
    assert nonsense.returncode == 3


def test_running_server_reloads_policies_and_keeps_the_last_good_ones(helpdesk, tmp_path):
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "p.yaml").write_text(ALLOW_READS)
    (tmp_path / "t").write_text("token-0123456789")
    hd = helpdesk(f"""
store: {{path: state/hd.sqlite}}
policies: {{dir: {folder}}}
infrastructure:
  k8s_clusters:
    c1: {{context: none}}
api:
  tokens:
    ops: {{token_file: {tmp_path / 't'}}}
""")
    server = hd.start()
    headers = {"Authorization": "Bearer token-0123456789", "Content-Type": "application/json"}

    def read_status():
        # kubectl is never reached when policy denies; when allowed it fails (no such context): 502.
        status, _, body = http("POST", hd.url("/api/v1/k8s/pods"), body=json.dumps({"target": "c1", "arguments": {"namespace": "x"}}).encode(),
                               headers=headers)
        return status, json.loads(body)

    assert read_status()[0] == 502
    (folder / "p.yaml").write_text(DENY_READS)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and read_status()[0] != 403:
        time.sleep(0.2)
    status, body = read_status()
    assert status == 403 and body["error"]["message"].startswith("reads are off")

    (folder / "p.yaml").write_text(BROKEN)
    server.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and "helpdesk_policy_valid 0" not in http("GET", hd.url("/metrics"))[2].decode():
        time.sleep(0.2)
    metrics = http("GET", hd.url("/metrics"))[2].decode()
    assert "helpdesk_policy_valid 0" in metrics
    # The series exists from the start at 0 (so rate() works): the failure is a count above it.
    assert re.search(r'helpdesk_policy_reloads_total\{outcome="failed"\} [1-9]', metrics)
    assert read_status()[0] == 403, "the previous (valid) policies stay in force"
    assert "policy files are invalid; the previous policies stay in force" in hd.log(server)
