"""An aiHelpDesk policy file with things that load but likely do not mean what they say: `policy check` and
`config check` pass and name each with file:line, `serve` logs them at start and again on SIGHUP, and
aiHelpDesk's tool name decides on ours."""
import signal
import time

# Line 8: aiHelpDesk's name for terminate_backend (no warning); line 10: a tool this server does not have;
# line 16: a limit of 0 (no limit, as in aiHelpDesk).
POLICY = """version: "1.0"
policies:
  - name: guard
    principals:
      - {role: analyst, service: rollout-bot}
    resources:
      - type: database
        match: {tool: terminate_connection}
      - type: database
        match: {tool: get_session_info}
    rules:
      - action: destructive
        effect: deny
      - action: write
        effect: allow
        conditions: {max_rows_affected: 0}
"""


def expected_warnings(path) -> list[str]:
    return [f"warning: {path}:10: policies.0.resources.1.match.tool: \"get_session_info\" is no tool of this server",
            f"warning: {path}:16: policies.0.rules.1.conditions.max_rows_affected: 0 means no limit, as in aiHelpDesk"]


def test_policy_check_and_config_check_pass_and_name_each_warning(helpdesk, tmp_path):
    path = tmp_path / "policies.yaml"
    path.write_text(POLICY)
    hd = helpdesk(f"store: {{path: state/hd.sqlite}}\npolicies: {{file: {path}}}\n")
    checked = hd.run("policy", "check", str(path))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"ok: {path} — 1 policy (1 enabled), 2 warning(s)"), checked.stdout
    for warning in expected_warnings(path):
        assert warning in checked.stderr, checked.stderr
    assert "terminate_connection" not in checked.stderr, "a mapped name is no warning"

    config = hd.run("config", "check")
    assert config.returncode == 0, config.stderr
    for warning in expected_warnings(path):
        assert warning in config.stderr, config.stderr

    # The several-key entry's service and aiHelpDesk's tool name, decided on this project's tool.
    explained = hd.run("govexplain", "--resource", "database:orders-db", "--action", "destructive",
                       "--tool", "terminate_backend", "--principal", "service:rollout-bot")
    assert explained.returncode == 1 and "policy: guard" in explained.stdout, explained.stdout + explained.stderr


def test_serve_logs_the_warnings_at_start_and_on_each_reload(helpdesk, tmp_path):
    path = tmp_path / "policies.yaml"
    path.write_text(POLICY)
    hd = helpdesk(f"store: {{path: state/hd.sqlite}}\npolicies: {{file: {path}}}\n")
    server = hd.start()
    warning = f"policy file: {path}:10: policies.0.resources.1.match.tool"
    assert hd.log(server).count(warning) == 1, hd.log(server)
    server.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and hd.log(server).count(warning) < 2:
        time.sleep(0.2)
    assert hd.log(server).count(warning) == 2, hd.log(server)
