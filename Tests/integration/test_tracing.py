"""One trace from the webhook through the job, the tools and the Slack post, received by a loopback
OTLP/HTTP collector; and logs that name the request, the alert and the incident they belong to."""
import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import free_port, http
from slack_peer import WebAPI
from test_diagnose_postgres import config as postgres_config
from test_alertmanager import wait

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
AM_TOKEN = "alertmanager-bearer-tracing-0123456789"
BOT_TOKEN = "xoxb-test-0123456789-tracing"
REQUEST_ID = "trace-test-request-0001"


class Collector:
    """OTLP/HTTP with JSON bodies (`protocol: http/json`): keeps every span it is sent."""

    def __init__(self):
        self.spans: list[dict] = []
        self.posts: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                collector.posts.append(self.path)
                try:
                    export = json.loads(body)
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                for resource in export.get("resourceSpans", []):
                    service = attributes(resource.get("resource", {}))
                    for scope in resource.get("scopeSpans", []):
                        for span in scope.get("spans", []):
                            span["_service"] = service
                            collector.spans.append(span)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def attributes(span) -> dict:
    values = {}
    for attribute in span.get("attributes", []):
        value = attribute["value"]
        values[attribute["key"]] = next(iter(value.values())) if value else None
    return values


def hex_id(value: str) -> str:
    """OTLP/JSON ids: hex by the spec, base64 as protobuf's JSON mapping writes bytes (swift-otel does)."""
    if len(value) == 32 and all(c in "0123456789abcdef" for c in value.lower()):
        return value.lower()
    return base64.b64decode(value).hex()



