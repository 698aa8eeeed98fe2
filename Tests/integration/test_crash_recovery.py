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
