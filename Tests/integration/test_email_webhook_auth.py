"""POST /webhooks/email is authenticated: no credential → 401 and nothing stored; Mailgun's signed form
decides once (a replay, a forgery or a stale timestamp is refused); SendGrid's ECDSA-signed post is
accepted and a forged one refused; a server with email replies but no inbound_email.auth does not start."""
import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import free_port, http
from test_approval_email import approvals_bot, reply, request_restart, smtp, wait  # noqa: F401 (smtp is a fixture)

MAILGUN_KEY = "mailgun-signing-key-0123456789"


def reply_addresses(inbox, approval_id):
    assert wait(lambda: len(inbox.messages) >= 2)
    addresses = {rcpts[0]: message["Reply-To"] for rcpts, message in inbox.messages}
    assert addresses["alice@example.org"].startswith(f"approvals+{approval_id}.")
    return addresses


def audit(hd, kind):
    events = [json.loads(line) for line in hd.run("audit", "export").stdout.splitlines()]
    return [e for e in events if e["kind"] == kind]


def votes(hd, approval_id):
    return [(v["principal"], v["via"]) for v in json.loads(hd.run("approvals", "show", approval_id).stdout)["votes"]]


def test_unauthenticated_posts_get_401_store_nothing_and_the_server_keeps_answering(helpdesk, tmp_path, smtp):
    controller, inbox = smtp
    port = free_port()
    hd = approvals_bot(helpdesk, tmp_path, controller, port=port, smtp_extra="allow_plaintext: true, reply_domain: replies.example.org")
    hd.start(port=port)
    approval_id = request_restart(hd)
    to = reply_addresses(inbox, approval_id)["alice@example.org"]
    message = reply(to, "alice@example.org", "approve")
    for headers in [{}, {"Authorization": "Bearer inbound-token-012345678"}, {"Authorization": "Basic aW5ib3VuZDp4"},
                    {"Authorization": "Bearer inbound-token-0123456789x"}]:
        status, response_headers, body = http("POST", hd.url("/webhooks/email"), body=message,
                                              headers={"Content-Type": "message/rfc822", **headers})
        assert status == 401, body
        assert response_headers.get("WWW-Authenticate") == "Bearer"
        error = json.loads(body)["error"]
        assert error["code"] == "unauthenticated" and "inbound-token" not in body.decode()
    # A malformed form from a stranger is refused at the door too, before it is read.
    assert http("POST", hd.url("/webhooks/email"), body=b"%", headers={"Content-Type": "application/x-www-form-urlencoded"})[0] == 401
    assert http("GET", hd.url("/readyz"))[0] == 200
    assert votes(hd, approval_id) == [] and audit(hd, "email_rejected") == [], "nothing stored"
    assert "email webhook refused: bad credentials" in hd.log(hd.servers[0])
    assert "inbound-token-0123456789" not in hd.log(hd.servers[0])

    # Authenticated but refused: what is copied from the message into the audit log is capped.
    huge = "x" * 20_000  # under the 32 KiB header bound, so the message is read and its fields copied
    status, _, body = http("POST", hd.url("/webhooks/email"), headers={"Content-Type": "message/rfc822", "Authorization": "Bearer inbound-token-0123456789"},
                           body=f"From: {huge}@example.org\r\nTo: {huge}@replies.example.org\r\nSubject: {huge}\r\n\r\napprove\r\n".encode())
    assert status == 406, body
    rejected = audit(hd, "email_rejected")
    assert len(rejected) == 1
    assert len(rejected[0]["principal"].encode()) <= 200 and len(json.loads(rejected[0]["data"])["subject"].encode()) <= 200
    assert len(rejected[0]["data"]) < 600
    assert hd.run("audit", "verify").returncode == 0


def mailgun_form(raw, recipient, timestamp=None, token=None, key=MAILGUN_KEY):
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    token = token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return urllib.parse.urlencode({"recipient": recipient, "body-mime": raw, "timestamp": timestamp, "token": token,
                                   "signature": signature, "sender": "alice@example.org"}).encode()


