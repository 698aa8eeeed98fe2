"""Writes a file of distinct requests for bench/http/replay.lua, and checks one like them first.

    gen_requests.py slack FILE COUNT --host H:P --secret S [--probe URL]
    gen_requests.py alertmanager FILE COUNT --host H:P --token T [--alerts 10] [--probe URL]

The file holds the requests exactly as sent (HTTP/1.1, keep-alive), each followed by a NUL byte,
so wrk's Lua only has to cut the file at NULs: slow parsing in wrk's init would let its first
thread start loading the server before the others are ready.

Every request is distinct, as real traffic is: a repeated Slack trigger_id or Alertmanager
fingerprint would take the server's cheaper duplicate path and flatter the numbers.

--probe sends one more request built the same way (not written to the file, so the file stays
distinct) and exits non-zero unless it gets a 2xx: a wrong secret or route fails the run here
instead of as a table full of 401s.
"""
import argparse
import hashlib
import hmac
import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

SEVERITIES = ["critical", "warning", "warning", "info"]


def slack_request(secret: bytes, run: str, index: int, timestamp: str) -> tuple[str, str, list[tuple[str, str]]]:
    """`/helpdesk help` as Slack sends it, signed as Slack signs it (v0 HMAC-SHA256)."""
    # A format string rather than urlencode per request: 200k requests must be written in seconds,
    # right before the run, since signatures expire. Only the varying fields need no escaping.
    body = SLACK_FORM.format(user=f"{index % 1000:04d}", run=run, index=index, nonce=secrets.token_hex(4))
    signature = "v0=" + hmac.new(secret, f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return "/slack/commands", body, [("Content-Type", "application/x-www-form-urlencoded"),
                                     ("X-Slack-Request-Timestamp", timestamp), ("X-Slack-Signature", signature)]


SLACK_FORM = urllib.parse.urlencode({
    "token": "legacy", "team_id": "T0BENCH", "team_domain": "bench", "channel_id": "C0BENCH", "channel_name": "bench",
    "user_id": "U{user}", "user_name": "user{user}", "command": "/helpdesk", "text": "help",
    "response_url": "http://127.0.0.1:9/commands/{run}/{index}", "trigger_id": "{run}.{index}.{nonce}",
    "api_app_id": "A0BENCH", "is_enterprise_install": "false",
}, safe="{}")


def alertmanager_request(token: str, run: str, index: int, alerts: int, now: str) -> tuple[str, str, list[tuple[str, str]]]:
    """One Alertmanager notification (version 4) of `alerts` firing alerts, all fingerprints new."""
    items = []
    for n in range(alerts):
        serial = index * alerts + n
        items.append({
            "status": "firing",
            "labels": {"alertname": f"BenchAlert{index % 50}", "severity": SEVERITIES[serial % len(SEVERITIES)],
                       "instance": f"host-{serial % 997}:9100", "job": "node"},
            "annotations": {"summary": f"bench alert {serial}"},
            "startsAt": now, "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.bench/graph",
            # Distinct per alert and per run: a fresh store each run, but no reliance on that.
            "fingerprint": hashlib.sha256(f"{run}/{serial}".encode()).hexdigest()[:16],
        })
    payload = {
        "version": "4", "groupKey": f"{{}}:{{run=\"{run}\", batch=\"{index}\"}}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "bench", "groupLabels": {"alertname": f"BenchAlert{index % 50}"}, "commonLabels": {"job": "node"},
        "commonAnnotations": {}, "externalURL": "http://alertmanager.bench", "alerts": items,
    }
    return "/webhooks/alertmanager", json.dumps(payload, separators=(",", ":")), [
        ("Content-Type", "application/json"), ("Authorization", f"Bearer {token}")]


def probe(url: str, request: tuple[str, str, list[tuple[str, str]]]):
    path, body, headers = request
    try:
        with urllib.request.urlopen(urllib.request.Request(url + path, data=body.encode(), headers=dict(headers), method="POST"),
                                    timeout=30) as response:
            status, text = response.status, response.read()[:300]
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()[:300]
    except OSError as error:
        sys.exit(f"probe POST {url}{path} failed: {error}")
    if not 200 <= status < 300:
        sys.exit(f"probe POST {url}{path} answered {status}: {text!r}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["slack", "alertmanager"])
    parser.add_argument("file")
    parser.add_argument("count", type=int)
    parser.add_argument("--secret")
    parser.add_argument("--token")
    parser.add_argument("--alerts", type=int, default=10)
    parser.add_argument("--host", required=True, help="Host header, HOST:PORT of the server the file is for")
    parser.add_argument("--probe", metavar="URL")
    args = parser.parse_args()

    run = secrets.token_hex(4)
    if args.kind == "slack":
        if not args.secret:
            parser.error("slack needs --secret")
        key = args.secret.encode()
        # One timestamp for the whole file: it is written seconds before the run, and Slack (and both
        # servers) accept a signature for 5 minutes.
        stamp = str(int(time.time()))
        make = lambda i: slack_request(key, run, i, stamp)
    else:
        if not args.token:
            parser.error("alertmanager needs --token")
        now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        make = lambda i: alertmanager_request(args.token, run, i, args.alerts, now)

    if args.probe:
        probe(args.probe, make(args.count))  # index past the file's last, so it repeats nothing in it
    with open(args.file, "wb") as out:
        for i in range(args.count):
            path, body, headers = make(i)
            data = body.encode()
            head = "".join(f"{name}: {value}\r\n" for name, value in headers)
            out.write(f"POST {path} HTTP/1.1\r\nHost: {args.host}\r\n{head}Content-Length: {len(data)}\r\n\r\n".encode() + data + b"\0")


if __name__ == "__main__":
    main()
