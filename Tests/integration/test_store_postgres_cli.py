"""The PostgreSQL store from the command line: `helpdesk migrate` run twice at once on a fresh
database migrates it once, `helpdesk version` names the schema that leaves, and a store URL with a
wrong password is refused with PostgreSQL's reason and without the password."""
import json
import os
import re
import subprocess
import time
import urllib.parse
import uuid

import pytest

from conftest import http

TABLES = ["jobs", "job_runs", "incidents", "audit_events", "approvals", "approval_votes", "slack_outbox", "slack_threads",
          "executions", "alerts", "alert_groups", "storms", "storm_groups", "storm_candidates"]


@pytest.fixture
def database(postgres):
    """A fresh, empty database on the shared PostgreSQL 15 (which fails the test, never skips it, when it cannot start)."""
    name = postgres.create_database(f"hd_cli_{uuid.uuid4().hex[:10]}")
    yield name
    postgres.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def store_env(postgres, database, password=None):
    """The CLI's store by HELPDESK_STORE_URL; the password by PGPASSWORD unless the URL carries one."""
    if password is None:
        return {"HELPDESK_STORE_URL": postgres.url(database), "PGPASSWORD": postgres.password}
    return {"HELPDESK_STORE_URL": postgres.url(database, password=password), "PGPASSWORD": "", "PGPASSFILE": "/nonexistent"}


def test_two_migrates_at_once_migrate_a_fresh_database_once(helpdesk, postgres, database):
    hd = helpdesk()  # no store in the file: the environment names it
    env = {**os.environ, **hd.environment, **store_env(postgres, database)}
    runs = [subprocess.Popen([hd.binary, "migrate"], cwd=hd.folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(2)]
    outputs = [run.communicate(timeout=60) for run in runs]
    report = "\n".join(f"exit {run.returncode}:\n{out}{err}" for run, (out, err) in zip(runs, outputs))
    assert [run.returncode for run in runs] == [0, 0], report
    assert sum("nothing to apply" in out for out, _ in outputs) == 1, \
        f"one migrate applies the schema, the other waits for it and finds nothing left to do:\n{report}"
    assert postgres.password not in report

    applied = [row["identifier"] for row in postgres.rows("SELECT identifier FROM helpdesk_migrations", database)]
    assert applied and len(applied) == len(set(applied))
    missing = [table for table in TABLES if postgres.value(f"SELECT to_regclass('public.{table}') IS NOT NULL", database) != "t"]
    assert not missing, f"tables the migrations did not create: {missing}"

    # `version` names the schema this binary migrates to: the one now in the database.
    version = hd.run("version", "--json")
    assert version.returncode == 0, version.stderr
    assert json.loads(version.stdout)["store_schema"] == len(applied), (version.stdout, applied)
    named = re.search(r"^store schema: +(\d+) \((\S+)\)$", hd.run("version").stdout, re.M)
    assert named and int(named.group(1)) == len(applied) and named.group(2) in applied, hd.run("version").stdout

    again = hd.run("migrate", env=store_env(postgres, database))
    assert again.returncode == 0 and "nothing to apply" in again.stdout, again.stdout + again.stderr
    assert [row["identifier"] for row in postgres.rows("SELECT identifier FROM helpdesk_migrations", database)] == applied

    # The migrated database is the store the commands use.
    enqueued = hd.run("jobs", "selftest", "--count", "3", env=store_env(postgres, database))
    assert enqueued.returncode == 0, enqueued.stderr
    listed = hd.run("jobs", "list", "--json", env=store_env(postgres, database))
    assert listed.returncode == 0, listed.stderr
    assert sorted(json.loads(line)["id"] for line in listed.stdout.splitlines()) == \
        sorted(row["id"] for row in postgres.rows("SELECT id FROM jobs", database)) != []


def test_a_wrong_password_in_the_store_url_is_refused_without_showing_it(helpdesk, postgres, database):
    hd = helpdesk()
    secret = "Wr0ng-pw-7731-not-this"
    env = store_env(postgres, database, password=secret)
    shown = [secret, urllib.parse.quote(secret, safe="")]
    for command in (["migrate"], ["jobs", "list"], ["audit", "verify"]):
        started = time.monotonic()
        result = hd.run(*command, env=env)
        elapsed = time.monotonic() - started
        output = result.stdout + result.stderr
        name = f"`helpdesk {' '.join(command)}`"
        assert result.returncode != 0, f"{name} with a wrong password exited 0:\n{output}"
        # Said in the command's own error (its last word), not only in a log line on the way: a refused
        # password is not an outage, so it is reported at once rather than retried until a timeout.
        errors = [line for line in result.stderr.splitlines() if line.startswith("helpdesk: ")]
        assert errors and "password authentication failed" in errors[-1], f"{name} does not say why:\n{output}"
        assert elapsed < 5, f"{name} took {elapsed:.1f}s to give up on a refused password:\n{output}"
        assert not [text for text in shown if text in output], f"{name} shows the password:\n{output}"

    # The server either stops with the reason or stays up and not ready; either way it never shows the password.
    server = hd.start(env=env, wait=False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.poll() is None:
        time.sleep(0.2)
    if server.poll() is None:
        try:
            status, _, body = http("GET", hd.url("/readyz"), timeout=10)
        except OSError as error:  # not listening yet: not ready either
            status, body = None, repr(error)
        assert status != 200, body
        server.kill()
        server.wait(timeout=10)
    else:
        assert server.returncode != 0
    log = hd.log(server)
    assert "password authentication failed" in log, log[-3000:]
    assert not [text for text in shown if text in log], log[-3000:]
