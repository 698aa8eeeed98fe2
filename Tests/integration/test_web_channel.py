"""The web channel against the real binary. In headless Chromium, with `helpdesk demo`: sign in before the
alert, watch it and its diagnosis arrive live, open the incident (its bundle downloads, its Run button asks
for the fix with the incident as evidence), approve as one DBA, see the request wait, approve as the other,
see the fix run; every view screenshotted at desktop and phone sizes (kept as artifacts) and none scrolling
sideways on a phone; the feed without JavaScript. Over plain HTTP, against `helpdesk serve`: a vote from the
feed's button, the sign-in page's hint when nobody can sign in; CSRF, session fixation, forged cookies, the
login rate limit, the proxy identity header, security headers, hostile bodies and a button naming a thread
that does not exist, each refused."""
import base64
import hashlib
import hmac
import io
import json
import re
import socket
import subprocess
import tarfile
import time
import urllib.parse

import pytest

from browser import Browser
from conftest import Helpdesk, helpdesk_binary
from web_client import DEMO_LINES, WebClient, approval_state, artifacts, demo, wait_until  # noqa: F401 (demo is a fixture)

PASSWORDS = {"oncall": "oncall-password-0123", "dba1": "dba1-password-0123", "dba2": "dba2-password-0123"}
# (id, roles, email); noor has no password: only the proxy header can sign her in.
USERS = [("oncall", "oncall", None), ("dba1", "dba", None), ("dba2", "dba", "dba2@example.org"), ("noor", "sre", "noor@example.org")]
SESSION_KEY = "web-session-key-for-tests-0123456789abcdef"
API_TOKEN = "token-oncall-0123456789"
POLICY = ('version: "1"\npolicies:\n  - name: all\n    rules:\n      - action: write\n        effect: require_approval\n'
          '        conditions: {approval_quorum: 2, approvers: [role:dba]}\n')
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
DESKTOP, PHONE = (1280, 800, False, 1), (390, 844, True, 2)


# --- helpdesk serve with the web channel ----------------------------------------------------------

@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    """A users file whose passwords are hashed by `helpdesk hash-key` (the password on standard input)."""
    folder = tmp_path_factory.mktemp("web-users")
    lines = ['version: "1"', "users:"]
    for name, role, email in USERS:
        lines += [f"  - id: {name}", f"    roles: [{role}]"] + ([f"    email: {email}"] if email else [])
        if name in PASSWORDS:
            result = subprocess.run([helpdesk_binary(), "hash-key"], input=PASSWORDS[name], capture_output=True, text=True, timeout=60)
            hashed = result.stdout.strip()
            if result.returncode != 0 or not hashed.startswith("$argon2id$"):
                pytest.fail(f"helpdesk hash-key did not hash {name}'s password: {result.stdout}{result.stderr}", pytrace=False)
            lines.append(f'    password_argon2id: "{hashed}"')
    path = folder / "users.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def web_server(tmp_path, users_file):
    """Starts `helpdesk serve` (SQLite store, the users file or `users`, two-DBA policy, an API token for oncall)
    with `web:` holding the session key plus `extra` (YAML flow entries); each server in a folder of its own."""
    servers = []

    def start(extra: str = "", name: str = "server", users=None) -> Helpdesk:
        folder = tmp_path / name
        (folder / "policies").mkdir(parents=True)
        (folder / "policies" / "p.yaml").write_text(POLICY)
        (folder / "token").write_text(API_TOKEN)
        (folder / "session.key").write_text(SESSION_KEY)
        web = f"session_key_file: {folder / 'session.key'}, session_ttl: 2h" + (f", {extra}" if extra else "")
        hd = Helpdesk(folder, f"""
store: {{path: state/hd.sqlite}}
users: {{file: {users or users_file}}}
policies: {{dir: {folder / 'policies'}}}
infrastructure: {{k8s_clusters: {{prod: {{context: nowhere}}}}}}
api: {{tokens: {{oncall: {{token_file: {folder / 'token'}}}}}}}
jobs: {{poll_interval: 50ms, backoff_base: 50ms, backoff_max: 100ms}}
web: {{{web}}}
""")
        servers.append(hd)
        hd.start()
        return hd

    yield start
    for hd in servers:
        hd.stop_all()


def client(hd: Helpdesk, **kwargs) -> WebClient:
    return WebClient(hd.url("/"), **kwargs)


def request_approval(hd: Helpdesk) -> str:
    """oncall asks, over the API, for a write the policy wants two DBAs to approve."""
    response = client(hd).request("POST", "/api/v1/k8s/rollout_restart",
                                  body=json.dumps({"target": "prod", "arguments": {"namespace": "orders", "name": "api"}}).encode(),
                                  headers={"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"})
    assert response.status == 202, response.describe()
    return json.loads(response.body)["approval"]["id"]


def approval_record(hd: Helpdesk, approval_id: str) -> dict:
    result = hd.run("approvals", "show", approval_id)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def signed_out(response) -> bool:
    """A page answered as to someone not signed in: 303 to /login."""
    return response.status == 303 and urllib.parse.urlsplit(response.location or "").path == "/login"


def redirect_path(response) -> str:
    """Where a redirect goes, as path?query; one to another site fails."""
    location = urllib.parse.urlsplit(response.location or "")
    assert location.netloc in ("",) or location.netloc.startswith("127.0.0.1:"), f"redirect off the site: {response.location}"
    return location.path + (f"?{location.query}" if location.query else "")


def assert_page_headers(response, what):
    headers = {k.lower(): v for k, v in response.headers.items()}
    assert headers.get("content-type", "").replace(" ", "").lower() == "text/html;charset=utf-8", (what, headers)
    assert "no-store" in headers.get("cache-control", ""), (what, headers)
    directives = lambda policy: {" ".join(d.split()) for d in policy.split(";") if d.strip()}  # noqa: E731
    assert directives(headers.get("content-security-policy", "")) == directives(CSP), (what, headers.get("content-security-policy"))
    assert headers.get("x-frame-options") == "DENY", (what, headers)
    assert headers.get("referrer-policy") == "same-origin", (what, headers)
    assert headers.get("x-content-type-options") == "nosniff", (what, headers)
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), f"{what}: an inline script (CSP forbids it)"
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", response.text), f"{what}: an inline event handler (CSP forbids it)"