def test_an_alert_is_one_trace_from_webhook_to_post_and_its_logs_name_it(helpdesk, postgres, tmp_path):
    collector = Collector()
    api = WebAPI()
    (tmp_path / "am-token").write_text(AM_TOKEN)
    text, env = postgres_config(postgres, tmp_path)
    hd = helpdesk(text + f"""
logging: {{format: json, level: info}}
slack: {{api_base_url: {api.base_url}, default_channel: C0ALERTS}}
alertmanager:
  receivers:
    helpdesk: {{bearer_token_file: {tmp_path / 'am-token'}}}
jobs: {{poll_interval: 50ms}}
tracing: {{otlp_endpoint: "{collector.url}", protocol: http/json, service_name: helpdesk-test}}
""")
    process = hd.start(env={**env, "SLACK_BOT_TOKEN": BOT_TOKEN})
    try:
        fingerprint = "a1b2c3d4e5f60718"
        notification = {
            "version": "4", "groupKey": "{}:{alertname=\"PostgresLockPileUp\"}", "status": "firing", "receiver": "helpdesk",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am", "truncatedAlerts": 0,
            "alerts": [{"status": "firing", "labels": {"alertname": "PostgresLockPileUp", "severity": "critical", "db": "prod-db"},
                        "annotations": {"summary": "sessions are waiting on locks"}, "startsAt": "2026-12-05T10:00:00Z",
                        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": fingerprint}]}
        # A caller's trace is not continued (accept_incoming_context is off): the webhook starts its own.
        foreign_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        status, _, _ = http("POST", hd.url("/webhooks/alertmanager"), json.dumps(notification).encode(),
                            headers={"Authorization": f"Bearer {AM_TOKEN}", "Content-Type": "application/json",
                                     "X-Request-Id": REQUEST_ID, "traceparent": f"00-{foreign_trace}-00f067aa0ba902b7-01"})
        assert status == 200
        # A malformed traceparent next to a cookie: neither reaches the tracer (nor its warnings in the log).
        http("GET", hd.url("/login"), headers={"traceparent": "garbage-" + "x" * 600, "tracestate": "y" * 5000,
                                               "Cookie": "__Host-helpdesk_session=cookie-value-never-logged"})
        assert wait(lambda: [c for c in api.calls if c["method"] == "chat.postMessage" and c["body"].get("thread_ts")]), \
            "the diagnosis was never posted"

        def webhook_trace():
            webhook = [s for s in collector.spans if s["name"].startswith("POST /webhooks/alertmanager")]
            if not webhook:
                return None
            trace = [s for s in collector.spans if s["traceId"] == webhook[0]["traceId"]]
            names = {s["name"] for s in trace}
            wanted = ["job srebot.alert", "diagnose", "slack chat.postMessage"]
            return (webhook[0], trace) if all(n in names for n in wanted) and any(n.startswith("tool ") for n in names) else None

        found = wait(webhook_trace, timeout=30)
        assert found, "no complete trace; spans received: " + ", ".join(sorted({s["name"] for s in collector.spans}))
        root, trace = found
        assert all(path == "/v1/traces" for path in collector.posts)
        assert root["_service"]["service.name"] == "helpdesk-test"
        assert hex_id(root["traceId"]) != foreign_trace and not root.get("parentSpanId")
        # Only our own spans: no HTTP client span (they record whole URLs, and Slack's carry credentials),
        # no span for probes or /metrics.
        known = ("POST /", "GET /", "job ", "diagnose", "tool ", "slack ")
        assert all(s["name"].startswith(known) for s in collector.spans), sorted({s["name"] for s in collector.spans})
        assert not [s for s in collector.spans if s["name"] in ("GET /readyz", "GET /healthz", "GET /metrics")]
        assert attributes(root)["helpdesk.request_id"] == REQUEST_ID
        assert attributes(root)["http.response.status_code"] in (200, "200")
        # Parent links: every span of the trace but the webhook's has its parent in the trace.
        ids = {s["spanId"] for s in trace}
        for span in trace:
            if span is not root:
                assert span.get("parentSpanId") in ids, f"{span['name']} hangs outside the trace"
        tools = [s for s in trace if s["name"].startswith("tool ")]
        assert all(attributes(s)["helpdesk.outcome"] in ("ok", "error") for s in tools)
        assert all(attributes(s)["helpdesk.target"] == "prod-db" for s in tools)
        diagnose = next(s for s in trace if s["name"] == "diagnose")
        incident = attributes(diagnose)["helpdesk.incident_id"]
        assert incident.startswith("inc_")

        # Never secrets, SQL or message bodies: no attribute holds a token, a password or a statement.
        everything = json.dumps(collector.spans)
        for secret in (AM_TOKEN, BOT_TOKEN, postgres.password):
            assert secret not in everything
        for leak in ("SELECT ", "pg_stat_activity", "sessions are waiting on locks", "blocks"):
            assert leak not in everything, leak

        # The logs: the diagnosis's line names the request, the alert and the incident.
        hd.stop_all()
        assert "cookie-value-never-logged" not in hd.log(process)
        lines = [json.loads(line) for line in hd.log(process).splitlines() if line.startswith("{")]
        diagnosed = [line for line in lines if line.get("msg") == "alert diagnosed"]
        assert diagnosed, "no 'alert diagnosed' line"
        assert diagnosed[0]["request_id"] == REQUEST_ID
        assert diagnosed[0]["alert_fingerprint"] == fingerprint
        assert diagnosed[0]["incident_id"] == incident
        assert diagnosed[0]["trace_id"] == hex_id(root["traceId"])
    finally:
        api.stop()
        collector.stop()


def test_a_bad_tracing_endpoint_or_protocol_is_a_configuration_error(helpdesk, tmp_path):
    bad = helpdesk("tracing: {otlp_endpoint: 'ftp://collector:4318'}\n")
    checked = bad.run("config", "check")
    assert checked.returncode != 0 and "tracing.otlp_endpoint" in checked.stdout + checked.stderr
    wrong_protocol = helpdesk("tracing: {otlp_endpoint: 'http://127.0.0.1:4318', protocol: grpc}\n")
    checked = wrong_protocol.run("config", "check")
    assert checked.returncode != 0 and "tracing.protocol" in checked.stdout + checked.stderr
