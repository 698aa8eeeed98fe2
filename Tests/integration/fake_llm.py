"""Loopback stand-ins for the Anthropic Messages API and OpenAI-compatible Chat Completions, each
following its documented request and response JSON, with a scripted investigation: look at the
blocking tree, propose terminating the root blocker, then conclude. A script replaces that
investigation with recorded turns (the zoo's model.yaml), its final `text` being the conclusion."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


# The shipped default denies destructive actions on production at night and at weekends; tests of the
# model (and the zoo's model mode) are about the glue, not the clock, so they bring this policy.
CLOCK_FREE_POLICY = """version: "1"
policies:
  - name: all
    rules:
      - {action: read, effect: allow}
      - {action: write, effect: require_approval}
      - action: destructive
        effect: require_approval
        conditions: {approval_quorum: 2}
"""

class FakeLLM:
    def __init__(self, fail_first_with=None, always_fail_with=None, script=None):
        self.requests = []
        # When given, the investigation follows it: [{"tool": name, "input": {...}}, …, {"text": "…"}], one step a request;
        # a `text` step is the conclusion (without one, the default conclusion below).
        self.script = script
        self.fail_first_with = fail_first_with  # e.g. 429: the first request gets that status
        self.always_fail_with = always_fail_with  # e.g. 500: every request does
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                fake.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                if fake.always_fail_with or (fake.fail_first_with and len(fake.requests) == 1):
                    status = fake.always_fail_with or fake.fail_first_with
                    if self.path == "/v1/messages":
                        kind, message = ("rate_limit_error", "slow down") if status == 429 else ("api_error", "Internal server error")
                        return self._send(status, {"type": "error", "error": {"type": kind, "message": message}}, {"retry-after": "0"})
                    message = "Rate limit reached" if status == 429 else "The server had an error while processing your request"
                    return self._send(status, {"error": {"message": message, "type": "server_error"}}, {"retry-after": "0"})
                if self.path == "/v1/messages":
                    return self._send(200, fake.anthropic(body))
                if self.path == "/v1/chat/completions":
                    return self._send(200, fake.openai(body))
                return self._send(404, {"error": {"message": f"no route {self.path}"}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reset(self, script=None):
        """Forgets the requests so the script is replayed from its first step (the next diagnosis)."""
        self.requests = []
        if script is not None:
            self.script = script

    def scripted_step(self):
        """The script's step that answers the request just received (the last step again past its end)."""
        return self.script[min(len(self.requests) - 1, len(self.script) - 1)]

    def next_step(self, last_tool_result):
        """(tool_name, input) to call next, or None for the final text."""
        if self.script is not None:
            step = self.scripted_step()
            return (step["tool"], step.get("input") or {}) if "tool" in step else None
        if last_tool_result is None:
            return ("blocking_locks", {})
        if last_tool_result.startswith("recorded as a recommended action"):
            return None
        blockers = json.loads(last_tool_result).get("blockers", [])
        if not blockers:
            return None
        return ("terminate_backend", {"pid": blockers[0]["pid"]})

    def conclusion(self, messages_text):
        if self.script is not None and "text" in self.scripted_step():
            return self.scripted_step()["text"]
        return "The root blocker is idle in transaction and holds the row lock everyone waits for.\nTerminate it; the updates will proceed."

    def anthropic(self, body):
        last = body["messages"][-1]
        results = [block for block in last["content"] if isinstance(block, dict) and block.get("type") == "tool_result"] \
            if isinstance(last["content"], list) else []
        step = self.next_step(results[-1]["content"] if results else None)
        usage = {"input_tokens": 200, "output_tokens": 40}
        if step is None:
            return {"id": "msg_final", "type": "message", "role": "assistant", "model": body["model"], "stop_reason": "end_turn",
                    "content": [{"type": "text", "text": self.conclusion(body)}], "usage": usage}
        name, arguments = step
        return {"id": f"msg_{len(self.requests)}", "type": "message", "role": "assistant", "model": body["model"], "stop_reason": "tool_use",
                "content": [{"type": "text", "text": "Checking."},
                            {"type": "tool_use", "id": f"toolu_{len(self.requests)}", "name": name, "input": arguments}],
                "usage": usage}

    def openai(self, body):
        last = body["messages"][-1]
        step = self.next_step(last["content"] if last["role"] == "tool" else None)
        usage = {"prompt_tokens": 200, "completion_tokens": 40, "total_tokens": 240}
        if step is None:
            return {"id": "chatcmpl-final", "object": "chat.completion", "model": body["model"], "usage": usage,
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": self.conclusion(body)}}]}
        name, arguments = step
        return {"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "model": body["model"], "usage": usage,
                "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [
                    {"id": f"call_{len(self.requests)}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}]}}]}