def assert_strict_cookie(cookie, name, path):
    assert cookie is not None, f"no Set-Cookie {name}"
    assert cookie.attrs.get("httponly") is True, cookie
    assert cookie.attrs.get("secure") is True, cookie
    assert str(cookie.attrs.get("samesite", "")).lower() == "strict", cookie
    assert cookie.attrs.get("path") == path, cookie


def test_pages_need_a_session_and_carry_the_security_headers(web_server):
    hd = web_server()
    approval_id = request_approval(hd)
    anonymous = client(hd)

    # Not signed in: pages send to the sign-in page (with where to come back to), POSTs are refused, events 401.
    for path in ["/", "/web/approvals", f"/web/approvals/{approval_id}", "/web/incidents", "/web/audit", "/web/alerts"]:
        response = anonymous.get(path)
        assert signed_out(response), (path, response.describe())
        assert urllib.parse.parse_qs(urllib.parse.urlsplit(response.location).query).get("next") == [path.split("?")[0]], response.location
    for path in ["/web/command", "/web/action", f"/web/approvals/{approval_id}", "/logout"]:
        assert anonymous.post(path, {"csrf": "x", "text": "help"}).status == 403, path
    assert anonymous.get("/web/events").status == 401
    assert anonymous.get("/web/feed").status in (303, 401)
    for path, kind in [("/web/app.js", "javascript"), ("/web/style.css", "css")]:
        response = anonymous.get(path)
        assert response.status == 200 and kind in response.header("Content-Type"), (path, response.describe())
        assert "max-age=300" in response.header("Cache-Control"), response.header("Cache-Control")
    assert "EventSource" in anonymous.get("/web/app.js").text

    # The sign-in page: its nonce cookie is strict, HttpOnly, Secure, for /login only, short-lived.
    login = anonymous.get("/login")
    assert login.status == 200, login.describe()
    assert_page_headers(login, "/login")
    nonce = login.cookie("helpdesk_login")
    assert_strict_cookie(nonce, "helpdesk_login", "/login")
    assert 0 < int(nonce.attrs.get("max-age", "600")) <= 600, nonce
    form = login.page.find("form", id="login")
    assert form is not None and form.get("method", "").lower() == "post" and form.get("action") == "/login", login.text
    assert {"user", "password", "csrf", "next"} <= {e.get("name") for e in form.find_all("input")}, login.text
    assert form.find("input", name="password").get("type") == "password"
    assert no_passwords_hint(login) is None, f"people here have passwords, yet /login says nobody can sign in: {login.text}"

    # Signing in: a strict session cookie living session_ttl (2h).
    dba1 = client(hd)
    response = dba1.login("dba1", PASSWORDS["dba1"])
    assert redirect_path(response) == "/", response.location
    session = response.cookie("__Host-helpdesk_session")
    assert_strict_cookie(session, "__Host-helpdesk_session", "/")
    assert session.attrs.get("max-age") == "7200", session
    assert PASSWORDS["dba1"] not in response.text

    for path in ["/", "/web/approvals", f"/web/approvals/{approval_id}", "/web/incidents", "/web/audit", "/web/alerts"]:
        page = dba1.get(path)
        assert page.status == 200, (path, page.describe())
        assert_page_headers(page, path)
        nav = page.page.find("nav", id="nav")
        assert nav is not None, f"{path} has no nav#nav"
        assert {"/", "/web/approvals", "/web/incidents", "/web/audit", "/web/alerts"} <= {a.get("href") for a in nav.find_all("a")}
        assert nav.find("form", id="logout") is not None or page.page.find("form", id="logout") is not None
        assert "dba1" in page.page.text()
    feed = dba1.get("/")
    assert feed.page.find("main", id="feed") is not None
    command = feed.page.find("form", id="command")
    assert command is not None and command.get("action") == "/web/command" and command.find("input", name="text") is not None
    assert any(s.get("src") == "/web/app.js" for s in feed.page.find_all("script"))

    # Signing out expires the cookie and needs the form's csrf.
    assert dba1.post("/logout", {"csrf": "wrong"}).status == 403
    assert dba1.get("/").status == 200, "a refused sign-out changes nothing"
    response = dba1.logout()
    assert response.status == 303 and urllib.parse.urlsplit(response.location).path == "/login", response.describe()
    assert response.cookie("__Host-helpdesk_session") is not None and response.cookie("__Host-helpdesk_session").expired, response.set_cookies
    assert signed_out(dba1.get("/"))


NOBODY_CAN_SIGN_IN = "Nobody can sign in"


def no_passwords_hint(login) -> str | None:
    """The sign-in page's hint that no one can sign in (login.mustache's `no_passwords` notice: a p.notice, not
    .refused, in main#signin), or None."""
    main = login.page.find("main", id="signin")
    for notice in (main.find_all("p", cls="notice") if main is not None else []):
        if "refused" not in notice.get("class", "").split() and NOBODY_CAN_SIGN_IN in notice.text():
            return notice.text()
    return None


def test_the_sign_in_page_says_so_when_nobody_can_sign_in(web_server, tmp_path):
    # A users file whose people have no password, and no identity header: no way to sign in on the web.
    users = tmp_path / "users-without-passwords.yaml"
    users.write_text('version: "1"\nusers:\n' + "".join(f"  - id: {name}\n    roles: [{role}]\n" for name, role, _ in USERS))
    hd = web_server(name="nobody", users=users)
    login = client(hd).get("/login")
    assert login.status == 200 and login.page.find("form", id="login") is not None, login.describe()
    hint = no_passwords_hint(login)
    assert hint is not None, f"/login does not say that nobody can sign in (no user has a password, no identity header):\n{login.text}"
    assert "password_argon2id" in hint and "identity_header" in hint, hint
    # Trying anyway changes nothing.
    assert client(hd).login("dba1", PASSWORDS["dba1"], expect=None).cookie("__Host-helpdesk_session") is None


