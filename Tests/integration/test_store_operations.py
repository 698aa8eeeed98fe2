"""Store operations as an operator runs them: `helpdesk version`, `helpdesk migrate` (the only command
besides `serve` that changes the schema) with store.migrate_on_start off, `helpdesk backup` / `restore`
against a server that keeps writing, and restores of backups someone without the audit key tampered with."""
import hashlib
import json
import os
import re
import shutil
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


# The first shipped migration as it was released (shipped migrations never change): a store written
# then is as far behind this binary as a store gets.
V1_JOB_QUEUE = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    dedup_key TEXT UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at REAL NOT NULL,
    lease_owner TEXT,
    lease_token INTEGER,
    lease_expires_at REAL,
    last_error TEXT,
    result TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX jobs_due ON jobs(run_at) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs(lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_state ON jobs(state, id);
CREATE TABLE job_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    worker TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    outcome TEXT CHECK (outcome IN ('done', 'failed', 'abandoned', 'released')),
    error TEXT
);
CREATE INDEX job_runs_job ON job_runs(job_id);
CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
INSERT INTO grdb_migrations VALUES ('v1-job-queue');
INSERT INTO jobs (kind, payload, state, max_attempts, run_at, created_at, updated_at, finished_at)
    VALUES ('selftest', '{}', 'done', 8, 0, 0, 0, 0);
"""


def old_store(path):
    """A store at schema 1 holding one finished job."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as db:
        db.executescript(V1_JOB_QUEUE)
    return path


def applied_migrations(path):
    with read_only(path) as db:
        return [row[0] for row in db.execute("SELECT identifier FROM grdb_migrations ORDER BY rowid")]


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
    assert refused.returncode == 2
    assert "has schema version 0" in refused.stderr and "store.migrate_on_start is false" in refused.stderr
    assert "run `helpdesk migrate`" in refused.stderr
    migrated = hd.run("migrate")
    assert migrated.returncode == 0, migrated.stderr
    announced, done = migrated.stdout.splitlines()
    assert announced.startswith("migrating the store at state/hd.sqlite from schema 0 (empty) to "), migrated.stdout
    assert done.startswith("migrated the store at state/hd.sqlite from schema 0 (empty) to "), migrated.stdout
    again = hd.run("migrate")
    assert again.returncode == 0 and again.stdout.startswith("the store at state/hd.sqlite is at schema ")
    assert "nothing to apply" in again.stdout and "migrating" not in again.stdout
    hd.start()
    audited_request(hd)


