"""Store operations as an operator runs them: `helpdesk version`, `helpdesk migrate` with
store.migrate_on_start off, and `helpdesk backup` / `restore` against a server that keeps writing."""
import json
import re
import sqlite3
import threading
from contextlib import closing

from conftest import http

TOKEN = "token-ops-0123456789abcdef"


def config(tmp_path, extra=""):
    (tmp_path / "ops.token").write_text(TOKEN)
    return f"""
store:
  path: state/hd.sqlite
{extra}api:
  tokens:
    ops:
      token_file: {tmp_path / 'ops.token'}
"""


def audited_request(hd):
    """Each authenticated API request writes one audit event before it is answered."""
    status, _, _ = http("GET", hd.url("/v1/approvals"), headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200


def read_only(path):
    return closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True))


def test_version_says_what_the_binary_was_built_from(helpdesk):
    hd = helpdesk()
    result = hd.run("version", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert re.fullmatch(r"\d+\.\d+\.\d+", info["version"])
    assert info["commit"] == "unknown" or re.fullmatch(r"[0-9a-f]{7,64}(-dirty)?", info["commit"]), info
    assert re.fullmatch(r"[0-9a-f]{64}", info["content_sha256"]), info
    assert re.fullmatch(r"\d+\.\d+( or later)?", info["swift"]), info
    assert info["store_schema"] > 0
    lines = hd.run("version").stdout.splitlines()
    assert lines[0] == f"helpdesk {info['version']}"
    assert f"commit:       {info['commit']}" in lines
    assert f"content:      sha256 {info['content_sha256']}" in lines
    flag = hd.run("--version")
    assert flag.returncode == 0
    assert flag.stdout.strip() == f"{info['version']} (commit {info['commit'][:12]}, Swift {info['swift']})"


def test_with_migrate_on_start_off_the_server_waits_for_helpdesk_migrate(helpdesk, tmp_path):
    hd = helpdesk(config(tmp_path, "  migrate_on_start: false\n"))
    refused = hd.run("serve", "--listen", "127.0.0.1:0")
    assert refused.returncode == 1
    assert "has schema version 0" in refused.stderr and "store.migrate_on_start is false" in refused.stderr
    assert "run `helpdesk migrate`" in refused.stderr
    migrated = hd.run("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.startswith("migrated the store at state/hd.sqlite from schema 0 (empty) to "), migrated.stdout
    again = hd.run("migrate")
    assert again.returncode == 0 and "nothing to apply" in again.stdout
    hd.start()
    audited_request(hd)


def test_backup_of_a_running_server_is_consistent_and_restores_once_it_stops(helpdesk, tmp_path):
    hd = helpdesk(config(tmp_path))
    server = hd.start()
    for _ in range(20):
        audited_request(hd)

    # Backups while requests keep writing events: each is one consistent snapshot.
    stop = threading.Event()

    def keep_writing():
        while not stop.is_set():
            audited_request(hd)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        first = hd.run("backup", "first.sqlite")
        default = hd.run("backup")
    finally:
        stop.set()
        writer.join(timeout=20)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("ok: first.sqlite: ") and "integrity ok" in first.stdout
    assert default.returncode == 0, default.stderr
    assert re.match(r"ok: state/backups/hd-\d{8}T\d{6}Z\.sqlite: ", default.stdout), default.stdout
    backup = hd.folder / "first.sqlite"
    assert backup.stat().st_mode & 0o777 == 0o600
    with read_only(backup) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count, top = db.execute("SELECT count(*), max(seq) FROM audit_events").fetchone()
    assert count >= 20 and count == top

    again = hd.run("backup", "first.sqlite")
    assert again.returncode == 1 and "already exists" in again.stderr and "--force" in again.stderr
    assert hd.run("backup", "first.sqlite", "--force").returncode == 0
    with read_only(backup) as db:
        backed_up = db.execute("SELECT count(*) FROM audit_events").fetchone()[0]
    assert backed_up >= count

    # Restore replaces the whole store, so not under a running server.
    refused = hd.run("restore", "first.sqlite")
    assert refused.returncode == 1 and "is open in another process" in refused.stderr, refused.stderr

    server.terminate()
    assert server.wait(timeout=20) == 0
    restored = hd.run("restore", "first.sqlite")
    assert restored.returncode == 0, restored.stderr
    assert "integrity ok" in restored.stdout and "audit chain intact" in restored.stdout
    kept = re.search(r"kept the replaced store as (\S+)", restored.stdout)
    assert kept and (hd.folder / kept.group(1)).exists()
    verify = hd.run("audit", "verify")
    assert verify.returncode == 0, verify.stderr
    with closing(sqlite3.connect(hd.folder / "state" / "hd.sqlite")) as db:
        assert db.execute("SELECT count(*) FROM audit_events").fetchone()[0] == backed_up

    hd.start()
    audited_request(hd)
