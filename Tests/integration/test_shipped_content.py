"""Templates, runbooks and policies are compiled into the binary: a binary run from an empty folder with a
configuration that names no folders has them all; a configured folder overrides templates and runbooks file
by file and replaces the policies whole; `templates export` writes what is in force."""
import hashlib
import json

from conftest import REPO


def shipped_files() -> dict[str, str]:
    """The repository's content, as the build embeds it (no READMEs, no policy example)."""
    files = {}
    for folder in ("templates", "runbooks", "policies"):
        for path in (REPO / folder).rglob("*"):
            relative = path.relative_to(REPO).as_posix()
            if path.is_file() and path.name != "README.md" and relative != "policies/example.yaml" \
                    and not any(part.startswith(".") for part in path.relative_to(REPO).parts):
                files[relative] = path.read_text(encoding="utf-8")
    return files


def test_the_binary_names_its_content_by_a_digest_a_checkout_recomputes(helpdesk):
    """What `sha256sum` prints for the embedded files in path order, hashed once more."""
    paths = sorted(shipped_files())
    manifest = "".join(f"{hashlib.sha256((REPO / path).read_bytes()).hexdigest()}  {path}\n" for path in paths)
    digest = hashlib.sha256(manifest.encode()).hexdigest()
    hd = helpdesk("store: {path: state/hd.sqlite}\n")
    assert json.loads(hd.run("version", "--json").stdout)["content_sha256"] == digest
    assert f"built-in content: sha256 {digest}" in hd.run("policy", "show").stdout.splitlines()
    assert f"built-in content: sha256 {digest}" in hd.run("runbooks", "list").stdout.splitlines()


def test_an_empty_folder_has_every_shipped_runbook_template_and_policy(helpdesk, tmp_path):
    hd = helpdesk("store: {path: state/hd.sqlite}\n")
    listed = hd.run("runbooks", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    runbooks = {entry["name"]: entry for entry in map(json.loads, listed.stdout.splitlines())}
    assert runbooks["postgres-locks"]["source"] == "binary"
    assert runbooks["postgres-locks"]["file"] == "built-in runbooks/postgres-locks.yaml"
    assert "PostgresLockPileUp" in runbooks["postgres-locks"]["alerts"]
    assert len(runbooks) == len(list((REPO / "runbooks").glob("*.yaml")))

    policies = hd.run("policy", "show")
    assert policies.returncode == 0, policies.stderr
    assert policies.stdout.startswith("built-in policies (neither policies.file nor policies.dir is set)")
    assert "built-in policies/default.yaml: 2 policies" in policies.stdout
    assert "example" not in policies.stdout
    assert hd.run("policy", "check").stdout.startswith("ok: built-in policies")

    templates = hd.run("templates", "list")
    assert templates.returncode == 0, templates.stderr
    assert "built-in templates/web/approval.mustache" in templates.stdout
    assert "built-in templates/email/approval_request.html.mustache" in templates.stdout


def test_export_writes_what_is_in_force_and_never_overwrites_unasked(helpdesk, tmp_path):
    hd = helpdesk("store: {path: state/hd.sqlite}\n")
    out = tmp_path / "exported"
    first = hd.run("templates", "export", str(out))
    assert first.returncode == 0, first.stderr
    written = {path.relative_to(out).as_posix(): path.read_text(encoding="utf-8") for path in out.rglob("*") if path.is_file()}
    assert written == shipped_files()

    (out / "templates" / "slack" / "help.mustache").write_text("edited")
    again = hd.run("templates", "export", str(out))
    assert again.returncode == 1 and "nothing written" in again.stderr
    assert (out / "templates" / "slack" / "help.mustache").read_text() == "edited"
    forced = hd.run("templates", "export", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (out / "templates" / "slack" / "help.mustache").read_text(encoding="utf-8") == shipped_files()["templates/slack/help.mustache"]


def test_folders_override_templates_and_runbooks_file_by_file_and_replace_policies(helpdesk, tmp_path):
    slack = tmp_path / "slack"
    slack.mkdir()
    (slack / "help.mustache").write_text('{"text": "our help"}')
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "postgres-locks.yaml").write_text(
        "name: postgres-locks\ndescription: ours\nmatch: {symptoms: [wedged]}\ntools: [{tool: blocking_locks}]\n")
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "reads.yaml").write_text('version: "1"\npolicies:\n  - name: reads\n    rules:\n      - {action: read, effect: allow}\n')
    hd = helpdesk(f"""
store: {{path: state/hd.sqlite}}
slack: {{templates_dir: {slack}}}
diagnosis: {{runbooks_dir: {runbooks}}}
policies: {{dir: {policies}}}
""")
    templates = hd.run("templates", "list").stdout
    assert f"{slack}/help.mustache" in templates and "built-in templates/slack/diagnosis.mustache" in templates

    listed = {entry["name"]: entry for entry in map(json.loads, hd.run("runbooks", "list", "--json").stdout.splitlines())}
    assert listed["postgres-locks"]["source"] == str(runbooks) and listed["postgres-locks"]["symptoms"] == ["wedged"]
    assert listed["postgres-health"]["source"] == "binary"

    shown = hd.run("policy", "show").stdout
    assert f"policies from {policies} (policies.dir); the built-in policies are not in force" in shown
    assert "reads" in shown and "production" not in shown

    out = tmp_path / "exported"
    assert hd.run("templates", "export", str(out)).returncode == 0
    assert (out / "templates" / "slack" / "help.mustache").read_text() == '{"text": "our help"}'
    assert sorted(path.name for path in (out / "policies").iterdir()) == ["reads.yaml"]


def test_a_configured_folder_that_does_not_exist_stops_the_start(helpdesk, tmp_path):
    hd = helpdesk(f"store: {{path: state/hd.sqlite}}\ndiagnosis: {{runbooks_dir: {tmp_path / 'nowhere'}}}\n")
    checked = hd.run("config", "check")
    assert checked.returncode == 2
    assert "diagnosis.runbooks_dir: no such folder" in checked.stderr and str(tmp_path / "nowhere") in checked.stderr


def test_a_broken_override_template_fails_the_check_and_stops_the_start(helpdesk, tmp_path):
    slack = tmp_path / "slack"
    slack.mkdir()
    (slack / "help.mustache").write_text('{"text": "ok"}\n{{#broken}}\n')
    hd = helpdesk(f"store: {{path: state/hd.sqlite}}\nslack: {{templates_dir: {slack}}}\n")
    message = f"{slack}/help.mustache: not a valid Mustache template: line"

    checked = hd.run("config", "check")
    assert checked.returncode == 2 and message in checked.stderr, checked.stderr
    listed = hd.run("templates", "list")
    assert listed.returncode == 2 and message in listed.stderr, listed.stderr

    # Slack on, as in the incident this guards against: the start is refused, not Slack turned off.
    served = hd.run("serve", "--listen", "127.0.0.1:0", env={"SLACK_SIGNING_SECRET": "s" * 32})
    assert served.returncode == 2 and message in served.stderr, served.stderr
    assert not (tmp_path / "state" / "hd.sqlite").exists(), "refused before the store is opened"