def test_after_signing_in_only_a_path_on_this_site_is_followed(web_server):
    hd = web_server()
    for wanted, expected in [("/web/approvals", "/web/approvals"), ("/web/audit?kind=web_login", "/web/audit?kind=web_login"),
                             ("//evil.example/x", "/"), ("/\\evil.example", "/"), ("https://evil.example/", "/"),
                             ("javascript:alert(1)", "/"), ("", "/")]:
        person = client(hd)
        fields = person.login_form()
        fields.update(user="dba2", password=PASSWORDS["dba2"], next=wanted)
        response = person.post("/login", fields)
        assert response.status == 303, (wanted, response.describe())
        assert redirect_path(response) == expected, (wanted, response.location)


def test_forms_without_the_right_csrf_are_refused(web_server):
    hd = web_server()
    approval_id = request_approval(hd)
    dba1, dba2 = client(hd), client(hd)
    dba1.login("dba1", PASSWORDS["dba1"])
    dba2.login("dba2", PASSWORDS["dba2"])
    good, other = dba1.csrf(), dba2.csrf()
    assert good and good != other, "the csrf value belongs to the session"
    vote = f"/web/approvals/{approval_id}"
    posts = [("/web/command", {"text": "help"}), (vote, {"decision": "approve", "reason": "csrf test"}),
             ("/web/action", {"kind": "approve", "value": approval_id, "thread": f"approval:{approval_id}"})]
    def web_jobs():
        return [j for j in hd.jobs() if j["kind"].startswith("web.")]
    for path, fields in posts:
        # One character changed (a token that already starts with "x" gets a "y": 1 in 64 did not change it).
        for csrf in [None, "", ("y" if good[0] == "x" else "x") + good[1:], other, good + "x"]:
            body = {**fields, **({"csrf": csrf} if csrf is not None else {})}
            response = dba1.post(path, body)
            assert response.status == 403, (path, csrf, response.describe())
    # Not in the query string either, nor from a client that only has the cookie value.
    assert dba1.post(f"/web/command?csrf={urllib.parse.quote(good)}", {"text": "help"}).status == 403
    assert approval_record(hd, approval_id)["votes"] == [], "a refused form voted"
    assert web_jobs() == [], "a refused form queued a job"

    # The same forms with the page's csrf go through.
    assert dba1.post("/web/command", {"csrf": good, "text": "help"}).status == 303
    assert [j["kind"] for j in web_jobs()] == ["web.command"]
    response = dba1.post(vote, {"csrf": good, "decision": "approve", "reason": "with csrf"})
    assert response.status == 200, response.describe()
    assert [(v["principal"], v["via"]) for v in approval_record(hd, approval_id)["votes"]] == [("dba1", "web")]

    # Sign-in CSRF: the form's value must pair with this browser's helpdesk_login cookie.
    def attempt(jar_cookie: bool, csrf: str | None, cookie_from_other_get: bool = False):
        person = client(hd)
        fields = person.login_form()
        if cookie_from_other_get:
            person.login_form()  # a second GET: a new nonce, so the first form's value no longer pairs
        if not jar_cookie:
            person.jar.pop("helpdesk_login", None)
        fields.update(user="dba1", password=PASSWORDS["dba1"])
        if csrf is None:
            fields.pop("csrf", None)
        elif csrf != "keep":
            fields["csrf"] = csrf
        response = person.post("/login", fields)
        return response, person
    for arguments in [(True, None), (True, ""), (True, "forged"), (False, "keep"), (True, "keep", True)]:
        response, person = attempt(*arguments)
        assert response.status == 403, (arguments, response.describe())
        assert response.cookie("__Host-helpdesk_session") is None and person.session is None, arguments
    response, person = attempt(True, "keep")
    assert response.status == 303 and person.session, response.describe()


def test_signing_in_always_starts_a_new_session(web_server):
    hd = web_server()
    # An attacker plants a cookie of their choosing, then the victim signs in with it in the jar.
    planted = "v1.AAAAAAAAAAAAAAAAAAAAAA.ZGJhMQ.9999999999.attacker"
    victim = client(hd)
    victim.jar["__Host-helpdesk_session"] = (planted, "/")
    response = victim.login("dba1", PASSWORDS["dba1"])
    assert response.cookie("__Host-helpdesk_session").value != planted
    assert victim.session != planted
    assert victim.get("/").status == 200
    alone = client(hd)
    alone.jar["__Host-helpdesk_session"] = (planted, "/")
    response = alone.get("/")
    assert signed_out(response), response.describe()

    # The attacker's own valid session planted in the victim's browser: signing in replaces it, and
    # the attacker's cookie still says who the attacker is, not the victim.
    attacker = client(hd)
    attacker.login("oncall", PASSWORDS["oncall"])
    victim = client(hd)
    victim.jar["__Host-helpdesk_session"] = (attacker.session, "/")
    victim.login("dba2", PASSWORDS["dba2"])
    assert victim.session != attacker.session
    sid = lambda token: token.split(".")[1] if token.count(".") == 4 else token  # noqa: E731
    assert sid(victim.session) != sid(attacker.session), "the session id must be new, not the planted one re-signed"
    page = attacker.get("/")
    assert page.status == 200 and "oncall" in page.page.text() and "dba2" not in page.page.text()
    # Two sign-ins of the same person are two sessions.
    again = client(hd)
    again.login("dba2", PASSWORDS["dba2"])
    assert sid(again.session) != sid(victim.session)


def b64url(data: bytes, padded: bool) -> str:
    text = base64.urlsafe_b64encode(data).decode()
    return text if padded else text.rstrip("=")


