"""A server killed with SIGKILL mid-work loses no job and completes none twice."""
import sqlite3
import time

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
