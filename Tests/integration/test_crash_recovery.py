"""A server killed with SIGKILL mid-work loses no job and completes none twice; one killed
right after answering 200 loses no request it acknowledged."""
import contextlib
import json
import os
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPException

import pytest

from conftest import REPO
from slack_peer import SIGNING_SECRET, Recorder, SlackClient, click

CONFIG = """
store:
  path: state/helpdesk.sqlite
jobs:
  concurrency: 4
  lease: 2s
  poll_interval: 50ms
"""

JOBS = 40


def runs_by_job(database):
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT job_id, outcome FROM job_runs ORDER BY id").fetchall()
    result = {}
    for job_id, outcome in rows:
        result.setdefault(job_id, []).append(outcome)
    return result


def test_kill_9_mid_work_then_restart_completes_every_job_exactly_once(helpdesk):
    hd = helpdesk(CONFIG)
    enqueued = hd.run("jobs", "selftest", "--count", str(JOBS), "--sleep-ms", "300")
    assert enqueued.returncode == 0, enqueued.stderr

    first = hd.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        states = [job["state"] for job in hd.jobs()]
        if states.count("done") >= 8 and states.count("running") >= 1:
            break
        time.sleep(0.05)
    first.kill()  # SIGKILL: no chance to release leases
    first.wait(timeout=10)

    at_kill = hd.jobs()
    in_flight = {job["id"] for job in at_kill if job["state"] == "running"}
    done_before = {job["id"] for job in at_kill if job["state"] == "done"}
    assert in_flight, "the kill should have caught jobs mid-work"
    assert 0 < len(done_before) < JOBS

    hd.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(job["state"] == "done" for job in hd.jobs()):
            break
        time.sleep(0.1)
    final = hd.jobs()
    assert len(final) == JOBS
    assert all(job["state"] == "done" for job in final), [j for j in final if j["state"] != "done"]

    runs = runs_by_job(hd.folder / "state" / "helpdesk.sqlite")
    assert set(runs) == {job["id"] for job in final}
    for job_id, outcomes in runs.items():
        assert outcomes.count("done") == 1, f"job {job_id} completed {outcomes.count('done')} times: {outcomes}"
        if job_id in in_flight:
            # The killed worker's run is closed as abandoned when the lease is taken over.
            assert outcomes == ["abandoned", "done"], (job_id, outcomes)
        else:
            assert outcomes == ["done"], (job_id, outcomes)
    # Jobs finished before the kill were not run again.
    for job_id in done_before:
        assert runs[job_id] == ["done"]


RECLAIM_CONFIG = """
store:
  path: state/helpdesk.sqlite
jobs:
  concurrency: 2
  lease: 60s
  poll_interval: 50ms
"""


def run_started_at(database, job_id):
    with sqlite3.connect(database) as db:
        return [row[0] for row in db.execute(
            "SELECT started_at FROM job_runs WHERE job_id = ? ORDER BY id", (job_id,))]


def test_kill_9_then_restart_takes_the_dead_servers_leases_back_at_once(helpdesk):
    # Leases last a minute: only taking them back at start can resume the work within seconds.
    hd = helpdesk(RECLAIM_CONFIG)
    enqueued = hd.run("jobs", "selftest", "--count", "2", "--sleep-ms", "1500")
    assert enqueued.returncode == 0, enqueued.stderr
    database = hd.folder / "state" / "helpdesk.sqlite"

    first = hd.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        running = [job for job in hd.jobs() if job["state"] == "running"]
        if running:
            break
        time.sleep(0.05)
    first.kill()
    first.wait(timeout=10)
    abandoned = sorted(job["id"] for job in hd.jobs() if job["state"] == "running")
    assert abandoned, "the kill should have caught a job mid-work"
    dead_owner = next(job["leaseOwner"] for job in hd.jobs() if job["id"] == abandoned[0])
    assert dead_owner.split(":")[1] == str(first.pid)

    second = hd.start()
    ready_at = time.time()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and len(run_started_at(database, abandoned[0])) < 2:
        time.sleep(0.05)
    started = run_started_at(database, abandoned[0])
    assert len(started) == 2, f"job {abandoned[0]} was not leased again within 3 s of /readyz:\n{hd.log(second)}"
    assert started[1] - ready_at < 3

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(job["state"] == "done" for job in hd.jobs()):
        time.sleep(0.1)
    final = {job["id"]: job for job in hd.jobs()}
    assert all(job["state"] == "done" for job in final.values()), final
    with sqlite3.connect(database) as db:
        for job_id in abandoned:
            runs = db.execute("SELECT outcome, error, worker FROM job_runs WHERE job_id = ? ORDER BY id", (job_id,)).fetchall()
            assert [outcome for outcome, _, _ in runs] == ["abandoned", "done"], (job_id, runs)
            host, pid = dead_owner.split(":")[:2]
            assert runs[0][1] == f"the process holding the lease ({host}:{pid}) is gone"
            assert runs[1][2].split(":")[1] == str(second.pid)
    assert "took back job leases of stopped processes" in hd.log(second)


SLACK_CONFIG = f"""
store:
  path: state/helpdesk.sqlite
slack:
  templates_dir: {REPO}/templates/slack
users:
  carol: {{roles: [dba], slack_user_id: U0CAROL}}
jobs: {{poll_interval: 50ms}}
"""