def test_a_forged_or_tampered_session_cookie_signs_no_one_in(web_server):
    hd = web_server()
    person = client(hd)
    person.login("dba1", PASSWORDS["dba1"])
    token = person.session
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != "v1":
        pytest.fail(f"the session cookie is not v1.<sid>.<user-b64url>.<expires-unix>.<mac> (SPEC.md): {token!r}", pytrace=False)
    _, sid, user_part, expires, mac = parts
    assert expires.isdigit() and 7000 < int(expires) - time.time() <= 7200 + 5, f"expires is not now + session_ttl: {expires}"

    # Find how the mac is spelled (the user in the signed text as the name or its base64url; padding or not),
    # so that tokens signed with the real key can be made below: the refusals then test the checks, not typos.
    def sign(sid, name, expires, key=SESSION_KEY, scheme=None):
        padded, encoded_user = scheme
        user_field = b64url(name.encode(), padded) if encoded_user else name
        digest = hmac.new(key.encode(), f"v1|{sid}|{user_field}|{expires}".encode(), hashlib.sha256).digest()
        return f"v1.{sid}.{b64url(name.encode(), padded)}.{expires}.{b64url(digest, padded)}"
    schemes = [(padded, encoded) for padded in (False, True) for encoded in (False, True)]
    scheme = next((s for s in schemes if sign(sid, "dba1", expires, scheme=s) == token), None)
    if scheme is None:
        pytest.fail(f"the session cookie's mac is not base64url(HMAC-SHA256(session_key, \"v1|sid|user|expires\")) (SPEC.md): {token!r}",
                    pytrace=False)

    def visit(value):
        return client(hd).get("/", headers={"Cookie": f"__Host-helpdesk_session={value}"}, use_jar=False)
    future = str(int(time.time()) + 3600)
    # The control: a token made with the key is accepted, so each refusal below is that check's doing.
    control = visit(sign(sid, "dba2", future, scheme=scheme))
    assert control.status == 200 and "dba2" in control.page.text(), control.describe()

    middle = len(mac) // 2
    forged = {
        "one character of the mac changed": f"v1.{sid}.{user_part}.{expires}.{mac[:middle]}{'A' if mac[middle] != 'A' else 'B'}{mac[middle + 1:]}",
        "another user under dba1's mac": f"v1.{sid}.{b64url(b'dba2', scheme[0])}.{expires}.{mac}",
        "a later expiry under the old mac": f"v1.{sid}.{user_part}.{future}.{mac}",
        "another sid under the old mac": f"v1.{b64url(bytes(16), scheme[0])}.{user_part}.{expires}.{mac}",
        "signed with another key": sign(sid, "dba1", future, key="another-key-0123456789abcdef0123456789", scheme=scheme),
        "expired though signed with the key": sign(sid, "dba1", str(int(time.time()) - 10), scheme=scheme),
        "a user not in the directory": sign(sid, "mallory", future, scheme=scheme),
        "a user without a password": sign(sid, "noor", future, scheme=scheme),
        "v2 instead of v1": "v2" + token[2:],
        "no mac": f"v1.{sid}.{user_part}.{expires}.",
        "too few parts": f"v1.{sid}.{user_part}.{expires}",
        "not a token": "%%%",
        "very long": "v1." + "A" * 5000,
    }
    for why, value in forged.items():
        response = visit(value)
        assert signed_out(response), (why, value, response.describe())
    assert hd.servers[0].poll() is None
    assert visit(token).status == 200, "the real token still works"


def test_wrong_passwords_lock_the_name_and_the_source_for_a_while(web_server):
    hd = web_server()
    wrong_text = "Wrong user name or password."

    def try_password(user, password, source):
        person = client(hd, source=source)
        return person.login(user, password, expect=None)

    # Per name: five wrong passwords for dba1 lock the name for the addresses that failed on it; an address
    # with no failure this minute still gets its try, so guessing cannot lock the DBA out during an incident.
    statuses = []
    for n in range(5):
        response = try_password("dba1", f"wrong-{n}", "127.0.0.2" if n < 3 else f"127.0.0.{n}")
        statuses.append(response.status)
        assert wrong_text in response.page.text(), response.describe()
        assert response.cookie("__Host-helpdesk_session") is None
    assert statuses == [401] * 5, statuses
    locked = try_password("dba1", PASSWORDS["dba1"], "127.0.0.2")
    assert locked.status == 429, f"the right password from an address that failed on a locked name: {locked.describe()}"
    assert int(locked.header("Retry-After")) >= 1, locked.describe()
    assert locked.cookie("__Host-helpdesk_session") is None
    fresh_wrong = try_password("dba1", "wrong-fresh", "127.0.0.19")
    assert fresh_wrong.status == 401, f"a clean address gets one try at a locked name: {fresh_wrong.describe()}"
    assert try_password("dba1", PASSWORDS["dba1"], "127.0.0.19").status == 429, "and its failure then counts there"
    assert try_password("dba1", PASSWORDS["dba1"], "127.0.0.20").status == 303, "the owner from a clean address signs in"
    assert try_password("dba2", PASSWORDS["dba2"], "127.0.0.21").status == 303, "another name is not locked"

    # An unknown name reads the same as a wrong password.
    unknown = try_password("nobody", "whatever-password", "127.0.0.30")
    assert unknown.status == 401 and wrong_text in unknown.page.text(), unknown.describe()

    # Per source: one address trying six names.
    source = "127.0.0.40"
    statuses = [try_password(name, "wrong-password", source).status for name in ["oncall", "dba2", "noor", "ghost-1", "ghost-2", "ghost-3"]]
    assert statuses == [401] * 5 + [429], statuses
    assert try_password("oncall", PASSWORDS["oncall"], source).status == 429, "the source is locked, whatever the name"
    assert try_password("oncall", PASSWORDS["oncall"], "127.0.0.41").status == 303, "other sources are not"

    # Every attempt is audited; no password reaches the audit log or the server's log.
    export = hd.run("audit", "export")
    assert export.returncode == 0, export.stderr
    events = [json.loads(line) for line in export.stdout.splitlines()]
    logins = [e for e in events if e["kind"] == "web_login"]
    outcomes = {json.dumps((json.loads(e["data"]) if isinstance(e.get("data"), str) else e.get("data") or {}).get("outcome")) for e in logins}
    assert len(logins) >= 10 and len(outcomes) >= 2, logins[:5]
    text = export.stdout + hd.log(hd.servers[0])
    for secret in [*PASSWORDS.values(), "wrong-password", "wrong-0"]:
        assert secret not in text, f"a password ({secret}) was logged"


