"""LLM mode end to end: the built binary, a real PostgreSQL with a lock pile-up, and loopback
servers speaking the Anthropic and OpenAI-compatible APIs."""
import json

import pytest

from fake_llm import CLOCK_FREE_POLICY, FakeLLM
from test_diagnose_postgres import config as postgres_config, lock_pileup  # noqa: F401 (fixture)


@pytest.fixture
def fake_llm():
    servers = []

    def make(**options):
        server = FakeLLM(**options)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def run(helpdesk, postgres, tmp_path, llm_section, env_extra):
    text, env = postgres_config(postgres, tmp_path)
    policies = tmp_path / "llm-policies"
    policies.mkdir(exist_ok=True)
    (policies / "all.yaml").write_text(CLOCK_FREE_POLICY)
    hd = helpdesk(text + llm_section + f"policies: {{dir: {policies}}}\n")
    return hd.run("diagnose", "prod-db", "--symptom", "payments are stuck", "--json", env={**env, **env_extra})


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_model_investigates_with_read_tools_and_only_proposes_the_write(helpdesk, postgres, tmp_path, lock_pileup, fake_llm, provider):
    holder_pid, _, _ = lock_pileup
    llm = fake_llm(fail_first_with=429)
    key_variable = "ANTHROPIC_API_KEY" if provider == "anthropic" else "OPENAI_API_KEY"
    key = "sk-ant-fake-0123456789abcdef" if provider == "anthropic" else "sk-fake-openai-0123456789abcdef"
    base = f"http://127.0.0.1:{llm.port}" + ("" if provider == "anthropic" else "/v1")
    result = run(helpdesk, postgres, tmp_path, f"llm:\n  provider: {provider}\n  model: fake-model\n  base_url: {base}\n", {key_variable: key})
    assert result.returncode == 1, result.stdout + result.stderr
    diagnosis = json.loads(result.stdout)

    assert diagnosis["mode"] == "llm"
    assert diagnosis["llm"]["provider"] == provider
    assert diagnosis["llm"]["steps"] == 3 and diagnosis["llm"]["stopped_because"] is None
    assert diagnosis["analysis"].startswith("The root blocker is idle in transaction")
    assert diagnosis["summary"] == "prod-db: The root blocker is idle in transaction and holds the row lock everyone waits for."
    # The runbook still found the blocker; the model's tool call ran for real; its write was only proposed.
    assert [f["rule"] for f in diagnosis["findings"] if f["severity"] == "critical"] == ["idle-transaction-blocking"]
    assert [t["tool"] for t in diagnosis["tools"]].count("blocking_locks") == 2
    calls = [action["call"] for action in diagnosis["recommended_actions"]]
    assert {"tool": "terminate_backend", "target": "prod-db", "arguments": {"pid": holder_pid}} in calls
    assert postgres.value(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {holder_pid}") == "1", "the blocker must still be there"

    # Four requests: the rate-limited one, retried, then two more turns; each with the key and the tools.
    assert len(llm.requests) == 4
    first = llm.requests[1]
    if provider == "anthropic":
        assert first["headers"]["x-api-key"] == key and first["headers"]["anthropic-version"] == "2023-06-01"
        assert {tool["name"] for tool in first["body"]["tools"]} >= {"blocking_locks", "terminate_backend", "connection_stats"}
    else:
        assert first["headers"]["authorization"] == f"Bearer {key}"
        assert {tool["function"]["name"] for tool in first["body"]["tools"]} >= {"blocking_locks", "terminate_backend"}
    # The model was briefed with the runbook's finding about the blocker.
    briefing = json.dumps(first["body"]["messages"])
    assert f"PID {holder_pid}" in briefing
    assert key not in result.stdout + result.stderr


def test_without_a_key_it_says_runbook_mode_and_still_diagnoses(helpdesk, postgres, tmp_path, fake_llm):
    llm = fake_llm()
    result = run(helpdesk, postgres, tmp_path, f"llm:\n  provider: anthropic\n  model: fake-model\n  base_url: http://127.0.0.1:{llm.port}\n",
                 {"ANTHROPIC_API_KEY": ""})
    diagnosis = json.loads(result.stdout)
    assert diagnosis["mode"] == "runbook"
    assert "ANTHROPIC_API_KEY" in result.stderr and "runbook mode" in result.stderr
    assert llm.requests == []


def test_model_server_errors_leave_the_runbook_diagnosis_intact(helpdesk, postgres, tmp_path, fake_llm):
    llm = fake_llm(always_fail_with=500)
    result = run(helpdesk, postgres, tmp_path, f"llm:\n  provider: openai\n  model: fake-model\n  base_url: http://127.0.0.1:{llm.port}/v1\n",
                 {"OPENAI_API_KEY": "sk-fake-openai-0123456789abcdef"})
    diagnosis = json.loads(result.stdout)
    assert diagnosis["mode"] == "llm"
    assert diagnosis["llm"]["stopped_because"] == "the openai model could not be asked: HTTP 500: The server had an error while processing your request"
    assert len(llm.requests) == 3, "retried, then given up"
    assert diagnosis["analysis"] is None
    assert diagnosis["runbooks"] == ["postgres-locks"] and diagnosis["tools"]