def test_commands_refuse_an_older_store_until_helpdesk_migrate(helpdesk, tmp_path):
    hd = helpdesk(config(tmp_path))
    store = old_store(hd.folder / "state" / "hd.sqlite")
    for command in (["jobs", "list"], ["alerts", "list"], ["approvals", "list"]):
        refused = hd.run(*command)
        assert refused.returncode == 2, f"{command}: {refused.stdout}{refused.stderr}"
        assert "has schema version 1 and this helpdesk needs" in refused.stderr, refused.stderr
        assert "run `helpdesk migrate`" in refused.stderr
    assert applied_migrations(store) == ["v1-job-queue"], "only helpdesk migrate and serve change the schema"

    migrated = hd.run("migrate")
    assert migrated.returncode == 0, migrated.stderr
    announced, done = migrated.stdout.splitlines()
    assert announced.startswith("migrating the store at state/hd.sqlite from schema 1 (v1-job-queue) to ") and announced.endswith("…")
    assert done.startswith("migrated the store at state/hd.sqlite from schema 1 (v1-job-queue) to "), done
    listed = hd.run("jobs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["kind"] for line in listed.stdout.splitlines()] == ["selftest"], "the old store's rows are kept"


def test_serve_says_it_is_migrating_before_it_starts(helpdesk, tmp_path):
    hd = helpdesk(config(tmp_path))
    old_store(hd.folder / "state" / "hd.sqlite")
    server = hd.start()
    log = hd.log(server)
    announced = log.index("migrating the store from 1 (v1-job-queue) to ")
    assert "(this may take a while)" in log[announced:]
    assert announced < log.index("migrated the store at state/hd.sqlite from schema 1 (v1-job-queue)"), log
    audited_request(hd)


def test_migrate_is_refused_while_serve_runs(helpdesk, tmp_path):
    hd = helpdesk(config(tmp_path))
    server = hd.start()
    refused = hd.run("migrate")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "is open in another process (is `helpdesk serve` running?)" in refused.stderr, refused.stderr
    assert "run `helpdesk migrate` again" in refused.stderr and "migrating" not in refused.stdout
    audited_request(hd)  # the server never noticed
    server.terminate()
    assert server.wait(timeout=20) == 0
    again = hd.run("migrate")
    assert again.returncode == 0 and "nothing to apply" in again.stdout, again.stdout + again.stderr


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
    assert re.match(r"ok: state/backups/hd-manual-\d{8}T\d{6}Z(-\d+)?\.sqlite: ", default.stdout), default.stdout
    assert "manifest: first.sqlite.manifest.json" in first.stdout and "a checksum only" in first.stdout
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

    # The live database is never a destination, not even with --force (it was replaced under the server).
    store = hd.folder / "state" / "hd.sqlite"
    inode = store.stat().st_ino
    for live in ("state/hd.sqlite", "state/hd.sqlite-wal", "state/./hd.sqlite", "state/hd.sqlite.audit-checkpoint"):
        over = hd.run("backup", live, "--force")
        assert over.returncode == 1 and "is the live store's file" in over.stderr, over.stderr
    assert store.stat().st_ino == inode

    # Restore replaces the whole store, so not under a running server.
    refused = hd.run("restore", "first.sqlite")
    assert refused.returncode == 1 and "is open in another process" in refused.stderr, refused.stderr
    audited_request(hd)

    server.terminate()
    assert server.wait(timeout=20) == 0
    # The server's last checkpoint saw the request after the backup: restoring it drops that event.
    rewinds = hd.run("restore", "first.sqlite")
    assert rewinds.returncode == 1 and "would rewind the audit log" in rewinds.stderr and "--allow-rewind" in rewinds.stderr
    restored = hd.run("restore", "first.sqlite", "--allow-rewind", "--as", "ops-alice")
    assert restored.returncode == 0, restored.stderr
    assert "integrity ok" in restored.stdout and "audit chain intact" in restored.stdout
    assert "checksum matches (no audit key is configured: integrity, not authenticity)" in restored.stdout
    assert "the audit log was rewound" in restored.stderr
    kept = re.search(r"kept the replaced store as (\S+) \((\d+) bytes; not pruned", restored.stdout)
    assert kept and (hd.folder / kept.group(1)).stat().st_size == int(kept.group(2))
    verify = hd.run("audit", "verify")
    assert verify.returncode == 0, verify.stderr
    with closing(sqlite3.connect(hd.folder / "state" / "hd.sqlite")) as db:
        assert db.execute("SELECT count(*) FROM audit_events").fetchone()[0] == backed_up + 1
        kind, principal, data = db.execute("SELECT kind, principal, data FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    assert (kind, principal) == ("store_restored", "ops-alice")
    assert json.loads(data)["authenticity"] == "checksum"

    hd.start()
    audited_request(hd)


KEY = "integration-backup-audit-key-0123456789"
KEYED = {"HELPDESK_AUDIT_KEY": KEY}


def forge_manifest(backup):
    """What someone without the key can write: a manifest whose "MAC" is a plain checksum."""
    manifest = json.loads((backup.parent / (backup.name + ".manifest.json")).read_text())
    data = backup.read_bytes()
    with read_only(backup) as db:
        seq, head = db.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    manifest.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data), audit_head_seq=seq, audit_head_hash=head,
                    key_id="none")
    sealed = "".join(f"{manifest[k]}\n" for k in ("format", "sha256", "bytes", "schema_version", "schema_migration",
                                                  "audit_head_seq", "audit_head_hash", "created_at", "key_id"))
    manifest["mac"] = hashlib.sha256(sealed.encode()).hexdigest()
    (backup.parent / (backup.name + ".manifest.json")).write_text(json.dumps(manifest))