def test_the_identity_header_is_believed_only_from_the_configured_proxies(web_server):
    header = "X-Remote-User"
    untrusted = web_server(f"identity_header: {header}, identity_proxies: [10.9.9.9/32]", name="untrusted")
    person = client(untrusted)
    for path in ["/", "/web/approvals"]:
        response = person.get(path, headers={header: "dba1"})
        assert response.status == 403, (path, response.describe())
        assert response.cookie("__Host-helpdesk_session") is None
    assert signed_out(person.get("/")), "without the header: the sign-in page as usual"
    assert wait_until(lambda: "identity header from an untrusted address" in untrusted.log(untrusted.servers[0]), 5), \
        untrusted.log(untrusted.servers[0])[-3000:]
    assert person.login("dba1", PASSWORDS["dba1"]).status == 303, "passwords still work next to the header"

    trusted = web_server(f"identity_header: {header}, identity_proxies: [127.0.0.1/32]", name="trusted")
    proxied = client(trusted)
    for value, name in [("dba1", "dba1"), ("DBA2@Example.ORG", "dba2"), ("noor", "noor")]:
        page = proxied.get("/", headers={header: value}, use_jar=False)
        assert page.status == 200 and page.page.find("main", id="feed") is not None, (value, page.describe())
        assert name in page.page.text(), (value, page.page.text()[:500])
    assert proxied.get("/", headers={header: "mallory"}, use_jar=False).status == 403, "a name not in the directory"
    # The proxy's person acts with the csrf of their page; without it, refused.
    csrf = proxied.get("/", headers={header: "dba1"}, use_jar=False).csrf()
    assert proxied.post("/web/command", {"csrf": csrf, "text": "help"}, headers={header: "dba1"}, use_jar=False).status == 303
    assert proxied.post("/web/command", {"text": "help"}, headers={header: "dba1"}, use_jar=False).status == 403
    # From another address (the TCP peer counts, not X-Forwarded-For): refused.
    elsewhere = client(trusted, source="127.0.0.2")
    response = elsewhere.get("/", headers={header: "dba1", "X-Forwarded-For": "127.0.0.1", "Forwarded": "for=127.0.0.1"})
    assert response.status == 403, response.describe()
    assert signed_out(elsewhere.get("/"))


def test_the_requester_cannot_approve_and_two_dbas_decide_on_the_web(web_server):
    hd = web_server()
    approval_id = request_approval(hd)
    oncall, dba1, dba2 = client(hd), client(hd), client(hd)
    for person, name in [(oncall, "oncall"), (dba1, "dba1"), (dba2, "dba2")]:
        person.login(name, PASSWORDS[name])
    assert approval_id in dba1.approval_ids("pending")
    page = dba1.approval(approval_id)
    assert approval_state(page) == ("pending", "0 of 2 approvals"), approval_state(page)
    form = page.page.find("form", id="vote")
    assert form is not None and form.find("textarea", name="reason") is not None
    assert {(b.get("name"), b.get("value")) for b in form.find_all("button")} >= {("decision", "approve"), ("decision", "deny")}

    refused = oncall.vote(approval_id, "approve", "my own request")
    assert refused.status == 403 and refused.notice(), refused.describe()
    assert approval_record(hd, approval_id)["votes"] == []

    # dba1 approves with the feed's button: the form.action (kind approve, this approval) in the request's thread.
    feed = dba1.get("/")
    assert feed.status == 200, feed.describe()
    button = feed_button(feed, "approve", approval_id)
    assert button["thread"] and button["csrf"], button
    # A button's form cannot name a thread the bot never started: 400, nothing done.
    forged = dba1.post("/web/action", {**button, "thread": "web:999999"})
    assert forged.status == 400, forged.describe()
    assert approval_record(hd, approval_id)["votes"] == [], "a press into a thread that does not exist voted"
    pressed = dba1.post("/web/action", button)
    assert pressed.status == 303 and redirect_path(pressed) == "/", pressed.describe()
    # The press is a job: the vote lands once it ran.
    if not wait_until(lambda: approval_record(hd, approval_id)["votes"], 20):
        pytest.fail(f"dba1's Approve press from the feed never voted: {approval_record(hd, approval_id)}\n{hd.log(hd.servers[0])[-3000:]}",
                    pytrace=False)
    first = dba1.approval(approval_id)
    assert approval_state(first) == ("pending", "1 of 2 approvals"), approval_state(first)
    votes = first.page.find("ul", id="votes")
    assert votes is not None and "dba1" in votes.text() and "web" in votes.text(), first.describe()
    again = dba1.vote(approval_id, "approve")
    assert again.status == 409, again.describe()

    second = dba2.vote(approval_id, "approve", "checked the rollout")
    assert second.status == 200 and second.notice(), second.describe()
    assert approval_state(second)[0] == "approved", approval_state(second)
    assert approval_state(second)[1].startswith("2 of 2"), approval_state(second)
    votes = second.page.find("ul", id="votes")
    assert votes is not None and "dba2" in votes.text() and "checked the rollout" in votes.text(), second.describe()
    assert second.page.find(id="execution") is not None
    assert approval_id in dba2.approval_ids("approved") and approval_id not in dba2.approval_ids("pending")
    assert dba2.vote(approval_id, "deny").status == 409, "a decided request takes no more votes"
    record = approval_record(hd, approval_id)
    assert record["status"] == "approved" and [(v["principal"], v["via"]) for v in record["votes"]] == [("dba1", "web"), ("dba2", "web")]


def feed_button(page, kind: str, value: str) -> dict[str, str]:
    """The fields of the feed's button form (form.action in an article.thread) of `kind` for `value`; fails when there is none."""
    for thread in page.page.find_all("article", cls="thread"):
        for form in thread.find_all("form", cls="action"):
            fields = form.fields()
            if fields.get("kind") == kind and fields.get("value") == value:
                assert form.get("action") == "/web/action" and form.get("method", "").lower() == "post", form.attrs
                assert fields.get("thread") == thread.get("data-thread"), (fields, thread.attrs)
                return fields
    pytest.fail(f"the feed has no {kind} button for {value}:\n{page.text[:5000]}", pytrace=False)


