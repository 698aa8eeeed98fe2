"""The release binary as a package, the image or the chart runs it: copied alone into an empty folder
and started there, with a configuration (elsewhere, through HELPDESK_CONFIG) that names no folders,
an empty HOME, none of the test's HELPDESK_/PG/XDG_ variables, and the source checkout hidden from it.
The shipped runbooks, templates and policy then come from the binary or nowhere: it must still diagnose
a real lock pile-up by name and render the approval page. Its state goes to ~/.local/state/helpdesk,
and nothing is read from or written to the working folder."""
import json
import os
import re
import shlex
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from browser import Browser
from conftest import REPO, Helpdesk, helpdesk_binary, http
from test_diagnose_postgres import lock_pileup  # noqa: F401 (a fixture)


def checkouts_to_hide() -> list[Path]:
    """This checkout, and the one the binary was built in when that is another."""
    folders = [REPO]
    for parent in Path(helpdesk_binary()).resolve().parents:
        if (parent / "Package.swift").exists() and parent != REPO:
            folders.append(parent)
            break
    return folders


def can_hide(folder: Path) -> bool:
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", 'mount -t tmpfs tmpfs "$0"', str(folder)],
                           capture_output=True, timeout=10)
    return probe.returncode == 0


class InstalledHelpdesk(Helpdesk):
    """`Helpdesk` with the binary copied to ROOT/app (also the working folder), the configuration in
    ROOT/etc, HOME at ROOT/home, and each run in a mount namespace where the checkouts are empty."""

    def __init__(self, root: Path, config: str):
        self.root = root
        self.folder = root / "app"
        self.folder.mkdir()
        shutil.copy2(helpdesk_binary(), self.folder / "helpdesk")
        for name in ("etc", "home"):
            (root / name).mkdir(exist_ok=True)
        self.config = root / "etc" / "helpdesk.yaml"
        self.config.write_text(config)
        self.environment = {"HOME": str(root / "home"), "HELPDESK_CONFIG": str(self.config)}
        self.binary = str(root / "hidden-checkout")
        hidden = [folder for folder in checkouts_to_hide() if can_hide(folder)]
        if os.environ.get("CI"):
            assert len(hidden) == len(checkouts_to_hide()), "CI runs as root: the checkout must be hidden from the binary"
        run = f'exec {shlex.quote(str(self.folder / "helpdesk"))} "$@"'
        mounts = "".join(f"mount -t tmpfs -o ro tmpfs {shlex.quote(str(folder))} && " for folder in hidden)
        if hidden:  # unshare and sh exec in turn, so the server's pid is the wrapper's and signals reach it
            run = f'exec unshare --mount sh -c {shlex.quote(mounts + run)} sh "$@"'
        Path(self.binary).write_text(f"#!/bin/sh\n{run}\n")
        os.chmod(self.binary, 0o755)
        self.servers = []
        self.port = None

    def run(self, *args: str, env: dict | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
        return super().run(*args, env={**self.environment, **(env or {})}, timeout=timeout)

    def start(self, *extra: str, env: dict | None = None, wait: bool = True, port: int | None = None) -> subprocess.Popen:
        return super().start(*extra, env={**self.environment, **(env or {})}, wait=wait, port=port)


@pytest.fixture
def installed(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith(("HELPDESK_", "PG", "XDG_")) and key not in ("HELPDESK_BIN", "HELPDESK_PACKAGE"):  # the tests' own
            monkeypatch.delenv(key)
    instances = []

    def make(config: str) -> InstalledHelpdesk:
        instance = InstalledHelpdesk(tmp_path, config)
        instances.append(instance)
        return instance

    yield make
    for instance in instances:
        instance.stop_all()


def test_the_binary_names_no_folder_of_the_checkout_and_no_resource_bundle():
    data = Path(helpdesk_binary()).read_bytes()
    for checkout in checkouts_to_hide():
        for folder in ("templates", "runbooks", "policies"):
            assert f"{checkout}/{folder}".encode() not in data, f"the binary reads {checkout}/{folder}"
    # SwiftPM's Bundle.module falls back to the bundle's path in the build folder: not there once installed.
    assert not re.search(rb"helpdesk_\w+\.resources", data), "shipped content must be compiled in, not a bundle beside the binary"


def test_version_names_the_release_and_the_swift_it_was_built_with(installed):
    hd = installed("")
    result = hd.run("version")
    assert result.returncode == 0, result.stdout + result.stderr
    release = hd.run("--version").stdout.split()[0]
    assert release in result.stdout and re.search(r"swift", result.stdout, re.IGNORECASE), result.stdout


def test_diagnoses_a_lock_pileup_by_name_with_the_shipped_runbooks_and_policy(installed, postgres, tmp_path, lock_pileup):  # noqa: F811
    holder_pid, _, _ = lock_pileup
    hd = installed(f"""
infrastructure:
  db_servers:
    prod-db:
      connection_string: "host=127.0.0.1 port={postgres.port} dbname=postgres user=postgres sslmode=disable"
      tags: [production]
""")
    passfile = tmp_path / "etc" / "pgpass"
    passfile.write_text(f"127.0.0.1:{postgres.port}:*:postgres:{postgres.password}\n")
    passfile.chmod(0o600)
    result = hd.run("diagnose", "prod-db", "--symptom", "payments are stuck", "--json", env={"PGPASSFILE": str(passfile)})
    assert result.returncode == 1, result.stdout + result.stderr
    diagnosis = json.loads(result.stdout)
    assert diagnosis["runbooks"] == ["postgres-locks"], "the shipped runbook matched the symptom"
    assert all(tool["error"] is None for tool in diagnosis["tools"]), "the shipped policy allows reads: " + str(diagnosis["tools"])
    critical = [f for f in diagnosis["findings"] if f["severity"] == "critical"]
    assert [f["rule"] for f in critical] == ["idle-transaction-blocking"], diagnosis["findings"]
    assert f'PID {holder_pid} (postgres, application "billing-worker")' in critical[0]["summary"]
    assert diagnosis["recommended_actions"][0]["call"] == {"tool": "terminate_backend", "target": "prod-db", "arguments": {"pid": holder_pid}}
    state = hd.root / "home" / ".local" / "state" / "helpdesk"
    assert Path(diagnosis["bundle_path"]).resolve().is_relative_to(state.resolve()), "state goes to the XDG state home"
    assert [p.name for p in hd.folder.iterdir()] == ["helpdesk"], "nothing is written to the working folder"


def test_reads_no_configuration_from_the_working_folder_and_keeps_its_state_private(installed):
    hd = installed("")
    # Were it read, this would be refused: the working folder is not where a configuration comes from.
    (hd.folder / "helpdesk.yaml").write_text("server: {listen: not-an-address}\n")
    store = hd.root / "home" / ".local" / "state" / "helpdesk" / "helpdesk.sqlite"
    check = hd.run("config", "check", env={"HELPDESK_CONFIG": ""})
    assert check.returncode == 0, check.stderr
    assert f"store {store}," in check.stdout, check.stdout
    listed = hd.run("jobs", "list", env={"HELPDESK_CONFIG": ""})
    assert listed.returncode == 0, listed.stderr
    assert store.stat().st_mode & 0o777 == 0o600 and store.parent.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in hd.folder.iterdir()) == ["helpdesk", "helpdesk.yaml"]
    # With the file in the user's configuration folder, it is read.
    user = hd.root / "home" / ".config" / "helpdesk"
    user.mkdir(parents=True)
    (user / "helpdesk.yaml").write_text("server: {listen: 127.0.0.1:9123}\n")
    found = hd.run("config", "check", env={"HELPDESK_CONFIG": ""})
    assert found.returncode == 0 and found.stdout.startswith(f"ok: {user / 'helpdesk.yaml'} — listen 127.0.0.1:9123"), found.stdout


def test_the_approval_page_renders_from_the_shipped_templates(installed, tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "token").write_text("token-bob-0123456789")
    (tmp_path / "etc" / "link-key").write_text("approval-link-key-0123456789")
    hd = installed(f"""
server: {{public_base_url: "http://127.0.0.1:1"}}
approvals: {{link_key_file: {tmp_path / 'etc' / 'link-key'}}}
infrastructure: {{k8s_clusters: {{staging: {{context: nowhere}}}}}}
users: {{alice: {{roles: [sre]}}}}
api: {{tokens: {{bob: {{token_file: {tmp_path / 'etc' / 'token'}}}}}}}
""")
    hd.start()
    # The shipped policy wants one approval for a write off production.
    status, _, body = http("POST", hd.url("/api/v1/k8s/rollout_restart"),
                           body=json.dumps({"target": "staging", "arguments": {"namespace": "orders", "name": "api"}}).encode(),
                           headers={"Authorization": "Bearer token-bob-0123456789", "Content-Type": "application/json"})
    assert status == 202, body
    approval_id = json.loads(body)["approval"]["id"]
    link = hd.run("approvals", "link", approval_id, "--for", "alice")
    assert link.returncode == 0, link.stderr
    parsed = urllib.parse.urlparse(link.stdout.strip())

    browser = Browser()
    try:
        browser.open(hd.url(f"{parsed.path}?{parsed.query}"))
        browser.screenshot(tmp_path / "approval-page.png")
        text = browser.evaluate("document.body.innerText") or ""
        assert "Approve as alice" in text and "rollout_restart" in text, f"the page rendered: {text!r}"
        browser.click("button.approve")
        text = browser.evaluate("document.body.innerText") or ""
        assert f"{approval_id} approved" in text and "alice: approve" in text, f"the result page rendered: {text!r}"
    finally:
        browser.close()
    record = json.loads(hd.run("approvals", "show", approval_id).stdout)
    assert record["status"] == "approved"