def tampered(hd, name, statement):
    """A copy of good.sqlite changed by `statement`, with the manifest re-written to match."""
    path = hd.folder / name
    shutil.copy(hd.folder / "good.sqlite", path)
    shutil.copy(hd.folder / "good.sqlite.manifest.json", hd.folder / (name + ".manifest.json"))
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(statement)
    forge_manifest(path)
    return name


def test_restore_refuses_tampered_backups_and_takes_an_unsigned_one_only_when_asked(helpdesk, tmp_path):
    hd = helpdesk(config(tmp_path))
    server = hd.start(env=KEYED)
    for _ in range(8):
        audited_request(hd)
    server.terminate()
    assert server.wait(timeout=20) == 0

    good = hd.run("backup", "good.sqlite", env=KEYED)
    assert good.returncode == 0, good.stderr
    assert "signed with audit key k1" in good.stdout and KEY not in good.stdout + good.stderr
    manifest = json.loads((hd.folder / "good.sqlite.manifest.json").read_text())
    assert manifest["key_id"] == "k1" and manifest["sha256"] == hashlib.sha256((hd.folder / "good.sqlite").read_bytes()).hexdigest()
    store = hd.folder / "state" / "hd.sqlite"
    before = store.read_bytes()

    # Truncated, with a manifest forged to match: not signed with the key, so refused; --unsigned
    # then runs into the checkpoint the server wrote at shutdown.
    truncated = tampered(hd, "truncated.sqlite", "DELETE FROM audit_events WHERE seq > 3;")
    forged = hd.run("restore", truncated, env=KEYED)
    assert forged.returncode == 1 and "is not signed (key_id=none) although an audit key is configured" in forged.stderr
    unsigned = hd.run("restore", truncated, "--unsigned", env=KEYED)
    assert unsigned.returncode == 1 and "would rewind the audit log" in unsigned.stderr, unsigned.stderr

    # A trigger that would delete every earlier event on each insert.
    trigger = tampered(hd, "trigger.sqlite", """
        CREATE TRIGGER wipe AFTER INSERT ON audit_events BEGIN DELETE FROM audit_events WHERE seq < NEW.seq; END;
    """)
    for extra in ((), ("--unsigned", "--allow-rewind")):
        refused = hd.run("restore", trigger, *extra, env=KEYED)
        assert refused.returncode == 1, refused.stdout
    assert 'trigger "wipe" is not made by any migration' in refused.stderr, refused.stderr
    assert store.read_bytes() == before, "nothing was restored"

    # A backup from before manifests: refused, then restored with --unsigned, loudly and on the record.
    shutil.copy(hd.folder / "good.sqlite", hd.folder / "old.sqlite")
    missing = hd.run("restore", "old.sqlite", env=KEYED)
    assert missing.returncode == 1 and "has no manifest" in missing.stderr and "--unsigned" in missing.stderr
    restored = hd.run("restore", "old.sqlite", "--unsigned", env={**KEYED, "USER": "ops-bob"})
    assert restored.returncode == 0, restored.stderr
    assert "warning: restoring old.sqlite unsigned: it has no manifest" in restored.stderr
    with closing(sqlite3.connect(store)) as db:
        kind, principal, key_id, data = db.execute(
            "SELECT kind, principal, key_id, data FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    assert (kind, principal, key_id) == ("store_restored", "ops-bob", "k1")
    assert json.loads(data)["authenticity"] == "unsigned"
    verify = hd.run("audit", "verify", env=KEYED)
    assert verify.returncode == 0, verify.stderr
    assert not [name for name in os.listdir(hd.folder / "state") if ".tmp-" in name], "no private copy is left"