def test_mailgun_signed_form_decides_once(helpdesk, tmp_path, smtp):
    controller, inbox = smtp
    port = free_port()
    hd = approvals_bot(helpdesk, tmp_path, controller, port=port, smtp_extra="allow_plaintext: true, reply_domain: replies.example.org",
                       inbound=f"{{auth: mailgun, mailgun_signing_key_file: {tmp_path / 'mailgun-key'}, replay_window: 2m}}")
    (tmp_path / "mailgun-key").write_text(MAILGUN_KEY + "\n")
    hd.start(port=port)
    approval_id = request_restart(hd)
    to = reply_addresses(inbox, approval_id)

    def post(form):
        status, _, body = http("POST", hd.url("/webhooks/email"), body=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
        return status, json.loads(body)

    alice = reply(to["alice@example.org"], "alice@example.org", "approve").decode()
    assert post(mailgun_form(alice, to["alice@example.org"], key="not-the-key"))[0] == 401, "forged"
    assert post(mailgun_form(alice, to["alice@example.org"], timestamp=str(int(time.time()) - 600)))[0] == 401, "stale"
    assert post(mailgun_form(alice, to["alice@example.org"], timestamp="soon"))[0] == 401
    assert votes(hd, approval_id) == []

    signed = mailgun_form(alice, to["alice@example.org"])
    status, body = post(signed)
    assert status == 200 and body["result"] == "decided", body
    status, body = post(signed)
    assert status == 401 and body["error"]["code"] == "unauthenticated", "the same token again is a replay"
    assert votes(hd, approval_id) == [("alice", "email-reply")]

    carol = reply(to["carol@example.org"], "carol@example.org", "deny").decode()
    status, body = post(mailgun_form(carol, to["carol@example.org"]))
    assert status == 200, body
    assert json.loads(hd.run("approvals", "show", approval_id).stdout)["status"] == "denied"
    log = hd.log(hd.servers[0])
    assert "replayed" in log and "mismatch" in log and "stale" in log
    assert MAILGUN_KEY not in log


def test_sendgrid_signed_post_is_accepted_and_a_forged_one_refused(helpdesk, tmp_path, smtp):
    controller, inbox = smtp
    private_key = ec.generate_private_key(ec.SECP256R1())
    der = private_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    port = free_port()
    hd = approvals_bot(helpdesk, tmp_path, controller, port=port, smtp_extra="allow_plaintext: true, reply_domain: replies.example.org",
                       inbound=f'{{auth: sendgrid, sendgrid_public_key: "{base64.b64encode(der).decode()}"}}')
    hd.start(port=port)
    approval_id = request_restart(hd)
    to = reply_addresses(inbox, approval_id)["alice@example.org"]
    boundary = "xYzZY"
    raw = reply(to, "alice@example.org", "approve").decode()
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n{to}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n{raw}\r\n--{boundary}--\r\n").encode()

    def post(body, timestamp, signed_body=None, key=private_key):
        signature = key.sign(timestamp.encode() + (signed_body or body), ec.ECDSA(hashes.SHA256()))
        status, _, response = http("POST", hd.url("/webhooks/email"), body=body, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp})
        return status, json.loads(response)

    now = str(int(time.time()))
    forged = form.replace(b"approve", b"deny!!!")
    assert post(forged, now, signed_body=form)[0] == 401, "the body was changed after signing"
    assert post(form, now, key=ec.generate_private_key(ec.SECP256R1()))[0] == 401, "signed by another key"
    assert post(form, str(int(time.time()) - 3600))[0] == 401, "stale"
    status, _, _ = http("POST", hd.url("/webhooks/email"), body=form, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 401, "unsigned"
    assert votes(hd, approval_id) == []
    status, body = post(form, now)
    assert status == 200 and body["result"] == "decided", body
    assert votes(hd, approval_id) == [("alice", "email-reply")]


def test_replies_without_inbound_auth_refuse_to_start(helpdesk, tmp_path, smtp):
    controller, _ = smtp
    hd = approvals_bot(helpdesk, tmp_path, controller, smtp_extra="allow_plaintext: true, reply_domain: replies.example.org")
    hd.config.write_text("\n".join(line for line in hd.config.read_text().splitlines() if not line.startswith("inbound_email:")) + "\n")
    check = hd.run("config", "check", str(hd.config))
    assert check.returncode == 2
    assert "smtp.reply_domain" in check.stdout + check.stderr and "inbound_email.auth" in check.stdout + check.stderr
    assert f"{hd.config}:" in check.stdout + check.stderr, "file:line"
    process = hd.start(wait=False)
    assert process.wait(timeout=20) == 2
    assert "inbound_email.auth" in hd.log(process)

    # A method named, but its credential resolves to nothing (the variable is not set): refused too.
    hd.config.write_text(hd.config.read_text() + "inbound_email: {auth: mailgun}\n")
    check = hd.run("config", "check", str(hd.config), env={"MAILGUN_WEBHOOK_SIGNING_KEY": ""})
    assert check.returncode == 2 and "inbound_email.mailgun_signing_key_file" in check.stdout + check.stderr
