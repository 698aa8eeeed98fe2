#!/usr/bin/env python3
"""Writes the seed corpus under Fuzz/corpus/<target>/: real payloads in each format, signed with the
fixed keys and clock the fuzz targets use (Fuzz/Sources/WebhookTargets.swift, MailTarget.swift).
Run from the repository root; the output is committed, so this only runs when a seed changes."""
import base64
import hashlib
import hmac
import json
import pathlib
import shutil
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "Fuzz" / "corpus"
NOW = 1767225600  # WebhookTargets.now
SLACK_SECRET = b"fuzz-signing-secret"
LINK_KEY = b"fuzz-approval-link-key"
MAILGUN_KEY = b"fuzz-mailgun-key"


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)


def slash_command(text):
    return urllib.parse.urlencode({
        "token": "gIkuvaNzQIHg97ATvDxqgjtO", "team_id": "T0001", "team_domain": "example", "enterprise_id": "E0001",
        "channel_id": "C2147483705", "channel_name": "sre", "user_id": "U2147483697", "user_name": "steve",
        "command": "/helpdesk", "text": text, "api_app_id": "A123456",
        "response_url": "https://hooks.slack.com/commands/1234/5678",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0"})


def block_actions(action_id, value, ts="1767225600.000100"):
    payload = {"type": "block_actions", "api_app_id": "A1", "token": "legacy", "trigger_id": "t.1",
               "team": {"id": "T1", "domain": "example"}, "user": {"id": "U1", "username": "alice", "team_id": "T1"},
               "channel": {"id": "C1", "name": "sre"}, "response_url": "https://hooks.slack.com/actions/T1/1/abc",
               "container": {"type": "message", "message_ts": "1767225600.000100", "channel_id": "C1", "is_ephemeral": False},
               "message": {"type": "message", "ts": "1767225600.000100", "text": "", "blocks": []},
               "actions": [{"action_id": action_id, "block_id": "b", "value": value, "type": "button", "action_ts": ts}]}
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def slack_signed(body, stamp=NOW, mode="0", forge=False):
    base = f"v0:{stamp}:{body}".encode()
    signature = "v0=" + hmac.new(SLACK_SECRET, base, hashlib.sha256).hexdigest()
    if forge:
        signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    return f"{mode}{stamp}\n{signature}\n{body}"


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def approval_token(approval_id, approver, expires, key=LINK_KEY):
    payload = f"{approval_id}|{approver}|{expires}".encode()
    return b64url(payload) + "." + b64url(hmac.new(key, payload, hashlib.sha256).digest())


def csrf(token):
    return b64url(hmac.new(LINK_KEY, f"csrf|{token}".encode(), hashlib.sha256).digest())


def alert(name, status="firing", instance="prod-db-1:9187", fingerprint="c0ffee00c0ffee00"):
    return {"status": status, "labels": {"alertname": name, "instance": instance, "severity": "page", "database": "prod-db"},
            "annotations": {"summary": f"{name} on {instance}", "runbook_url": "https://runbooks.example.org/pg"},
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "2026-01-01T00:05:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=pg_up+%3D%3D+0", "fingerprint": fingerprint}


def alertmanager(alerts, status="firing", receiver="helpdesk", truncated=0):
    return json.dumps({"version": "4", "groupKey": "{}:{alertname=\"PostgresDown\"}", "truncatedAlerts": truncated,
                       "status": status, "receiver": receiver, "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
                       "commonLabels": {"severity": "page"}, "commonAnnotations": {},
                       "externalURL": "http://alertmanager:9093", "alerts": alerts}, indent=1)


REPLY = """Return-Path: <alice@example.org>
Received: from mail.example.org (mail.example.org [192.0.2.10]) by mx.example.org with ESMTPS id 4F2; Thu, 1 Jan 2026 00:01:00 +0000
Authentication-Results: mx.example.org; dkim=pass header.d=example.org header.s=s1; spf=pass smtp.mailfrom=alice@example.org; dmarc=pass header.from=example.org
From: Alice <alice@example.org>
To: approve+apr_1.{tag}@helpdesk.example.org
Subject: Re: Approval needed: terminate_backend on prod-db
In-Reply-To: <apr_1@helpdesk.example.org>
Message-ID: <reply-1@example.org>
Date: Thu, 1 Jan 2026 00:01:00 +0000
MIME-Version: 1.0
{body}"""

PLAIN = "Content-Type: text/plain; charset=utf-8\r\n\r\napprove looks right\r\n\r\nOn Thu, 1 Jan 2026 the helpdesk wrote:\r\n> Approve or deny\r\n"
QP = "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\ndeny =E2=80=94 not during peak hours=\n, please\n"
ALTERNATIVE = """Content-Type: multipart/alternative; boundary="b1"

preamble
--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

YXBwcm92ZQ0KDQpTZW50IGZyb20gbXkgcGhvbmUNCg==
--b1
Content-Type: text/html; charset=utf-8

<p>approve</p>
--b1--
epilogue
"""
MIXED = """Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain

deny
--inner--
--outer
Content-Type: application/pdf; name="x.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--outer--
"""
AUTO_REPLY = "From: mailer-daemon@example.org\nAuto-Submitted: auto-replied\nSubject: Out of office\n\nI am away.\n"


def mailgun_form(mime, stamp=NOW, token="a8ce0edb2dd8301dce2b3a3b8e1b7b22b2d4d4e4d4e4d4e4d4"):
    signature = hmac.new(MAILGUN_KEY, f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    return urllib.parse.urlencode({"recipient": "approve+apr_1.x@helpdesk.example.org", "sender": "alice@example.org",
                                   "subject": "Re: Approval needed", "body-mime": mime, "timestamp": str(stamp),
                                   "token": token, "signature": signature})


def sendgrid_multipart(mime, boundary="xYzZY"):
    fields = [("headers", "From: alice@example.org"), ("to", "approve+apr_1.x@helpdesk.example.org"),
              ("from", "Alice <alice@example.org>"), ("subject", "Re: Approval needed"), ("email", mime),
              ("charsets", '{"to":"UTF-8","subject":"UTF-8","from":"UTF-8"}'), ("SPF", "pass")]
    parts = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n" for name, value in fields)
    return f"multipart/form-data; boundary={boundary}", parts + f"--{boundary}--\r\n"


def main():
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    for index, text in enumerate(["diagnose prod-db queries are stuck", "db terminate_backend prod-db pid=4242",
                                  "k8s restart_deployment payments name=api", "approve apr_01J2 looks right",
                                  "deny apr_01J2", "explain evt_9", "incident inc_3", "status", "", "help me"]):
        write("form", f"slash-{index}", slash_command(text))
    token = approval_token("apr_1", "alice@example.org", NOW + 86400)
    write("form", "approval-page", urllib.parse.urlencode({"t": token, "csrf": csrf(token), "decision": "approve", "reason": "ok by me"}))
    write("form", "bad-escape", "decision=approve&reason=100%&t=%zz")
    write("form", "not-utf8", "reason=%ff%fe&decision=deny")
    write("form", "repeated", "a=1&a=2&&=x&b&c=%20+%2B")

    write("slack-interaction", "approve", block_actions("approve", "apr_1"))
    write("slack-interaction", "deny", block_actions("deny", "apr_2"))
    write("slack-interaction", "run-action", block_actions("run_action", json.dumps({"tool": "terminate_backend", "pid": 4242})))
    write("slack-interaction", "view-submission", urllib.parse.urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U1"}})}))

    command = slash_command("diagnose prod-db queries are stuck")
    write("slack-signature", "command", slack_signed(command))
    write("slack-signature", "interaction", slack_signed(block_actions("approve", "apr_1")))
    write("slack-signature", "self-signed", slack_signed(command, mode="1"))
    write("slack-signature", "forged", slack_signed(command, forge=True))
    write("slack-signature", "stale", slack_signed(command, stamp=NOW - 301))
    write("slack-signature", "empty-body", slack_signed(""))

    write("alertmanager", "firing", alertmanager([alert("PostgresDown")]))
    write("alertmanager", "resolved", alertmanager([alert("PostgresDown", status="resolved")], status="resolved"))
    write("alertmanager", "group", alertmanager([alert("PostgresTooManyConnections", instance=f"prod-db-{n}:9187", fingerprint=f"{n:016x}")
                                                 for n in range(1, 6)], truncated=2))
    write("alertmanager", "kubernetes", alertmanager([{**alert("KubePodCrashLooping"), "labels": {
        "alertname": "KubePodCrashLooping", "namespace": "payments", "pod": "api-7d9f", "severity": "warning"}}], receiver="k8s"))
    write("alertmanager", "version-3", alertmanager([alert("PostgresDown")]).replace('"version": "4"', '"version": "3"'))

    write("mime", "rfc822-plain", "message/rfc822\nBearer fuzz-token\n" + REPLY.format(tag="x", body=PLAIN))
    write("mime", "rfc822-qp", "message/rfc822\nBasic bWFpbDpmdXp6LXBhc3N3b3Jk\n" + REPLY.format(tag="y", body=QP))
    write("mime", "rfc822-alternative", "message/rfc822; charset=utf-8\n\n" + REPLY.format(tag="z", body=ALTERNATIVE))
    write("mime", "rfc822-nested", "message/rfc822\n\n" + REPLY.format(tag="w", body=MIXED))
    write("mime", "auto-reply", "text/plain\n\n" + AUTO_REPLY)
    write("mime", "mailgun-form", "application/x-www-form-urlencoded\n\n" + mailgun_form(REPLY.format(tag="m", body=PLAIN)))
    content_type, body = sendgrid_multipart(REPLY.format(tag="s", body=ALTERNATIVE))
    write("mime", "sendgrid-multipart", f"{content_type}\nBasic bWFpbDpmdXp6LXBhc3N3b3Jk\n{body}")
    write("mime", "unsupported", "application/json\n\n{}")

    write("approval-token", "valid", f"0apr_1\n{token}\n{csrf(token)}")
    write("approval-token", "other-approval", f"0apr_2\n{token}\n{csrf(token)}")
    write("approval-token", "expired", f"0apr_1\n{approval_token('apr_1', 'alice@example.org', NOW - 1)}\n")
    write("approval-token", "forged", f"0apr_1\n{approval_token('apr_1', 'alice@example.org', NOW + 60, key=b'other')}\nx")
    write("approval-token", "signed-claims", f"1apr_1\napr_1|alice@example.org|{NOW + 3600}")
    write("approval-token", "signed-bad-claims", "1apr_1\napr_1|alice|soon|extra")

    for target, folder in [("policy-yaml", "policies"), ("runbook-yaml", "runbooks")]:
        for path in sorted((ROOT / folder).glob("*.yaml")):
            write(target, path.name, path.read_bytes())
    example = (ROOT / "helpdesk.example.yaml").read_text()
    write("config-yaml", "helpdesk.example.yaml", example)
    # The secret files it names do not exist here: the same secrets come from the targets' environment.
    write("config-yaml", "example-without-files.yaml", "\n".join(line for line in example.split("\n") if "_file:" not in line))
    write("config-yaml", "minimal.yaml", "server:\n  listen: 127.0.0.1:8080\nstore:\n  path: .helpdesk/helpdesk.sqlite\n")


if __name__ == "__main__":
    main()
