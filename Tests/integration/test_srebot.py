"""`helpdesk srebot`: the one-shot check a Kubernetes CronJob runs."""
import json
import os

from conftest import Helpdesk, free_port, http
from slack_peer import WebAPI
from test_diagnose_postgres import config as postgres_config, lock_pileup  # noqa: F401 (fixture)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_exit_codes_and_posting(helpdesk, postgres, tmp_path, lock_pileup):
    api = WebAPI()
    try:
        text, env = postgres_config(postgres, tmp_path)
        hd = helpdesk(text + f"slack: {{api_base_url: {api.base_url}, default_channel: C0ONCALL, templates_dir: {REPO}/templates/slack}}\n")
        stuck = hd.run("srebot", "--target", "prod-db", "--symptom", "locks", "--post", env={**env, "SLACK_BOT_TOKEN": "xoxb-test-0123456789-z"})
        assert stuck.returncode == 1, stuck.stdout + stuck.stderr
        assert "idle in transaction" in stuck.stdout and "posted to C0ONCALL" in stuck.stdout
        posted = [c for c in api.calls if c["method"] == "chat.postMessage"]
        assert len(posted) == 1 and posted[0]["body"]["channel"] == "C0ONCALL" and posted[0]["body"]["blocks"]

        unknown = hd.run("srebot", "--target", "nope", env=env)
        assert unknown.returncode == 2
        no_token = hd.run("srebot", "--target", "prod-db", "--post", env=env)
        assert no_token.returncode == 2 and "--post needs SLACK_BOT_TOKEN" in no_token.stderr
    finally:
        api.stop()


def test_healthy_target_exits_zero_and_posts_nothing(helpdesk, postgres, tmp_path):
    text, env = postgres_config(postgres, tmp_path)
    hd = helpdesk(text)
    healthy = hd.run("srebot", "--target", "prod-db", env=env)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.startswith("prod-db: healthy")


# Server mode, as the chart's Job runs it: the server diagnoses, the Job holds only an API token.
API_TOKEN = "srebot-api-token-0123456789"


def serve_with_api_token(helpdesk, postgres, tmp_path):
    text, env = postgres_config(postgres, tmp_path)
    (tmp_path / "server-api-token").write_text(API_TOKEN + "\n")
    server = helpdesk(text + f"api:\n  tokens:\n    srebot: {{token_file: {tmp_path / 'server-api-token'}}}\n")
    server.start(env=env)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "api-token").write_text(API_TOKEN + "\n")
    (secrets / "wrong-token").write_text("not-the-api-token-0123456789\n")
    return server, secrets


def job_folder(tmp_path, name: str, config: str) -> Helpdesk:
    """An empty folder holding only a configuration: no inventory, no store, no database credentials."""
    folder = tmp_path / name
    folder.mkdir()
    return Helpdesk(folder, config)


def test_server_mode_reports_the_servers_diagnosis_and_opens_no_store(helpdesk, postgres, tmp_path, lock_pileup):
    server, secrets = serve_with_api_token(helpdesk, postgres, tmp_path)
    job = job_folder(tmp_path, "job", "logging: {format: json}\n")
    ask = ("srebot", "--target", "prod-db", "--symptom", "locks", "--server", server.url(""), "--token-file", str(secrets / "api-token"))

    stuck = job.run(*ask)
    assert stuck.returncode == 1, stuck.stdout + stuck.stderr
    assert "idle in transaction" in stuck.stdout and "bundle: " in stuck.stdout
    as_json = job.run(*ask, "--json")
    assert as_json.returncode == 1, as_json.stderr
    diagnosis = json.loads(as_json.stdout)
    assert [f["rule"] for f in diagnosis["findings"] if f["severity"] == "critical"] == ["idle-transaction-blocking"]
    assert diagnosis["recommended_actions"][0]["call"]["tool"] == "terminate_backend"
    # The server holds the incident; the Job's folder still holds nothing but its configuration.
    status, _, body = http("GET", server.url(f"/api/v1/incidents/{diagnosis['incident_id']}"),
                           headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert status == 200 and json.loads(body)["target"] == "prod-db"
    assert sorted(p.name for p in job.folder.iterdir()) == ["helpdesk.yaml"]

    api = WebAPI()
    try:
        poster = job_folder(tmp_path, "job-post", f"slack: {{api_base_url: {api.base_url}, default_channel: C0ONCALL}}\n")
        posted = poster.run(*ask, "--post", env={"SLACK_BOT_TOKEN": "xoxb-test-0123456789-z"})
        assert posted.returncode == 1, posted.stdout + posted.stderr
        assert "posted to C0ONCALL" in posted.stdout
        calls = [c for c in api.calls if c["method"] == "chat.postMessage"]
        assert len(calls) == 1 and calls[0]["body"]["channel"] == "C0ONCALL" and calls[0]["body"]["blocks"]
    finally:
        api.stop()


def test_server_mode_errors_exit_two_and_never_show_the_token(helpdesk, postgres, tmp_path):
    server, secrets = serve_with_api_token(helpdesk, postgres, tmp_path)
    job = job_folder(tmp_path, "job", "logging: {format: json}\n")
    url = server.url("")

    healthy = job.run("srebot", "--target", "prod-db", "--server", url, "--token-file", str(secrets / "api-token"))
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.startswith("prod-db: healthy")

    wrong = job.run("srebot", "--target", "prod-db", "--server", url, "--token-file", str(secrets / "wrong-token"))
    assert wrong.returncode == 2
    assert f"the helpdesk server at {url} refused the API token (HTTP 401" in wrong.stderr
    unknown = job.run("srebot", "--target", "nope", "--server", url, "--token-file", str(secrets / "api-token"))
    assert unknown.returncode == 2 and "cannot diagnose nope" in unknown.stderr and "unknown_target" in unknown.stderr
    down = f"http://127.0.0.1:{free_port()}"
    unreachable = job.run("srebot", "--target", "prod-db", "--server", down, "--token-file", str(secrets / "api-token"))
    assert unreachable.returncode == 2 and f"cannot reach the helpdesk server at {down}" in unreachable.stderr
    on_argv = job.run("srebot", "--target", "prod-db", "--server", url, "--token", API_TOKEN)
    assert on_argv.returncode == 2 and "--token is refused" in on_argv.stderr

    for result in (healthy, wrong, unknown, unreachable, on_argv):
        output = result.stdout + result.stderr
        assert API_TOKEN not in output and "not-the-api-token" not in output
    assert sorted(p.name for p in job.folder.iterdir()) == ["helpdesk.yaml"]
