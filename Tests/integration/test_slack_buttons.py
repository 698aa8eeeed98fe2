"""Buttons: approve/deny on approval requests update the message in place; a diagnosis's Run
button asks for its action through policy; stale clicks are answered, never acted on."""
import time

from slack_peer import click, parsed_blocks
from test_diagnose_postgres import lock_pileup, wait_for  # noqa: F401 (fixture)
from test_slack_commands import slack_bot  # noqa: F401 (fixture)


def test_run_button_then_approval_buttons_decide_in_place(slack_bot, postgres, lock_pileup):
    _, slack, recorder = slack_bot
    holder_pid, _, waiters = lock_pileup
    _, _, _, url = slack.command("diagnose prod-db payments are stuck", user_id="U0ALICE")
    diagnosis = recorder.wait_for(url)
    parsed_blocks(diagnosis)
    run_buttons = [block["accessory"] for block in diagnosis["blocks"] if block.get("accessory", {}).get("action_id") == "run_action"]
    assert run_buttons and "terminate_backend" in run_buttons[0]["text"]["text"]
    assert len(run_buttons[0]["text"]["text"]) <= 75 and len(run_buttons[0]["value"]) <= 2000

    status, url = click(slack, "run_action", run_buttons[0]["value"], "U0ALICE")
    assert status == 200
    request = recorder.wait_for(url)
    parsed_blocks(request)
    assert request["replace_original"] is False
    # The approvers decide from facts: the diagnosis's incident and finding, and the session the call would end.
    evidence = next(block["text"]["text"] for block in request["blocks"] if block.get("text", {}).get("text", "").startswith("*Evidence*"))
    user = postgres.value(f"SELECT usename FROM pg_stat_activity WHERE pid = {holder_pid}")
    assert f"Does: ends PostgreSQL session {holder_pid} on prod-db" in evidence
    assert f"Found in incident {diagnosis_incident(diagnosis)}: " in evidence, "the finding behind the Run button"
    assert f'Session {holder_pid}: user {user}, application "billing-worker"' in evidence
    assert "pg_backend_pid" in evidence, "the session's last statement"
    assert "Blocks 3 sessions" in evidence
    actions = next(block for block in request["blocks"] if block["type"] == "actions")
    approval_id = actions["elements"][0]["value"]

    status, url = click(slack, "approve", approval_id, "U0CAROL", message=request)
    progress = recorder.wait_for(url)
    parsed_blocks(progress)
    assert progress["replace_original"] is True
    assert "approved by carol; 1 more needed" in progress["blocks"][0]["text"]["text"]
    assert any(block["type"] == "actions" for block in progress["blocks"]), "buttons stay until the quorum"

    status, url = click(slack, "approve", approval_id, "U0DAVE", message=progress)
    decided = recorder.wait_for(url)
    parsed_blocks(decided)
    assert decided["replace_original"] is True
    assert not any(block["type"] == "actions" for block in decided["blocks"]), "a decided message has no buttons left"
    assert "by dave at" in decided["blocks"][0]["text"]["text"]
    assert wait_for(lambda: postgres.value(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {holder_pid}") == "0", timeout=20)
    for waiter in waiters:
        assert waiter.read_line() == "done"

    status, url = click(slack, "deny", approval_id, "U0CAROL", message=progress)
    stale = recorder.wait_for(url)
    assert stale["replace_original"] is False and stale["response_type"] == "ephemeral"
    assert stale["text"].startswith("already decided: approved by dave, at ")


def diagnosis_incident(diagnosis):
    """The incident ID a diagnosis message names in its last context line: incident `inc_…`."""
    context = diagnosis["blocks"][-1]["elements"][0]["text"]
    return context.split("`")[1]


def test_other_interaction_types_are_acknowledged_and_ignored(slack_bot):
    _, slack, recorder = slack_bot
    status, url = click(slack, "some_other_button", "x", "U0CAROL")
    assert status == 200
    time.sleep(1)
    assert not [post for post in recorder.posts if post["path"] == url[len(recorder.url):]]
