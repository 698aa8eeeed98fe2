"""Loopback stand-in for Slack's Web API during the HTTP benchmark.

Answers every POST /api/<method> with {"ok": true, "ts": ..., "channel": ...} and counts calls per
method; GET /counts returns the counts as JSON so bench/run can take a snapshot before and after a
load phase and report the difference. Nothing is stored per call: a storm must not grow this
process's memory or slow its answers, or it would throttle the server it is measuring.

Usage: slack_recorder.py PORT
"""
import itertools
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts: dict[str, int] = {}
lock = threading.Lock()
serial = itertools.count(1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the server's HTTP client expects of Slack

    def log_message(self, *args):
        pass

    def answer(self, status: int, value: dict):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/counts":
            with lock:
                snapshot = dict(counts)
            self.answer(200, snapshot)
        else:
            self.answer(404, {"ok": False, "error": "unknown_method"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        # /api/chat.postMessage -> chat.postMessage; anything else (an upload URL) by its first segment.
        parts = self.path.split("?")[0].strip("/").split("/")
        method = parts[1] if parts[0] == "api" and len(parts) > 1 else parts[0] or "/"
        with lock:
            counts[method] = counts.get(method, 0) + 1
        channel = "C0BENCH"
        try:
            channel = json.loads(body).get("channel") or channel
        except (ValueError, AttributeError):
            pass
        reply = {"ok": True, "ts": f"1700000000.{next(serial):06d}", "channel": channel}
        if method == "files.getUploadURLExternal":
            # So an incident-bundle upload completes here instead of failing and being retried.
            host, port = self.server.server_address[:2]
            reply.update(upload_url=f"http://{host}:{port}/upload/{next(serial)}", file_id=f"F{next(serial)}")
        self.answer(200, reply)


if __name__ == "__main__":
    ThreadingHTTPServer.request_queue_size = 128  # the default listen backlog of 5 is too short for a burst
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()
