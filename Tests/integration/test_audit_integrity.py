"""The audit log against someone who can write the store file but holds no audit key: events deleted
from the end are reported against the server's signed checkpoint, and a chain re-hashed with plain
SHA-256 no longer verifies."""
import hashlib
import json
import shutil
import sqlite3
from contextlib import closing

from conftest import http

KEY = "integration-audit-key-0123456789abcdef"
TOKEN = "token-ops-0123456789abcdef"
ENV = {"HELPDESK_AUDIT_KEY": KEY}


def make_events(hd, count):
    """Each authenticated API request is audited as it arrives."""
    for _ in range(count):
        status, _, _ = http("GET", hd.url("/v1/approvals"), headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200


def canonical_v1(row, prev_hash):
    """The unkeyed event encoding: sorted-key JSON, as the store writes it without a key."""
    fields = {"seq": row["seq"], "id": row["id"], "at_us": str(row["at_us"]), "kind": row["kind"],
              "principal": row["principal"], "target": row["target"], "data": row["data"], "prev_hash": prev_hash}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sql(path, statement):
    """Runs one statement and closes the connection, so nothing is left in the WAL."""
    with closing(sqlite3.connect(path)) as db, db:
        return db.execute(statement).fetchall()


def restore(pristine, store):
    for suffix in ("-wal", "-shm"):
        store.with_name(store.name + suffix).unlink(missing_ok=True)
    shutil.copy(pristine, store)


def rehash_with_sha256(path, drop_key_ids):
    """What a writer without the key can do: recompute every hash as plain SHA-256."""
    with closing(sqlite3.connect(path)) as db, db:
        db.row_factory = sqlite3.Row
        if drop_key_ids:
            db.execute("UPDATE audit_events SET key_id = NULL")
        previous = "0" * 64
        for row in db.execute("SELECT * FROM audit_events ORDER BY seq").fetchall():
            digest = hashlib.sha256(canonical_v1(row, previous).encode()).hexdigest()
            db.execute("UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?", (previous, digest, row["seq"]))
            previous = digest


def test_a_deleted_last_event_and_a_rehashed_chain_are_found(helpdesk, tmp_path):
    (tmp_path / "ops.token").write_text(TOKEN)
    hd = helpdesk(f"""
store:
  path: state/hd.sqlite
api:
  tokens:
    ops:
      token_file: {tmp_path / 'ops.token'}
audit:
  checkpoint_every: 5
""")
    store = hd.folder / "state" / "hd.sqlite"
    checkpoint_file = hd.folder / "state" / "hd.sqlite.audit-checkpoint"
    server = hd.start(env=ENV)
    make_events(hd, 12)
    server.terminate()  # SIGTERM: a graceful stop, which writes the last checkpoint
    assert server.wait(timeout=20) == 0
    log = hd.log(server)
    assert "not keyed" not in log and KEY not in log
    logged = [line for line in log.splitlines() if "audit checkpoint seq=" in line]
    assert logged and "seq=12 " in logged[-1] and " mac=" in logged[-1], log
    saved = checkpoint_file.read_text()
    assert saved.startswith("audit checkpoint seq=12 ") and " key_id=k1 " in saved
    assert saved.strip() in logged[-1], "the file and the log line carry the same checkpoint"
    assert {row[0] for row in sql(store, "SELECT key_id FROM audit_events")} == {"k1"}

    intact = hd.run("audit", "verify", env=ENV)
    assert intact.returncode == 0, intact.stderr
    assert "ok: 12 events, chain intact (12 sealed with an audit key" in intact.stdout
    export = hd.run("audit", "export", env=ENV).stdout.splitlines()
    assert len(export) == 13 and json.loads(export[-1])["checkpoint"]["seq"] == 12
    pristine = tmp_path / "pristine.sqlite"
    shutil.copy(store, pristine)

    # The last event deleted: the chain alone still holds, the checkpoint shows the gap.
    sql(store, "DELETE FROM audit_events WHERE seq = 12")
    at = saved.split(" at=")[1].split(" ")[0]
    truncated = hd.run("audit", "verify", env=ENV)
    assert truncated.returncode == 1
    assert f"the log ends at seq 11 but a checkpoint of {at} saw seq 12: 1 event is missing" in truncated.stderr
    from_export = hd.run("audit", "verify", "--checkpoint", export[-1], env=ENV)
    assert from_export.returncode == 1 and "saw seq 12: 1 event is missing" in from_export.stderr

    # A checkpoint edited to match the shorter log does not verify.
    (tmp_path / "forged").write_text(saved.replace("seq=12 ", "seq=11 "))
    forged = hd.run("audit", "verify", "--checkpoint", str(tmp_path / "forged"), env=ENV)
    assert forged.returncode == 1 and "its MAC is wrong" in forged.stderr

    # The server started on the shortened log says so, keeps the evidence, and /v1/verify reports it
    # (its own audited request fills seq 12 again, with another hash).
    server = hd.start(env=ENV)
    status, _, body = http("GET", hd.url("/v1/verify"), headers={"Authorization": f"Bearer {TOKEN}"})
    report = json.loads(body)
    assert status == 409 and report["ok"] is False and report["checkpoint"]["status"] == "rewritten", report
    server.terminate()
    server.wait(timeout=20)
    assert "audit checkpoints paused: the log ends at seq 11" in hd.log(server)
    assert checkpoint_file.read_text() == saved

    # Re-hashed with plain SHA-256, key ids kept: broken at the first event.
    restore(pristine, store)
    rehash_with_sha256(store, drop_key_ids=False)
    rehashed = hd.run("audit", "verify", env=ENV)
    assert rehashed.returncode == 1
    assert "chain broken at event 1 " in rehashed.stderr and "re-hashed without the key" in rehashed.stderr

    # Re-hashed and passed off as never keyed: the chain holds, the signed checkpoint does not match.
    restore(pristine, store)
    rehash_with_sha256(store, drop_key_ids=True)
    downgraded = hd.run("audit", "verify", env=ENV)
    assert downgraded.returncode == 1 and "chain broken" not in downgraded.stderr
    assert "event 12 no longer has the hash the checkpoint" in downgraded.stderr


def test_without_a_key_the_server_says_the_log_is_unkeyed(helpdesk):
    hd = helpdesk("store:\n  path: state/hd.sqlite\n")
    server = hd.start()
    server.terminate()
    assert server.wait(timeout=20) == 0
    assert hd.log(server).count("the audit log is not keyed") == 1
    verify = hd.run("audit", "verify")
    assert verify.returncode == 0 and "no audit key is configured" in verify.stderr