def raw_request(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Sends bytes as they are and reads the answer until the server closes or stops sending."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer:
                    head, _, rest = answer.partition(b"\r\n\r\n")
                    length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                    if length and len(rest) >= int(length.group(1)):
                        break
        except (ConnectionResetError, socket.timeout):
            pass
    return answer


def raw_status(answer: bytes) -> int:
    match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return int(match.group(1)) if match else 0


def test_hostile_bodies_get_4xx_and_the_server_keeps_answering(web_server):
    hd = web_server()
    server = hd.servers[0]
    person = client(hd)
    person.login("dba1", PASSWORDS["dba1"])
    csrf = person.csrf()

    def login_body(extra: bytes) -> tuple[bytes, str]:
        """A sign-in form with a valid csrf pair and `extra` appended raw; returns (body, Cookie header)."""
        stranger = client(hd)
        fields = stranger.login_form()
        valid = urllib.parse.urlencode({"csrf": fields["csrf"], "next": "/"}).encode()
        return valid + b"&" + extra, stranger.cookie_header("/login")

    bodies = [b"%", b"user=%zz&password=x", b"user=%E0%A4%A&password=x", b"user=%FF%FE&password=x", b"user=\xff\xfe\x00&password=x",
              b"user=" + b"a" * 5000 + b"&password=x", b"user=dba1&password=" + b"p" * 100_000, b"user=dba1&user=dba2&password=x",
              b"=" * 1000, b"&" * 10_000]
    for extra in bodies:
        body, cookies = login_body(extra)
        response = person.request("POST", "/login", body=body, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                                          "Cookie": cookies}, use_jar=False)
        assert 400 <= response.status < 500, (extra[:40], response.describe())
        assert response.cookie("__Host-helpdesk_session") is None, extra[:40]
    response = person.request("POST", "/login", body=b'{"user": "dba1"}', headers={"Content-Type": "application/json"})
    assert 400 <= response.status < 500, response.describe()

    command = urllib.parse.urlencode({"csrf": csrf}).encode() + b"&"
    for extra in [b"text=%", b"text=%zz", b"text=%FF%FE", b"text=\xff\xfe", b"text=" + b"x" * 2001, b"text=help&" + b"a=%" * 1000]:
        response = person.post("/web/command", command + extra)
        assert 400 <= response.status < 500, (extra[:40], response.describe())
    assert person.post("/web/command", {"csrf": csrf, "text": "x" * 2000}).status == 303, "2000 characters are allowed"
    action = {"csrf": csrf, "kind": "approve", "value": "v" * 4001, "thread": "t"}
    assert 400 <= person.post("/web/action", action).status < 500
    assert 400 <= person.post("/web/action", {**action, "value": "v", "thread": "t" * 301}).status < 500
    assert 400 <= person.post("/web/action", {**action, "value": "v", "kind": "drop_database"}).status < 500

    # Over server.max_body_bytes (1 MiB): 413.
    for path in ["/login", "/web/command"]:
        response = person.post(path, b"text=" + b"x" * (2 * 1024 * 1024))
        assert response.status == 413, (path, response.describe())
    # A Content-Length that is no number: 400 or the connection closed; a body that never arrives in full.
    status = raw_status(raw_request(hd.port, b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"))
    assert status == 0 or 400 <= status < 500, status
    raw_request(hd.port, b"POST /web/command HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\ntext=", timeout=3)

    assert client(hd).get("/healthz").status == 200 and server.poll() is None, "hostile bodies must not stop the server"
    assert person.get("/").status == 200, "the session still works"


# --- Chromium and helpdesk demo ---------------------------------------------------------------------

def capture(browser: Browser, folder, name: str):
    """Screenshots of the page at desktop and phone sizes; at phone size the page must be laid out for the
    phone (a viewport meta) and not scroll sideways."""
    for size, (width, height, mobile, scale) in [("desktop", DESKTOP), ("phone", PHONE)]:
        browser.set_viewport(width, height, mobile=mobile, scale=scale)
        if mobile:
            inner, scroll = browser.evaluate("[window.innerWidth, document.documentElement.scrollWidth]")
            assert inner <= width + 10, f"{name}: laid out {inner}px wide on a {width}px phone (no <meta name=viewport>?)"
            assert scroll <= inner, f"{name}: {scroll}px wide content on a {inner}px phone scrolls sideways"
        path = folder / f"{name}-{size}.png"
        browser.screenshot(path)
        assert path.stat().st_size > 10_000, f"{path} looks empty"
    browser.set_viewport(*DESKTOP[:2], mobile=False, scale=1)


THREADS = "[...document.querySelectorAll('main#feed article.thread')]"


def thread_text(*needles: str, word: str | None = None, selector: str | None = None) -> str:
    """JavaScript: the innerText of the first feed thread whose text holds every needle (and `word` as a
    whole word, and an element matching `selector`), else null."""
    checks = [f"{json.dumps(list(needles))}.every(n => t.innerText.includes(n))"]
    if word:
        pattern = json.dumps(rf"\b{word}\b")
        checks.append(f"new RegExp({pattern}).test(t.innerText)")
    if selector:
        checks.append(f"t.querySelector({json.dumps(selector)})")
    return f"(() => {{ const t = {THREADS}.find(t => {' && '.join(checks)}); return t ? t.innerText : null; }})()"


def sign_in(browser: Browser, user: str, password: str):
    browser.wait_for("!!document.querySelector('form#login')", 15, "no form#login")
    browser.fill("form#login input[name=user]", user)
    browser.fill("form#login input[name=password]", password)
    browser.navigate("document.querySelector('form#login').requestSubmit()")
    assert "/login" not in browser.evaluate("location.pathname"), f"signing in as {user} failed: {browser.text()}"


def bundle_download(person: WebClient, incident_page, incident_id: str):
    """The incident page's a#bundle, downloaded: a gzip'd tar, as an attachment, holding the incident."""
    link = incident_page.page.find("a", id="bundle")
    assert link is not None and link.get("href"), f"the incident page has no a#bundle link:\n{incident_page.text[:3000]}"
    response = person.get(link.get("href"))
    assert response.status == 200, response.describe()
    assert (response.header("Content-Type") or "").split(";")[0].strip() == "application/gzip", response.header("Content-Type")
    assert (response.header("Content-Disposition") or "").lower().startswith("attachment"), response.header("Content-Disposition")
    assert response.body[:2] == b"\x1f\x8b", f"the bundle is not gzip: {response.body[:20]!r}"
    with tarfile.open(fileobj=io.BytesIO(response.body), mode="r:gz") as archive:
        members = archive.getmembers()
        names = [m.name for m in members]
        contents = b"".join(archive.extractfile(m).read() for m in members if m.isfile())
    assert names, "the bundle's tar is empty"
    assert any(incident_id in name for name in names) or incident_id.encode() in contents, \
        f"the bundle names {incident_id} neither in a file name nor in a file: {names}"


def visible_live_indicator(browser: Browser) -> list[str]:
    """The header's live indicator (.live), as far as it is visible: the texts of its visible parts."""
    return browser.evaluate("""[...document.querySelectorAll('.live, .live *')]
        .filter(e => e.checkVisibility({visibilityProperty: true, opacityProperty: true}))
        .flatMap(e => [...e.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim()).map(n => n.textContent.trim()))""") or []


def test_two_dbas_approve_the_demo_fix_in_the_browser(demo):
    password = "demo-browser-pw-0123"
    shots = artifacts("web_channel")
    # Chromium first: its start-up is not taken from the ~10 s between the demo's URL and its alert.
    browser = Browser()
    try:
        run = demo("--no-browser", "--listen", "127.0.0.1:0", "--password", password).wait_until_ready(timeout=120)
        assert run.password == password
        base = run.url.rstrip("/")
        browser.set_viewport(*DESKTOP[:2])
        browser.goto(base + "/")
        assert browser.evaluate("location.pathname") == "/login", browser.url()
        sign_in(browser, "dba1", password)
        browser.wait_for("!!document.querySelector('main#feed')", 15, "no main#feed after signing in")

        # From here on the page is never reloaded: what arrives, arrives live.
        browser.evaluate("window.__notReloaded = true")
        at_load = browser.text("main#feed") or ""
        if any(DEMO_LINES[2].match(line) for line in list(run.lines)):
            pytest.fail(f"the demo posted its alert before dba1's feed had loaded, so its arriving live cannot be seen:\n{run.output()}",
                        pytrace=False)
        assert "PostgresLockPileUp" not in at_load, f"the alert is in the feed before the demo posted it:\n{at_load[:3000]}"
        assert wait_until(run.postgres_running, 60), f"no process of the demo's PostgreSQL runs from its TMPDIR {run.tmp}; it must make its folder there\n{run.output()}"
        browser.wait_for("document.body.dataset.live === 'on'", 15, "the live stream never opened (body[data-live] is not 'on')")
        cookie = next((c for c in browser.cookies(base + "/") if c["name"] == "__Host-helpdesk_session"), None)
        assert cookie and cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict", cookie
        assert "__Host-helpdesk_session" not in (browser.evaluate("document.cookie") or "")
        threads_at_load = browser.evaluate(f"{THREADS}.map(t => t.dataset.thread)")
        # Something that surely comes after the page loaded: oncall, in another browser, runs a command.
        oncall = run.client()
        oncall.login("oncall", password)
        assert oncall.command("help").status == 303
        browser.wait_for(f"{THREADS}.some(t => (t.dataset.thread || '').startsWith('web:') && !{json.dumps(threads_at_load)}"
                         ".includes(t.dataset.thread) && t.innerText.includes('oncall'))", 30,
                         "oncall's command never appeared in dba1's feed without a reload")

        # The alert arrives, then its diagnosis naming the blocking session, in the alert's thread.
        run.wait_for(DEMO_LINES[2], 60, "the alert line")
        browser.wait_for(thread_text("PostgresLockPileUp"), 30, "the alert never appeared in the feed without a reload")
        pid = run.wait_for(DEMO_LINES[3], 180, "the diagnosis line").group(1)
        browser.wait_for(thread_text("PostgresLockPileUp", word=pid), 30,
                         f"the feed never showed the alert with the diagnosis naming session {pid}")
        assert browser.evaluate("window.__notReloaded === true"), "the feed page was reloaded"
        assert browser.evaluate("document.body.dataset.live") == "on"
        assert visible_live_indicator(browser), "with the stream open the header's live indicator shows nothing"
        capture(browser, shots, "feed-diagnosis")

        approval_id = run.wait_for(DEMO_LINES[4], 60, "the approval request line").group(1)
        browser.wait_for(thread_text(approval_id, selector="form.action input[name=kind][value=approve]"), 30,
                         "the approval request with its Approve button never appeared in the feed")
        assert browser.evaluate("window.__notReloaded === true"), "the feed page was reloaded"

        # The incidents view lists the diagnosis; its page shows the finding, a Run button and the bundle.
        browser.navigate("document.querySelector('nav#nav a[href=\"/web/incidents\"]').click()")
        incidents = browser.wait_for("[...document.querySelectorAll('table#incidents tr[data-id]')].map(r => r.dataset.id)", 10,
                                     "no incident is listed in /web/incidents")
        incident_id = next((i for i in incidents if pid in (browser.text(f'table#incidents tr[data-id="{i}"]') or "")), None)
        assert incident_id, f"no incident in /web/incidents names session {pid}: {browser.text('table#incidents')}"
        capture(browser, shots, "incidents")
        browser.navigate(f"document.querySelector('table#incidents tr[data-id=\"{incident_id}\"] a[href]').click()")
        assert browser.evaluate("location.pathname") == f"/web/incidents/{incident_id}", browser.url()
        assert pid in (browser.text("#findings") or ""), browser.text("#findings")
        assert browser.evaluate("!!document.querySelector('#actions form.action input[name=kind][value=run_action]')"), browser.text()
        capture(browser, shots, "incident")

        # Over HTTP, as oncall: the bundle downloads; the Run button asks for the fix again, with the incident as evidence.
        incident_page = oncall.get(f"/web/incidents/{incident_id}")
        assert incident_page.status == 200, incident_page.describe()
        bundle_download(oncall, incident_page, incident_id)
        run_forms = [(f.parent, f.fields()) for f in incident_page.page.find_all("form", cls="action") if f.fields().get("kind") == "run_action"]
        run_fields = next((fields for item, fields in run_forms if "terminate_backend" in item.text()), None)
        assert run_fields, f"the incident page has no Run button for terminate_backend: {[item.text() for item, _ in run_forms]}"
        before = set(oncall.approval_ids("pending"))
        assert approval_id in before, before
        pressed = oncall.post("/web/action", run_fields)
        assert pressed.status == 303, pressed.describe()
        opened = wait_until(lambda: set(oncall.approval_ids("pending")) - before, 30)
        assert opened and len(opened) == 1, f"pressing Run on the incident opened no approval request (pending: {oncall.approval_ids('pending')})"
        run_approval = oncall.approval(opened.pop())
        assert run_approval.page.find(id="evidence") is not None, run_approval.describe()
        run_evidence = run_approval.page.find(id="evidence").text()
        assert incident_id in run_evidence and pid in run_evidence, f"the Run button's request does not name {incident_id}: {run_evidence}"
        assert "terminate_backend" in run_approval.page.text()

        # The approvals view lists the demo's request; its page shows the evidence.
        browser.navigate("document.querySelector('nav#nav a[href=\"/web/approvals\"]').click()")
        row = f"table#approvals tr[data-id=\"{approval_id}\"]"
        browser.wait_for(f"document.querySelector({json.dumps(row)})", 10, f"{approval_id} is not listed in /web/approvals")
        capture(browser, shots, "approvals")
        if browser.evaluate(f"!!document.querySelector({json.dumps(row + ' a[href]')})"):
            browser.navigate(f"document.querySelector({json.dumps(row + ' a[href]')}).click()")
        else:
            browser.goto(f"{base}/web/approvals/{approval_id}")
        assert browser.evaluate("location.pathname") == f"/web/approvals/{approval_id}", browser.url()
        assert browser.evaluate("document.querySelector('section#approval').dataset.status") == "pending"
        assert (browser.text("#approval-count") or "").startswith("0 of 2"), browser.text("#approval-count")
        evidence = browser.text("#evidence") or ""
        assert "checkout-worker" in evidence and pid in evidence and re.search(r"block", evidence, re.I), evidence
        assert incident_id in evidence, f"the demo's request does not name its incident {incident_id}: {evidence}"
        assert "terminate_backend" in browser.text()

        # The requester's vote is refused.
        refused = oncall.vote(approval_id, "approve", "my own request")
        assert refused.status == 403 and refused.notice(), refused.describe()

        # dba1 approves: one of two, still pending.
        browser.fill("form#vote textarea[name=reason]", "the evidence names the idle blocker")
        browser.navigate("document.querySelector('form#vote button[name=decision][value=approve]').click()")
        browser.wait_for("!!document.querySelector('p.notice')", 10, "no notice after approving")
        assert (browser.text("#approval-count") or "").startswith("1 of 2"), browser.text("#approval-count")
        assert browser.evaluate("document.querySelector('section#approval').dataset.status") == "pending"
        votes = browser.text("ul#votes") or ""
        assert "dba1" in votes and "web" in votes and "idle blocker" in votes, votes
        capture(browser, shots, "approval-pending")

        # dba1 signs out; dba2 signs in in the same browser, sent back to the approval.
        browser.navigate("document.querySelector('form#logout').requestSubmit()")
        assert browser.evaluate("location.pathname") == "/login", browser.url()
        assert not any(c["name"] == "__Host-helpdesk_session" for c in browser.cookies(base + "/")), "the session cookie outlived sign-out"
        browser.goto(f"{base}/web/approvals/{approval_id}")
        assert browser.evaluate("location.pathname") == "/login", browser.url()
        sign_in(browser, "dba2", password)
        assert browser.evaluate("location.pathname") == f"/web/approvals/{approval_id}", f"not sent back to next: {browser.url()}"
        browser.navigate("document.querySelector('form#vote button[name=decision][value=approve]').click()")
        assert browser.evaluate("document.querySelector('section#approval').dataset.status") == "approved", browser.text()
        assert (browser.text("#approval-count") or "").startswith("2 of 2"), browser.text("#approval-count")

        def executed():
            browser.goto(f"{base}/web/approvals/{approval_id}")
            text = browser.text("#execution") or ""
            if "succeeded" in text:
                return True
            if "failed" in text:
                pytest.fail(f"the fix failed: {text}\n{run.output()}", pytrace=False)
            return False
        if not wait_until(executed, 90, interval=1):
            pytest.fail(f"#execution never read succeeded: {browser.text('#execution')}\n{run.output()}", pytrace=False)
        capture(browser, shots, "approval-done")
        run.wait_for(DEMO_LINES[5], 30, "the fix line")
        run.wait_for(DEMO_LINES[6], 60, "the recovery line")

        # The feed shows the result in the approval's thread.
        browser.navigate("document.querySelector('nav#nav a[href=\"/\"]').click()")
        browser.wait_for(thread_text(approval_id, word="ran"), 30, "the fix's result never showed in the feed")
        capture(browser, shots, "feed-fixed")
        browser.goto(f"{base}/web/audit")
        browser.wait_for("(document.querySelector('#chain') || {}).innerText?.startsWith('verified')", 30,
                         "the audit view does not show the chain verified")
        capture(browser, shots, "audit")
        browser.navigate("document.querySelector('nav#nav a[href=\"/web/alerts\"]').click()")
        browser.wait_for("[...document.querySelectorAll('table#alerts tr')].some(r => r.innerText.includes('PostgresLockPileUp'))", 10,
                         "the alerts view does not list PostgresLockPileUp")
        capture(browser, shots, "alerts")

        # Without JavaScript: the feed is all there (its buttons are forms), and the header does not say it is
        # reconnecting, forever: nothing about live updates shows.
        browser.send("Emulation.setScriptExecutionDisabled", value=True)
        browser.goto(base + "/")
        assert browser.evaluate("location.pathname") == "/", browser.url()
        assert browser.evaluate("document.body.dataset.live") != "on", "app.js ran though scripts are off"
        browser.wait_for(thread_text("PostgresLockPileUp", word=pid), 5, "without JavaScript the feed does not show the alert and its diagnosis")
        assert browser.evaluate(f"!!document.querySelector('main#feed form.action[action=\"/web/action\"]')"), "no button form in the feed"
        shown = visible_live_indicator(browser)
        assert shown == [], f"without JavaScript the header's live indicator shows {shown}"
        assert "reconnecting" not in (browser.text("body") or "").lower(), browser.text("header")
        browser.screenshot(shots / "feed-no-javascript-desktop.png")
    finally:
        browser.close()
    assert run.stop() == 0
