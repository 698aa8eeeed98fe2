"""Approval links: a GET only shows (a mail scanner changes nothing); the page's form decides once;
reused, expired, forged and foreign links are refused with a clear page and a 4xx."""
import html
import json
import re
import time
import urllib.parse

from conftest import http

POLICY = 'version: "1"\npolicies:\n  - name: all\n    rules:\n      - action: write\n        effect: require_approval\n        conditions: {approval_quorum: 2}\n'


def test_links_show_on_get_and_decide_only_through_the_form(helpdesk, tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(POLICY)
    (tmp_path / "token").write_text("token-bob-0123456789")
    (tmp_path / "link-key").write_text("approval-link-key-0123456789")
    hd = helpdesk(f"""
store: {{path: state/hd.sqlite}}
server: {{public_base_url: "http://127.0.0.1:1"}}
policies: {{dir: {tmp_path / 'policies'}}}
approvals: {{link_key_file: {tmp_path / 'link-key'}}}
infrastructure: {{k8s_clusters: {{prod: {{context: nowhere}}}}}}
users: {{alice: {{roles: [sre]}}, carol: {{roles: [sre]}}}}
api: {{tokens: {{bob: {{token_file: {tmp_path / 'token'}}}}}}}
""")
    hd.start()

    def request_approval(name):
        status, _, body = http("POST", hd.url("/api/v1/k8s/rollout_restart"),
                               body=json.dumps({"target": "prod", "arguments": {"namespace": "orders", "name": name}}).encode(),
                               headers={"Authorization": "Bearer token-bob-0123456789", "Content-Type": "application/json"})
        assert status == 202
        return json.loads(body)["approval"]["id"]

    def link(approval_id, who, *extra):
        result = hd.run("approvals", "link", approval_id, "--for", who, *extra)
        assert result.returncode == 0, result.stderr
        parsed = urllib.parse.urlparse(result.stdout.strip())
        return parsed.path + "?" + parsed.query, urllib.parse.parse_qs(parsed.query)["t"][0]

    approval_id = request_approval("api")
    path, token = link(approval_id, "alice")

    # A scanner (or a person) opening the link changes nothing.
    for _ in range(3):
        status, headers, body = http("GET", hd.url(path))
        assert status == 200 and headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    page = body.decode()
    assert "rollout_restart" in page and "Approve as alice" in page and "<script" not in page
    assert "&quot;namespace&quot;" in page, "everything shown is escaped"
    record = json.loads(hd.run("approvals", "show", approval_id).stdout)
    assert record["status"] == "pending" and record["votes"] == []

    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"t": html.unescape(token), "csrf": html.unescape(csrf), "decision": "approve", "reason": "looks right"}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    # A form without the page's CSRF value decides nothing.
    bad = urllib.parse.urlencode({"t": token, "csrf": "x" + csrf[1:], "decision": "approve"}).encode()
    assert http("POST", hd.url(f"/approvals/{approval_id}"), body=bad, headers=headers)[0] == 403

    status, _, body = http("POST", hd.url(f"/approvals/{approval_id}"), body=form, headers=headers)
    assert status == 200 and "approval recorded" in body.decode()
    record = json.loads(hd.run("approvals", "show", approval_id).stdout)
    assert [(v["principal"], v["via"]) for v in record["votes"]] == [("alice", "email-link")]

    # The same link again: refused, nothing new recorded.
    status, _, body = http("POST", hd.url(f"/approvals/{approval_id}"), body=form, headers=headers)
    assert status == 409 and "already" in body.decode()
    assert http("GET", hd.url(path))[0] == 409

    # One character changed in the middle of the signature (the last one may only carry padding bits): forged.
    middle = len(token) - 20
    forged = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]
    assert http("GET", hd.url(f"/approvals/{approval_id}?t={forged}"))[0] == 403
    # Another request's link used on this one: refused.
    other_id = request_approval("web")
    _, other_token = link(other_id, "carol")
    assert http("GET", hd.url(f"/approvals/{approval_id}?t={other_token}"))[0] == 403
    # An expired link.
    expired_path, _ = link(other_id, "carol", "--valid-for", "1")
    time.sleep(2)
    status, _, body = http("GET", hd.url(expired_path))
    assert status == 410 and "expired" in body.decode()
    record = json.loads(hd.run("approvals", "show", other_id).stdout)
    assert record["votes"] == []


def test_links_signed_with_the_previous_key_still_work_after_rotation(helpdesk, tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(POLICY)
    (tmp_path / "token").write_text("token-bob-0123456789")
    hd = helpdesk(f"""
store: {{path: state/hd.sqlite}}
server: {{public_base_url: "http://127.0.0.1:1"}}
policies: {{dir: {tmp_path / 'policies'}}}
infrastructure: {{k8s_clusters: {{prod: {{context: nowhere}}}}}}
users: {{alice: {{roles: [sre]}}, carol: {{roles: [sre]}}}}
api: {{tokens: {{bob: {{token_file: {tmp_path / 'token'}}}}}}}
""")
    old = {"HELPDESK_APPROVALS_LINK_KEY": "approval-link-key-old-0123456789"}
    rotated = {"HELPDESK_APPROVALS_LINK_KEY": "approval-link-key-new-0123456789", "HELPDESK_APPROVALS_LINK_KEY_ID": "k2",
               "HELPDESK_APPROVALS_PREVIOUS_LINK_KEY": old["HELPDESK_APPROVALS_LINK_KEY"],
               "HELPDESK_APPROVALS_PREVIOUS_LINK_KEY_ID": "k1"}
    hd.start(env=rotated)
    status, _, body = http("POST", hd.url("/api/v1/k8s/rollout_restart"),
                           body=json.dumps({"target": "prod", "arguments": {"namespace": "orders", "name": "api"}}).encode(),
                           headers={"Authorization": "Bearer token-bob-0123456789", "Content-Type": "application/json"})
    assert status == 202
    approval_id = json.loads(body)["approval"]["id"]

    def link(who, env):
        result = hd.run("approvals", "link", approval_id, "--for", who, env=env)
        assert result.returncode == 0, result.stderr
        parsed = urllib.parse.urlparse(result.stdout.strip())
        return parsed.path + "?" + parsed.query, urllib.parse.parse_qs(parsed.query)["t"][0]

    # A link made before the rotation, under the old key (id k1), opens and decides on the rotated server.
    path, token = link("alice", old)
    assert token.startswith("k1.")
    status, _, body = http("GET", hd.url(path))
    page = body.decode()
    assert status == 200 and "Approve as alice" in page, page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"t": html.unescape(token), "csrf": html.unescape(csrf), "decision": "approve"}).encode()
    status, _, body = http("POST", hd.url(f"/approvals/{approval_id}"), body=form,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and "approval recorded" in body.decode()
    record = json.loads(hd.run("approvals", "show", approval_id, env=rotated).stdout)
    assert [(v["principal"], v["via"]) for v in record["votes"]] == [("alice", "email-link")]

    # New links carry the new key's id; a key id the server does not hold is refused as forged.
    new_path, new_token = link("carol", rotated)
    assert new_token.startswith("k2.") and http("GET", hd.url(new_path))[0] == 200
    unknown_path, _ = link("carol", {"HELPDESK_APPROVALS_LINK_KEY": "some-other-key-0123456789", "HELPDESK_APPROVALS_LINK_KEY_ID": "k3"})
    assert http("GET", hd.url(unknown_path))[0] == 403
