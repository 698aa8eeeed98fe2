"""`helpdesk demo` as a newcomer runs it: it prints its URL and sign-in, plants the incident, and with
--exit-after-fix exits 0 once two DBAs approved (here over HTTP), the fix ran and the audit chain verified,
leaving nothing behind; Ctrl-C at any point removes what it made."""
import time

import pytest

from web_client import DEMO_LINES, approval_state, demo, wait_until  # noqa: F401 (demo is a fixture)

EXIT_WITHIN = 120


def test_the_demo_exits_0_once_two_dbas_approved_and_the_fix_ran(demo):
    started = time.monotonic()
    run = demo("--no-browser", "--exit-after-fix", "--listen", "127.0.0.1:0").wait_until_ready(timeout=EXIT_WITHIN)
    assert wait_until(run.postgres_running, 60), f"no process of the demo's PostgreSQL runs from its TMPDIR {run.tmp}; it must make its folder there\n{run.output()}"
    requested = run.wait_for(DEMO_LINES[4], EXIT_WITHIN, "the approval request line").group(1)

    for name in ("dba1", "dba2"):
        person = run.client()
        person.login(name, run.password)
        pending = person.approval_ids("pending")
        assert pending == [requested], f"pending for {name}: {pending}, the demo printed {requested}\n{run.output()}"
        response = person.vote(requested, "approve", f"{name}: the evidence names the idle blocker")
        assert response.status == 200, f"{name}'s approval: {response.describe()}\n{run.output()}"
        status, count = approval_state(response)
        if name == "dba1":
            assert (status, count) == ("pending", "1 of 2 approvals"), (status, count, response.notice())
        else:
            assert status == "approved" and count.startswith("2 of 2"), (status, count, response.notice())

    code = run.wait_for_exit(max(1.0, EXIT_WITHIN - (time.monotonic() - started)))
    if code is None:
        pytest.fail(f"helpdesk demo --exit-after-fix still runs {EXIT_WITHIN}s after it started\n{run.output()}", pytrace=False)
    assert code == 0, f"helpdesk demo --exit-after-fix exited with {code}\n{run.output()}"
    run.reader.join(timeout=10)

    # Standard output is the output contract's lines, each once, in order, and nothing else (the rest goes to stderr).
    matches = contract_lines(run)
    assert len(matches) == len(DEMO_LINES), f"the demo's stdout stops after {len(matches)} of the contract's {len(DEMO_LINES)} lines\n{run.output()}"
    assert matches[4].group(1) == requested
    assert int(matches[3].group(1)) > 0 and int(matches[7].group(1)) > 0, [m.group(0) for m in matches]
    assert run.stop() == 0


def contract_lines(run) -> list:
    """The demo's stdout lines matched, one by one, against the output contract (DEMO_LINES): every line must be the
    contract's next line; fails at the first that is not. The matches."""
    if len(run.lines) > len(DEMO_LINES):
        pytest.fail(f"the demo printed {len(run.lines)} lines on stdout, the contract has {len(DEMO_LINES)}\n{run.output()}", pytrace=False)
    matches = []
    for number, (line, pattern) in enumerate(zip(run.lines, DEMO_LINES), 1):
        match = pattern.match(line)
        if match is None:
            pytest.fail(f"stdout line {number} is {line!r}, the contract's line {number} is {pattern.pattern}\n{run.output()}", pytrace=False)
        matches.append(match)
    return matches


def test_ctrl_c_before_anyone_approved_removes_everything(demo):
    run = demo("--no-browser", "--listen", "127.0.0.1:0", "--password", "ctrl-c-test-pw-0123").wait_until_ready(timeout=EXIT_WITHIN)
    assert run.password == "ctrl-c-test-pw-0123"
    assert wait_until(run.postgres_running, 60), f"no process of the demo's PostgreSQL runs from its TMPDIR {run.tmp}; it must make its folder there\n{run.output()}"
    run.wait_for(DEMO_LINES[2], 60, "the alert line")
    assert run.client().get("/healthz").status == 200
    code = run.stop()  # SIGINT; fails unless it exits with its PostgreSQL gone and its folder removed
    # Interrupted once the server ran: exit 0; 130 only for a Ctrl-C before it listens (DemoCommand.swift, Demo.run).
    assert code == 0, f"helpdesk demo exited with {code} after Ctrl-C while its server ran\n{run.output()}"
    # What it printed before Ctrl-C is the contract's first lines, in order; the interruption adds nothing to stdout.
    assert len(contract_lines(run)) >= 3, run.output()
    with pytest.raises(OSError):
        run.client(timeout=2).get("/healthz")
