"""The server as an operator meets it: start, probes, bad input, errors, shutdown."""
import json
import signal
import socket
import time

from conftest import http


def test_probes_metrics_and_request_ids_over_http(helpdesk):
    hd = helpdesk("store:\n  path: state/hd.sqlite\n")
    hd.start()
    status, headers, body = http("GET", hd.url("/healthz"))
    assert status == 200 and json.loads(body) == {"status": "ok"}
    assert headers.get("X-Request-Id")
    status, headers, _ = http("GET", hd.url("/readyz"), headers={"X-Request-Id": "trace-42"})
    assert status == 200 and headers["X-Request-Id"] == "trace-42"
    status, _, body = http("GET", hd.url("/missing"))
    assert status == 404
    assert json.loads(body)["error"]["code"] == "not_found"
    status, _, body = http("POST", hd.url("/healthz"), body=b"x" * (2 * 1024 * 1024),
                           headers={"Content-Type": "application/octet-stream"})
    assert status == 413
    status, headers, body = http("GET", hd.url("/metrics"))
    assert status == 200
    text = body.decode()
    assert 'helpdesk_http_requests_total{route="/healthz",method="GET",status="200"} 1' in text
    assert 'helpdesk_jobs{state="queued"}' in text


def test_sigterm_shuts_down_cleanly(helpdesk):
    hd = helpdesk("store:\n  path: state/hd.sqlite\n")
    server = hd.start()
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=20) == 0
    assert "stopped; store closed" in hd.log(server)


def test_json_logs_are_one_object_per_line(helpdesk):
    hd = helpdesk("store:\n  path: state/hd.sqlite\n")
    server = hd.start("--log-format", "json")
    http("GET", hd.url("/healthz"))
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=20)
    lines = [line for line in hd.log(server).splitlines() if line.strip()]
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert {"ts", "level", "msg"} <= entry.keys()


def test_malformed_config_exits_non_zero_with_file_line_and_key(helpdesk):
    hd = helpdesk("server:\n  listen: 127.0.0.1:8080\n  max_body_bytes: huge\nstore:\n  pth: x\n")
    result = hd.run("serve")
    assert result.returncode == 2
    assert "helpdesk.yaml:3: server.max_body_bytes: expected a whole number" in result.stderr
    assert "helpdesk.yaml:5: store.pth: unknown key" in result.stderr
    check = hd.run("config", "check")
    assert check.returncode == 2 and check.stderr == result.stderr


def test_config_check_accepts_a_good_file(helpdesk):
    hd = helpdesk("server:\n  listen: 127.0.0.1:9999\n")
    result = hd.run("config", "check", "helpdesk.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: helpdesk.yaml")


def test_store_path_that_cannot_be_written_is_one_clear_line(helpdesk, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    hd = helpdesk(f"store:\n  path: {blocker}/sub/hd.sqlite\n")
    result = hd.run("serve", "--listen", "127.0.0.1:0")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("helpdesk: cannot open the store at"), result.stderr


def test_port_in_use_is_one_clear_line(helpdesk):
    hd = helpdesk("store:\n  path: state/hd.sqlite\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = hd.run("serve", "--listen", f"127.0.0.1:{port}", timeout=30)
    assert result.returncode == 1
    assert f"helpdesk: cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr


def test_dead_job_can_be_inspected_and_retried(helpdesk):
    hd = helpdesk("store:\n  path: state/hd.sqlite\njobs:\n  max_attempts: 2\n  backoff_base: 10ms\n  backoff_max: 20ms\n  poll_interval: 20ms\n")
    assert hd.run("jobs", "selftest", "--fail-attempts", "3").returncode == 0
    server = hd.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and hd.jobs()[0]["state"] != "dead":
        time.sleep(0.05)
    job = hd.jobs()[0]
    assert job["state"] == "dead" and job["attempts"] == 2
    assert job["lastError"] == "selftest failure on attempt 2, as its payload asked"

    listing = hd.run("jobs", "list", "--state", "dead")
    assert "selftest failure on attempt 2" in listing.stdout
    shown = hd.run("jobs", "show", str(job["id"]))
    assert "attempt 1 by" in shown.stdout and "attempt 2 by" in shown.stdout

    retried = hd.run("jobs", "retry", str(job["id"]))
    assert retried.returncode == 0, retried.stderr
    assert "queued again" in retried.stdout
    # Re-driven with fresh attempts: the job runs twice more (its payload fails every attempt) and
    # is dead-lettered again, with all four attempts on record.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and hd.run("jobs", "show", str(job["id"])).stdout.count(": failed") < 4:
        time.sleep(0.05)
    shown = hd.run("jobs", "show", str(job["id"])).stdout
    assert shown.count(": failed") == 4, shown
    assert hd.jobs()[0]["state"] == "dead"
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=20)

    missing = hd.run("jobs", "retry", "99999")
    assert missing.returncode == 1 and "no job 99999" in missing.stderr

    assert hd.run("jobs", "selftest").returncode == 0
    server = hd.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and hd.jobs()[0]["state"] != "done":
        time.sleep(0.05)
    done = hd.jobs()[0]
    assert done["state"] == "done"
    done_again = hd.run("jobs", "retry", str(done["id"]))
    assert done_again.returncode == 1 and "already completed" in done_again.stderr
