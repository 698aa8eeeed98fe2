"""Hostile input against the built binary: malformed, slow and repeated requests get 4xx or a closed
connection, never a crash; receivers without credentials are refused at start; the edge serves only
what the outside must reach; TLS certificates reload while the server runs."""
import socket
import ssl
import subprocess
import time

from conftest import REPO, free_port, http


def test_malformed_form_bodies_get_400_and_the_server_keeps_answering(helpdesk):
    hd = helpdesk("store: {path: state/hd.sqlite}\n")
    server = hd.start()
    for body in [b"%", b"t=%zz&csrf=1", b"%E0%A4%A", b"a=%"]:
        status, _, _ = http("POST", hd.url("/approvals/apr_x"), body=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert 400 <= status < 500, (body, status)
    status, _, _ = http("GET", hd.url("/healthz"))
    assert status == 200 and server.poll() is None, "one bad form must not stop the server"


def test_signed_slack_request_with_malformed_form_is_400(helpdesk):
    import hashlib
    import hmac
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    hd = helpdesk(f"store: {{path: state/hd.sqlite}}\nslack: {{templates_dir: {REPO}/templates/slack}}\n")
    hd.start(env={"SLACK_SIGNING_SECRET": secret})
    body = b"command=%2Fhelpdesk&text=%ZZ"
    timestamp = str(int(time.time()))
    signature = "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    status, _, answer = http("POST", hd.url("/slack/commands"), body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature})
    assert status == 400, answer
    assert b"percent-encoding" in answer
    assert http("GET", hd.url("/healthz"))[0] == 200


def test_receiver_whose_token_resolves_to_nothing_is_refused_at_start(helpdesk):
    hd = helpdesk("alertmanager:\n  receivers:\n    helpdesk:\n      channel: C1\n")
    check = hd.run("config", "check", str(hd.config))
    assert check.returncode == 2
    assert "helpdesk.yaml:4: alertmanager.receivers.helpdesk:" in check.stdout + check.stderr
    assert "HELPDESK_ALERTMANAGER_HELPDESK_BEARER_TOKEN" in check.stdout + check.stderr
    serve = hd.run("serve", "--listen", f"127.0.0.1:{free_port()}", timeout=20)
    assert serve.returncode == 2, serve.stderr
    # The same receiver with its variable set starts.
    hd.start(env={"HELPDESK_ALERTMANAGER_HELPDESK_BEARER_TOKEN": "am-token-0123456789"})
    assert http("POST", hd.url("/webhooks/alertmanager"), body=b"{}")[0] == 401


def test_a_client_sending_one_byte_a_second_is_cut_off(helpdesk):
    hd = helpdesk("store: {path: state/hd.sqlite}\nserver: {request_read_timeout: 2s, idle_timeout: 30s}\n")
    hd.start()
    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", hd.port), timeout=10)
    request = b"POST /webhooks/alertmanager HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000
    closed_after = None
    try:
        for byte in request:
            sock.sendall(bytes([byte]))
            time.sleep(0.25)
            if time.monotonic() - started > 8:
                break
    except (BrokenPipeError, ConnectionResetError):
        closed_after = time.monotonic() - started
    if closed_after is None:
        sock.settimeout(2)
        try:
            closed_after = time.monotonic() - started if sock.recv(1) == b"" else None
        except (ConnectionResetError, socket.timeout):
            closed_after = time.monotonic() - started
    sock.close()
    assert closed_after is not None and closed_after < 6, f"slow client still connected after {time.monotonic() - started:.1f}s"
    assert http("GET", hd.url("/healthz"))[0] == 200


def test_a_connection_that_never_sends_is_closed_at_the_read_deadline(helpdesk):
    hd = helpdesk("store: {path: state/hd.sqlite}\nserver: {request_read_timeout: 2s, idle_timeout: 60s}\n")
    hd.start()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", hd.port), timeout=10) as sock:
        try:
            assert sock.recv(1) == b""
        except ConnectionResetError:
            pass
    assert time.monotonic() - started < 5, "a silent connection must not hold a slot until the idle timeout"


def test_approval_pages_are_rate_limited_per_source(helpdesk):
    hd = helpdesk("store: {path: state/hd.sqlite}\nserver: {unauthenticated_per_minute: 5}\n")
    hd.start()
    statuses = [http("GET", hd.url("/approvals/apr_x?t=forged"))[0] for _ in range(7)]
    assert 429 not in statuses[:5] and statuses[5:] == [429, 429], statuses
    status, headers, _ = http("GET", hd.url("/approvals/apr_x?t=forged"))
    assert status == 429 and int(headers["Retry-After"]) >= 1


def test_admin_listener_serves_metrics_and_the_edge_does_not(helpdesk):
    admin_port = free_port()
    hd = helpdesk(f"store: {{path: state/hd.sqlite}}\nserver: {{admin_listen: 127.0.0.1:{admin_port}}}\n")
    server = hd.start(wait=False)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if http("GET", f"http://127.0.0.1:{admin_port}/readyz", timeout=1)[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        raise AssertionError(f"admin listener never ready:\n{hd.log(server)}")
    assert http("GET", f"http://127.0.0.1:{admin_port}/metrics")[0] == 200
    assert http("GET", hd.url("/metrics"))[0] == 404
    assert http("GET", hd.url("/readyz"))[0] == 404
    assert http("GET", hd.url("/healthz"))[0] == 200


def _certificate(folder, name, common_name):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(folder / f"{name}.key"), "-out", str(folder / f"{name}.crt"), "-days", "2",
                    "-subj", f"/CN={common_name}", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return folder / f"{name}.crt", folder / f"{name}.key"


def _served_common_name(port):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    text = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"], input=der, capture_output=True, check=True).stdout
    return text.decode().strip()


def test_tls_listener_reloads_its_certificate_when_the_files_change(helpdesk, tmp_path):
    cert, key = _certificate(tmp_path, "first", "first.example")
    hd = helpdesk(f"store: {{path: state/hd.sqlite}}\nserver: {{tls_cert_file: {tmp_path}/tls.crt, tls_key_file: {tmp_path}/tls.key}}\n")
    (tmp_path / "tls.crt").write_bytes(cert.read_bytes())
    (tmp_path / "tls.key").write_bytes(key.read_bytes())
    server = hd.start(wait=False)
    deadline = time.monotonic() + 20
    while True:
        try:
            assert "first.example" in _served_common_name(hd.port)
            break
        except (OSError, ssl.SSLError):
            assert server.poll() is None, hd.log(server)
            assert time.monotonic() < deadline, hd.log(server)
            time.sleep(0.1)
    second_cert, second_key = _certificate(tmp_path, "second", "second.example")
    (tmp_path / "tls.key").write_bytes(second_key.read_bytes())
    (tmp_path / "tls.crt").write_bytes(second_cert.read_bytes())
    deadline = time.monotonic() + 15
    while "second.example" not in _served_common_name(hd.port):
        assert time.monotonic() < deadline, "the renewed certificate was never served:\n" + hd.log(server)
        time.sleep(0.3)
    # A broken pair keeps the last good certificate serving.
    (tmp_path / "tls.crt").write_text("not a certificate")
    time.sleep(3)
    assert "second.example" in _served_common_name(hd.port)
    assert "does not load" in hd.log(server)