BURST = 60  # distinct signed requests, sent 12 at a time
KILL_AT = 40  # the 200 that triggers the SIGKILL: a third of the burst is still in flight or unsent


def send_command(slack, number):
    """A signed slash command; returns (status, its response_url, the text its audit entry records)."""
    text = f"diagnose burst-{number} acknowledged request {number}"
    status, body, _, response_url = slack.command(text)
    if status == 200:
        assert body["text"].startswith("Working on it"), body  # not "Already working on that": each is its own job
    return status, response_url, text


def send_click(slack, number):
    """A signed button click (a deny on an approval that does not exist: the job answers it, the route only records it)."""
    value = f"apr_burst_{number}"
    status, response_url = click(slack, "deny", value, "U0CAROL")
    return status, response_url, value


SENDERS = {"commands": send_command, "interactions": send_click}
JOB_KIND = {"commands": "slack.command", "interactions": "slack.interaction"}


def read_only(database):
    return contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True))


def stored_requests(database, endpoint):
    """What the store holds for the route: {response_url: job count}, {audit key: entry count}."""
    with read_only(database) as db:
        jobs = db.execute("SELECT payload FROM jobs WHERE kind = ?", (JOB_KIND[endpoint],)).fetchall()
        audit = db.execute("SELECT target, data FROM audit_events WHERE kind = 'request_received'").fetchall()
    job_counts, audit_counts = {}, {}
    for (payload,) in jobs:
        url = json.loads(payload)["response_url"]
        job_counts[url] = job_counts.get(url, 0) + 1
    for target, data in audit:
        data = json.loads(data)
        key = data.get("text") if endpoint == "commands" and data.get("via") == "slack" else \
            target if endpoint == "interactions" and data.get("via") == "slack-button" else None
        if key is not None:
            audit_counts[key] = audit_counts.get(key, 0) + 1
    return job_counts, audit_counts


@pytest.fixture
def slack_server(helpdesk):
    recorder = Recorder()
    hd = helpdesk(SLACK_CONFIG)
    env = {"SLACK_SIGNING_SECRET": SIGNING_SECRET}
    server = hd.start(env=env)
    yield hd, server, env, SlackClient(hd.url(""), recorder)
    recorder.stop()


@pytest.mark.parametrize("endpoint", ["commands", "interactions"])
def test_kill_9_right_after_a_200_loses_no_acknowledged_request(slack_server, endpoint):
    hd, server, env, slack = slack_server
    database = hd.folder / "state" / "helpdesk.sqlite"
    send = SENDERS[endpoint]
    lock = threading.Lock()
    acknowledged = []  # (response_url, audit key) of every request answered 200
    refused = []  # any other answer before the kill: the test would prove nothing
    killed_at = []

    def fire(number):
        try:
            status, response_url, key = send(slack, number)
        except (OSError, HTTPException):
            return  # reset, refused or cut off by the kill: never acknowledged, may or may not be stored
        with lock:
            if status != 200:
                refused.append((number, status))
                return
            acknowledged.append((response_url, key))
            if len(acknowledged) == KILL_AT:
                # The instant this 200 is read: whatever the server had not committed is gone.
                os.kill(server.pid, signal.SIGKILL)
                killed_at.append(time.monotonic())

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(fire, range(BURST)))
    server.wait(timeout=10)
    assert not refused, f"answers other than 200 before the kill: {refused}\n{hd.log(server)}"
    assert killed_at and server.returncode == -signal.SIGKILL, "the burst should have reached the kill"
    assert len(acknowledged) < BURST, "the kill should have cut the burst short"
    assert len({url for url, _ in acknowledged}) == len(acknowledged)

    # The files as the dead server left them (read-only: nothing recovers or rewrites them first).
    job_counts, audit_counts = stored_requests(database, endpoint)
    missing_jobs = [url for url, _ in acknowledged if job_counts.get(url, 0) != 1]
    missing_audit = [key for _, key in acknowledged if audit_counts.get(key, 0) != 1]
    assert not missing_jobs, f"{len(missing_jobs)} of {len(acknowledged)} acknowledged requests have no job (or several): {missing_jobs}"
    assert not missing_audit, f"{len(missing_audit)} of {len(acknowledged)} acknowledged requests have no audit entry (or several): {missing_audit}"
    verify = hd.run("audit", "verify", env=env)
    assert verify.returncode == 0 and "chain intact" in verify.stdout, verify.stdout + verify.stderr

    # A restarted server takes the same store up: the acknowledged jobs are queued (or done) still,
    # none was lost by recovery, and the chain it extends still verifies.
    restarted = hd.start(env=env, port=hd.port)  # the same address: the client keeps its URL
    status, after_url, after_key = send(slack, BURST)
    assert status == 200, hd.log(restarted)
    job_counts, audit_counts = stored_requests(database, endpoint)
    assert all(job_counts.get(url) == 1 for url, _ in acknowledged + [(after_url, after_key)])
    assert all(audit_counts.get(key) == 1 for _, key in acknowledged + [(after_url, after_key)])
    # ...and answers every request it acknowledged before the kill, on its response_url.
    for url, _ in acknowledged:
        slack.recorder.wait_for(url, timeout=10)
    restarted.kill()
    restarted.wait(timeout=10)
    verify = hd.run("audit", "verify", env=env)
    assert verify.returncode == 0 and "chain intact" in verify.stdout, verify.stdout + verify.stderr
