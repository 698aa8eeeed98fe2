"""`helpdesk srebot`: the one-shot check a Kubernetes CronJob runs."""
import os

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
