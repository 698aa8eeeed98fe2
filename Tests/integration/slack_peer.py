"""Slack's side of the conversation for tests: requests signed by the official slack-sdk the way
Slack signs them, and a loopback recorder standing in for response_url and the Web API."""
import itertools
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from slack_sdk.models.blocks import Block
from slack_sdk.signature import SignatureVerifier

from conftest import http

SIGNING_SECRET = "slack-signing-secret-for-tests-0123"


class SlackClient:
    """Sends slash commands to the bot as Slack would."""

    def __init__(self, bot_url: str, recorder: "Recorder"):
        self.bot_url = bot_url
        self.recorder = recorder
        self.verifier = SignatureVerifier(SIGNING_SECRET)
        # Numbers each request's response_url, trigger_id and action_ts. `next()` on an
        # itertools.count is atomic, so requests sent from many threads never share a number
        # (`self.count += 1` could: two clicks with one action_ts are one dedup key, one job).
        self._numbers = itertools.count(1)

    def next_number(self) -> int:
        return next(self._numbers)

    def command(self, text: str, user_id: str = "U0ALICE", trigger_id: str | None = None, timestamp: int | None = None,
                secret: str | None = None):
        number = self.next_number()
        fields = {"token": "legacy", "team_id": "T1", "team_domain": "example", "channel_id": "C1", "channel_name": "sre",
                  "user_id": user_id, "user_name": user_id.lower(), "command": "/helpdesk", "text": text,
                  "response_url": f"{self.recorder.url}/commands/{number}", "trigger_id": trigger_id or f"trigger.{number}.{time.time()}",
                  "api_app_id": "A1", "is_enterprise_install": "false"}
        body = urllib.parse.urlencode(fields)
        stamp = str(timestamp or int(time.time()))
        verifier = SignatureVerifier(secret) if secret else self.verifier
        signature = verifier.generate_signature(timestamp=stamp, body=body)
        started = time.monotonic()
        status, headers, data = http("POST", f"{self.bot_url}/slack/commands", body=body.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature})
        return status, (json.loads(data) if data else None), time.monotonic() - started, fields["response_url"]


class Recorder:
    """Records every POST (response_url deliveries, Web API calls) and answers 200 ok."""

    def __init__(self):
        self.posts = []
        self.gone = False  # answer 404, as an expired response_url does
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.posts.append({"path": self.path, "body": json.loads(body) if body else None})
                data = b"expired_url" if recorder.gone else b"ok"
                self.send_response(404 if recorder.gone else 200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, url: str, timeout: float = 30):
        path = url[len(self.url):]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for post in self.posts:
                if post["path"] == path:
                    return post["body"]
            time.sleep(0.05)
        raise AssertionError(f"nothing was posted to {path} within {timeout}s; got {[p['path'] for p in self.posts]}")


def parsed_blocks(message: dict) -> list:
    """Every block through slack-sdk's Block Kit models: proof Slack would accept the layout."""
    assert isinstance(message.get("text"), str) and message["text"], "every message needs a plain-text fallback"
    blocks = [Block.parse(block) for block in message.get("blocks", [])]
    assert all(block is not None for block in blocks), message["blocks"]
    for block in blocks:
        block.validate_json()
    return blocks


def click(slack: SlackClient, action_id: str, value: str, user_id: str, message: dict | None = None):
    """A button click as Slack delivers it: a signed form with one `payload` field of JSON."""
    status, _, response_url = click_with_answer(slack, action_id, value, user_id, message)
    return status, response_url


def click_with_answer(slack: SlackClient, action_id: str, value: str, user_id: str, message: dict | None = None):
    """click(), also returning the bot's immediate answer: its JSON, None when empty (an accepted click), else the raw text."""
    number = slack.next_number()
    response_url = f"{slack.recorder.url}/actions/{number}"
    payload = {"type": "block_actions", "api_app_id": "A1", "token": "legacy", "trigger_id": f"t.{number}",
               "team": {"id": "T1", "domain": "example"}, "user": {"id": user_id, "username": user_id.lower(), "team_id": "T1"},
               "channel": {"id": "C1", "name": "sre"}, "response_url": response_url,
               "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C1", "is_ephemeral": False},
               "message": message or {"type": "message", "ts": "1700000000.000100", "text": "", "blocks": []},
               "actions": [{"action_id": action_id, "block_id": "b", "value": value, "type": "button",
                            "action_ts": f"{time.time():.6f}.{number}"}]}
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    stamp = str(int(time.time()))
    status, _, data = http("POST", f"{slack.bot_url}/slack/interactions", body=body.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack.verifier.generate_signature(timestamp=stamp, body=body)})
    try:
        answer = json.loads(data) if data else None
    except ValueError:
        answer = data.decode(errors="replace")
    return status, answer, response_url


class WebAPI:
    """A loopback stand-in for slack.com/api: records each call and answers from a script
    (a list of (status, headers, body) used in order for chat.postMessage), then ok."""

    def __init__(self, post_message_script=None):
        self.calls = []
        self.uploads = {}  # file id -> bytes sent to its upload URL
        self.script = list(post_message_script or [])
        self.next_ts = 1700000000.0
        # Until this time.monotonic(), every Web API call and upload answers 429 (Retry-After: 2),
        # every fourth 500: Slack having a bad minute.
        self.outage_until = 0.0
        self.outage_calls = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def outage(self):
                if time.monotonic() >= api.outage_until:
                    return False
                api.outage_calls += 1
                data = json.dumps({"ok": False, "error": "ratelimited"}).encode()
                self.send_response(500 if api.outage_calls % 4 == 0 else 429)
                self.send_header("Retry-After", "2")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return True

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.startswith("/upload/"):
                    if self.outage():
                        return
                    api.uploads[self.path.rsplit("/", 1)[-1]] = raw
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"OK")
                    return
                body = json.loads(raw or b"{}")
                method = self.path.rsplit("/", 1)[-1]
                call = {"method": method, "body": body, "auth": self.headers.get("Authorization"), "at": time.monotonic()}
                api.calls.append(call)
                if self.outage():
                    call["ok"] = False
                    return
                status, headers, reply = 200, {}, None
                if method == "chat.postMessage" and api.script:
                    status, headers, reply = api.script.pop(0)
                if method == "files.getUploadURLExternal":
                    file_id = f"F{len(api.calls):04d}"
                    reply = {"ok": True, "file_id": file_id, "upload_url": f"http://127.0.0.1:{api.server.server_address[1]}/upload/{file_id}"}
                if reply is None:
                    api.next_ts += 1
                    reply = {"ok": True, "channel": body.get("channel"), "ts": f"{api.next_ts:.6f}"}
                call["reply"] = reply  # the ts a root got, for finding its thread's replies
                call["ok"] = status == 200 and bool(reply.get("ok"))
                data = json.dumps(reply).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def successful(self, method):
        """Calls of `method` that the script let through (the ones Slack would have posted)."""
        return [call for call in self.calls if call["method"] == method and call.get("ok", True)]
