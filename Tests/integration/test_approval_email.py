"""Approval emails through a real SMTP server (aiosmtpd on loopback): each approver gets their own
link; following it and submitting the page decides; the requester hears the outcome; a recipient
the server refuses dead-letters its job with the SMTP reply."""
import email
import email.utils
import subprocess
import json
import os
import re
import time
import urllib.parse
from email import policy as email_policy

import pytest
from aiosmtpd.controller import Controller

from browser import Browser
from conftest import free_port, http

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The email webhook's credential (inbound_email.auth: bearer) in every bot these tests start.
INBOUND_TOKEN = "inbound-token-0123456789"
INBOUND = {"Authorization": f"Bearer {INBOUND_TOKEN}"}
POLICY = ('version: "1"\npolicies:\n  - name: all\n    rules:\n      - action: write\n        effect: require_approval\n'
          '        conditions: {approval_quorum: 2, approvers: [role:dba]}\n')


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refused@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.original_content, policy=email_policy.default)))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def wait(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def approvals_bot(helpdesk, tmp_path, controller, smtp_extra="allow_plaintext: true", users=None, port=None, inbound=None):
    """A bot whose policy wants two dba approvals for writes, with mail to the aiosmtpd server;
    `inbound` is its inbound_email section (default: a bearer token, INBOUND)."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "inbound-token").write_text(INBOUND_TOKEN)
    inbound = inbound or f"{{auth: bearer, bearer_token_file: {tmp_path / 'inbound-token'}}}"
    (tmp_path / "policies" / "p.yaml").write_text(POLICY)
    (tmp_path / "token").write_text("token-bob-0123456789")
    (tmp_path / "link-key").write_text("approval-link-key-0123456789")
    users = users or "  alice: {roles: [dba], email: alice@example.org}\n  carol: {roles: [dba], email: carol@example.org}\n"
    return helpdesk(f"""
server: {{public_base_url: "http://127.0.0.1:{port or 1}"}}
store: {{path: state/hd.sqlite}}
policies: {{dir: {tmp_path / 'policies'}}}
approvals: {{link_key_file: {tmp_path / 'link-key'}, pages_dir: {REPO}/templates/web}}
smtp: {{url: "smtp://127.0.0.1:{controller.port}/helpdesk.test", from: "helpdesk <helpdesk@example.org>", templates_dir: {REPO}/templates/email,
        {smtp_extra}}}
infrastructure: {{k8s_clusters: {{prod: {{context: nowhere}}}}}}
users:
{users}api: {{tokens: {{bob: {{token_file: {tmp_path / 'token'}}}}}}}
jobs: {{poll_interval: 50ms, backoff_base: 50ms, backoff_max: 100ms}}
inbound_email: {inbound}
""")


def request_restart(hd):
    status, _, body = http("POST", hd.url("/api/v1/k8s/rollout_restart"),
                           body=json.dumps({"target": "prod", "arguments": {"namespace": "orders", "name": "api"}}).encode(),
                           headers={"Authorization": "Bearer token-bob-0123456789", "Content-Type": "application/json"})
    assert status == 202, body
    return json.loads(body)["approval"]["id"]


def test_each_approver_gets_a_link_that_decides_only_through_its_page(helpdesk, tmp_path, smtp):
    controller, inbox = smtp
    port = free_port()
    hd = approvals_bot(helpdesk, tmp_path, controller, port=port, smtp_extra="allow_plaintext: true, reply_domain: replies.example.org", users=(
        "  alice: {roles: [dba], email: alice@example.org}\n  carol: {roles: [dba], email: carol@example.org}\n"
        "  dave: {roles: [dba], email: refused@example.org}\n  bob: {roles: [sre], email: bob@example.org}\n"))
    hd.start(port=port)
    approval_id = request_restart(hd)

    assert wait(lambda: len(inbox.messages) >= 2)
    by_recipient = {rcpts[0]: message for rcpts, message in inbox.messages}
    assert set(by_recipient) == {"alice@example.org", "carol@example.org"}, "approvers only: not the requester, not the refused one"
    links = {}
    for address, message in by_recipient.items():
        assert message["Subject"].startswith("Approval needed: rollout_restart")
        assert message["Message-ID"] and message["Date"] and message["From"] == "helpdesk <helpdesk@example.org>"
        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(preferencelist=("plain",)).get_content()
        html_part = message.get_body(preferencelist=("html",)).get_content()
        link = re.search(r"http://\S+", text).group(0)
        assert link in html_part.replace("&amp;", "&") or urllib.parse.unquote(link) in html_part
        links[address] = link
    assert links["alice@example.org"] != links["carol@example.org"], "each approver has their own link"

    # The refused recipient's job ends dead with the server's reply.
    def dead_mail():
        return [j for j in hd.jobs() if j["kind"] == "mail.send" and j["state"] == "dead"]
    assert wait(dead_mail)
    assert "550" in dead_mail()[0]["lastError"]

    # Alice, as a person: opens her link in a browser (phone-sized), looks, and presses Approve.
    browser = Browser()
    try:
        browser.open(links["alice@example.org"])
        browser.screenshot(tmp_path / "approval-page.png")
        assert (tmp_path / "approval-page.png").stat().st_size > 10_000
        assert "Approve as alice" in browser.evaluate("document.body.innerText")
        record = json.loads(hd.run("approvals", "show", approval_id).stdout)
        assert record["votes"] == [], "opening the link decided nothing"
        browser.click("button.approve")
        text = browser.evaluate("document.body.innerText")
        assert "approval recorded" in text and "alice: approve" in text and "()" not in text
        browser.screenshot(tmp_path / "approval-recorded.png")
    finally:
        browser.close()

    # Carol answers by replying to her email.
    carol_reply_to = by_recipient["carol@example.org"]["Reply-To"]
    status, _, body = http("POST", hd.url("/webhooks/email"), body=reply(carol_reply_to, "carol@example.org", "approve"),
                           headers={"Content-Type": "message/rfc822", **INBOUND})
    assert status == 200, body
    record = json.loads(hd.run("approvals", "show", approval_id).stdout)
    assert record["status"] == "approved"
    assert [(v["principal"], v["via"]) for v in record["votes"]] == [("alice", "email-link"), ("carol", "email-reply")]
    events = [json.loads(line) for line in hd.run("audit", "export").stdout.splitlines()]
    votes = [json.loads(e["data"])["via"] for e in events if e["kind"] == "approval_vote" and e["target"] == approval_id]
    assert votes == ["email-link", "email-reply"]
    assert any(e["kind"] == "approval_decided" and e["principal"] == "carol" for e in events)
    assert hd.run("audit", "verify").returncode == 0

    assert wait(lambda: any(rcpts == ["bob@example.org"] for rcpts, _ in inbox.messages))
    decision = next(message for rcpts, message in inbox.messages if rcpts == ["bob@example.org"])
    assert decision["Subject"].startswith(f"{approval_id}: approved by carol")


def reply(to, sender, first_line, authentication=True, extra_headers="", encoding=None):
    mailfrom = email.utils.parseaddr(sender)[1]
    auth = f"Authentication-Results: mx.example.org; dkim=pass header.d=example.org; spf=pass smtp.mailfrom={mailfrom}\r\n" if authentication else ""
    if encoding == "quoted-printable":
        body = first_line.encode("utf-8")
        import quopri
        body = quopri.encodestring(body).decode()
        transfer = "Content-Transfer-Encoding: quoted-printable\r\n"
    else:
        body, transfer = first_line, ""
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: Re: Approval needed\r\n{auth}{extra_headers}"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n{transfer}\r\n"
            f"{body}\r\n\r\nOn Tue, helpdesk wrote:\r\n> Approval needed\r\n").encode()


def test_replies_decide_only_from_the_right_sender_with_passing_authentication(helpdesk, tmp_path, smtp):
    controller, inbox = smtp
    port = free_port()
    hd = approvals_bot(helpdesk, tmp_path, controller, port=port,
                       smtp_extra="allow_plaintext: true, reply_domain: replies.example.org, inbound_authserv_id: mx.example.org")
    hd.start(port=port)
    approval_id = request_restart(hd)
    assert wait(lambda: len(inbox.messages) >= 2)
    reply_to = {rcpts[0]: message["Reply-To"] for rcpts, message in inbox.messages}
    assert all(address.startswith(f"approvals+{approval_id}.") and address.endswith("@replies.example.org") for address in reply_to.values())
    assert reply_to["alice@example.org"] != reply_to["carol@example.org"]
    assert len(reply_to["alice@example.org"].split("@")[0]) <= 64
    mime = {"Content-Type": "message/rfc822", **INBOUND}

    def post(raw):
        status, _, body = http("POST", hd.url("/webhooks/email"), body=raw, headers=mime)
        return status, json.loads(body)

    # Refused, and audited: another sender, no authentication, an out-of-office, a forged token.
    status, body = post(reply(reply_to["carol@example.org"], "mallory@example.org", "approve"))
    assert status == 406 and "is not the approver" in body["message"]
    status, body = post(reply(reply_to["alice@example.org"], "alice@example.org", "approve", authentication=False))
    assert status == 406 and "not authenticated by mx.example.org" in body["message"]
    status, body = post(reply(reply_to["alice@example.org"], "alice@example.org", "approve", extra_headers="Auto-Submitted: auto-replied\r\n"))
    assert status == 406 and "automatic" in body["message"]
    forged = reply_to["alice@example.org"].replace(".", ".x", 1)
    status, body = post(reply(forged, "alice@example.org", "approve"))
    assert status == 406
    assert json.loads(hd.run("approvals", "show", approval_id).stdout)["votes"] == []

    # Alice's reply comes the way SendGrid Inbound Parse posts raw mail: multipart/form-data, field `email`.
    boundary = "xYzZY"
    raw = reply(reply_to["alice@example.org"], "Alice <alice@example.org>", "Approve: blocker confirmed").decode()
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n{reply_to['alice@example.org']}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n{raw}\r\n--{boundary}--\r\n").encode()
    status, _, body = http("POST", hd.url("/webhooks/email"), body=form, headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **INBOUND})
    body = json.loads(body)
    assert status == 200 and body["result"] == "decided", body

    # Carol's reply arrives through the Postfix pipe door, quoted-printable, and denies.
    ingest = subprocess.run([hd.binary, "mail-ingest", "--config", str(hd.config)], cwd=hd.folder, capture_output=True, text=True,
                            input=reply(reply_to["carol@example.org"], "carol@example.org", "deny — not during the sale", encoding="quoted-printable").decode())
    assert ingest.returncode == 0 and ingest.stdout.startswith("decided:"), ingest.stdout + ingest.stderr
    record = json.loads(hd.run("approvals", "show", approval_id).stdout)
    assert record["status"] == "denied"
    assert [(v["principal"], v["vote"], v["via"], v["reason"]) for v in record["votes"]] == [
        ("alice", "approve", "email-reply", "blocker confirmed"), ("carol", "deny", "email-reply", "— not during the sale")]
    events = [json.loads(line) for line in hd.run("audit", "export").stdout.splitlines()]
    assert sum(1 for e in events if e["kind"] == "email_rejected") == 4


def test_tls_is_required_unless_plaintext_is_allowed(helpdesk, tmp_path, smtp):
    controller, inbox = smtp
    hd = approvals_bot(helpdesk, tmp_path, controller, smtp_extra="allow_plaintext: false")
    hd.start()
    request_restart(hd)

    def dead():
        return [j for j in hd.jobs() if j["kind"] == "mail.send" and j["state"] == "dead"]
    assert wait(dead), [j for j in hd.jobs() if j["kind"] == "mail.send"]
    assert dead()[0]["attempts"] == 1, "a server without STARTTLS is not retried"
    assert dead()[0]["lastError"].startswith("the SMTP server does not offer STARTTLS")
    assert inbox.messages == [], "nothing went out in plain text"


@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    result = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
                             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"openssl could not make a test certificate: {result.stderr}", pytrace=False)
    return cert, key


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_tls_and_auth_against_a_server_with_a_private_ca(helpdesk, tmp_path, certificate, mode):
    import ssl
    from aiosmtpd.smtp import AuthResult
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    inbox = Inbox()
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.login == b"helpdesk" and auth_data.password == b"mail-password-0123")
    port = free_port()
    if mode == "smtps":  # TLS from the first byte
        controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False, ssl_context=context)
    else:  # plain first, then STARTTLS, which the server insists on before AUTH
        controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=True,
                                tls_context=context, require_starttls=True)
    controller.start()
    try:
        scheme = "smtp" if mode == "starttls" else "smtps"
        hd = approvals_bot(helpdesk, tmp_path, controller,
                           smtp_extra=f"username: helpdesk, password_file: {tmp_path / 'smtp-password'}, ca_file: {cert}")
        hd.config.write_text(hd.config.read_text().replace("smtp://127.0.0.1", f"{scheme}://127.0.0.1"))
        (tmp_path / "smtp-password").write_text("mail-password-0123\n")
        hd.start()
        request_restart(hd)
        assert wait(lambda: len(inbox.messages) >= 2), [j.get("lastError") for j in hd.jobs() if j["kind"] == "mail.send"]
        assert (b"helpdesk", b"mail-password-0123") in logins
        assert "mail-password-0123" not in "".join(hd.log(p) for p in hd.servers)
    finally:
        controller.stop()
