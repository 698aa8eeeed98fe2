"""helm test: the server answers, is ready, exports metrics, and takes a Slack command signed with
its own signing secret (and refuses one signed with another)."""
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE = os.environ["HELPDESK_URL"]
ADMIN = os.environ["HELPDESK_ADMIN_URL"]
failures = []


def request(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError as error:
        return None, str(error).encode()


def check(name, ok, detail=b""):
    print(("ok    " if ok else "FAIL  ") + name + ("" if ok else f": {detail[:300]!r}"), flush=True)
    if not ok:
        failures.append(name)


def wait_ready(deadline):
    # The Service may still be catching up with a pod that just became ready.
    while True:
        status, body = request("GET", ADMIN + "/readyz")
        if status == 200 or time.monotonic() > deadline:
            return status, body
        time.sleep(1)


status, body = request("GET", BASE + "/healthz")
check("GET /healthz answers 200", status == 200, body)
status, body = wait_ready(time.monotonic() + 30)
check("GET /readyz answers 200", status == 200, body)
status, body = request("GET", ADMIN + "/metrics")
check("GET /metrics exports helpdesk_ series", status == 200 and b"helpdesk_" in body, body)

secret = os.environ.get("SLACK_SIGNING_SECRET", "")
if secret:
    # `help` is answered inline: nothing is queued and nothing is posted to Slack.
    form = urllib.parse.urlencode({
        "command": os.environ.get("SLACK_COMMAND", "/helpdesk"), "text": "help", "user_id": "UHELMTEST",
        "team_id": "THELMTEST", "channel_id": "CHELMTEST",
        "response_url": "https://hooks.slack.com/commands/THELMTEST/0/helm-test",
    }).encode()

    def signed(key):
        timestamp = str(int(time.time()))
        digest = hmac.new(key.encode(), b"v0:" + timestamp.encode() + b":" + form, hashlib.sha256).hexdigest()
        return {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": "v0=" + digest}

    status, body = request("POST", BASE + "/slack/commands", form, signed(secret))
    try:
        answered = status == 200 and bool(json.loads(body))
    except ValueError:
        answered = False
    check("a signed `help` command is answered", answered, body)
    status, body = request("POST", BASE + "/slack/commands", form, signed(secret + "-wrong"))
    check("a command signed with another secret is refused with 401", status == 401, body)
else:
    print("note  no signed Slack command: secrets.slack.existingSecret is not set", flush=True)

print(f"{len(failures)} failed" if failures else "all checks passed", flush=True)
sys.exit(1 if failures else 0)
