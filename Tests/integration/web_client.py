"""The web channel as a client sees it: HTTP without a browser (own cookie jar, so Secure cookies are kept
over plain HTTP and Set-Cookie attributes can be checked), forms read from the HTML with html.parser,
and `helpdesk demo` run as a process whose stdout lines the tests wait for."""
import http.client
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import shutil
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import helpdesk_binary

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


# --- HTML ---------------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Element:
    def __init__(self, tag: str, attrs: dict, parent: "Element | None"):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list = []

    def get(self, name: str, default=None):
        return self.attrs.get(name, default)

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def text(self) -> str:
        """The text inside, whitespace collapsed (as a reader sees it, roughly)."""
        parts = []

        def walk(element):
            for child in element.children:
                if isinstance(child, Element):
                    if child.tag not in ("script", "style"):
                        walk(child)
                        parts.append(" ")
                else:
                    parts.append(child)
        walk(self)
        return " ".join("".join(parts).split())

    def matches(self, tag=None, id=None, cls=None, **attrs) -> bool:
        """`data_id=True` means the attribute `data-id` is present; a string means that value."""
        if tag and self.tag != tag:
            return False
        if id is not None and self.attrs.get("id") != id:
            return False
        if cls is not None and cls not in self.attrs.get("class", "").split():
            return False
        for name, wanted in attrs.items():
            value = self.attrs.get(name.replace("_", "-"))
            if value is None or (wanted is not True and value != wanted):
                return False
        return True

    def find_all(self, tag=None, id=None, cls=None, **attrs) -> list["Element"]:
        return [e for e in self.iter() if e is not self and e.matches(tag, id, cls, **attrs)]

    def find(self, tag=None, id=None, cls=None, **attrs) -> "Element | None":
        return next(iter(self.find_all(tag, id, cls, **attrs)), None)

    def fields(self) -> dict[str, str]:
        """What this form submits without a click: inputs (not buttons, not unchecked boxes) and textareas."""
        values = {}
        for element in self.iter():
            name = element.get("name")
            if not name:
                continue
            if element.tag == "input" and element.get("type", "text") not in ("submit", "button", "image", "reset"):
                if element.get("type") in ("checkbox", "radio") and "checked" not in element.attrs:
                    continue
                values[name] = element.get("value", "")
            elif element.tag == "textarea":
                values[name] = element.text()
        return values


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: (v if v is not None else "") for k, v in attrs}, self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, {k: (v if v is not None else "") for k, v in attrs}, self.current))

    def handle_endtag(self, tag):
        # Tolerant: an end tag closes the nearest open element of its name; a stray one is ignored.
        element = self.current
        while element is not None and element.tag != tag:
            element = element.parent
        if element is not None and element.parent is not None:
            self.current = element.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse_html(text: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


# --- HTTP ---------------------------------------------------------------------------------------

class SetCookie:
    """One Set-Cookie header: name, value and its attributes (lower-cased names; flags map to True)."""

    def __init__(self, line: str):
        first, *rest = [part.strip() for part in line.split(";")]
        self.line = line
        self.name, _, self.value = (s.strip() for s in first.partition("="))
        self.attrs: dict[str, str | bool] = {}
        for part in rest:
            key, equals, value = part.partition("=")
            self.attrs[key.strip().lower()] = value.strip() if equals else True

    @property
    def expired(self) -> bool:
        max_age = self.attrs.get("max-age")
        if isinstance(max_age, str) and max_age.lstrip("-").isdigit() and int(max_age) <= 0:
            return True
        expires = self.attrs.get("expires")
        if isinstance(expires, str):
            from email.utils import parsedate_to_datetime
            try:
                return parsedate_to_datetime(expires).timestamp() <= time.time()
            except (TypeError, ValueError):
                return False
        return False

    def __repr__(self):
        return f"SetCookie({self.line!r})"


class Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes):
        self.status, self.headers, self.body = status, headers, body
        self._page = None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    @property
    def set_cookies(self) -> list[SetCookie]:
        return [SetCookie(line) for line in self.headers.get_all("Set-Cookie") or []]

    def cookie(self, name: str) -> SetCookie | None:
        return next((c for c in self.set_cookies if c.name == name), None)

    @property
    def page(self) -> Element:
        if self._page is None:
            self._page = parse_html(self.text)
        return self._page

    def csrf(self) -> str:
        """The page's CSRF value: the vote or login form's if there is one, else any form's (one per session)."""
        for form_id in ("vote", "login", "command"):
            form = self.page.find("form", id=form_id)
            if form is not None and "csrf" in form.fields():
                return form.fields()["csrf"]
        field = self.page.find("input", name="csrf")
        if field is None:
            pytest.fail(f"no csrf field on the page (status {self.status}):\n{self.text[:3000]}", pytrace=False)
        return field.get("value", "")

    def notice(self) -> str:
        notice = self.page.find("p", cls="notice")
        return notice.text() if notice is not None else ""

    def describe(self) -> str:
        return f"HTTP {self.status}, Location {self.location!r}, Set-Cookie {self.headers.get_all('Set-Cookie')}:\n{self.text[:3000]}"


class WebClient:
    """One person's client: a cookie jar (name -> (value, path)), no redirects followed. `source` binds the
    connection to another loopback address (127.0.0.2, ...) so the server sees a different peer."""

    def __init__(self, base_url: str, source: str | None = None, timeout: float = 15):
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.base = f"http://{self.host}:{self.port}"
        self.source, self.timeout = source, timeout
        self.jar: dict[str, tuple[str, str]] = {}

    def cookie_header(self, path: str) -> str:
        request_path = path.split("?", 1)[0]
        return "; ".join(f"{name}={value}" for name, (value, cookie_path) in self.jar.items()
                         if request_path == cookie_path or request_path.startswith(cookie_path.rstrip("/") + "/") or cookie_path == "/")

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                use_jar: bool = True) -> Response:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout,
                                                source_address=(self.source, 0) if self.source else None)
        headers = dict(headers or {})
        if use_jar and "Cookie" not in headers:
            cookies = self.cookie_header(path)
            if cookies:
                headers["Cookie"] = cookies
        try:
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
            response = Response(raw.status, raw.headers, raw.read())
        finally:
            connection.close()
        if use_jar:
            for cookie in response.set_cookies:
                if cookie.expired:
                    self.jar.pop(cookie.name, None)
                else:
                    path_attr = cookie.attrs.get("path")
                    self.jar[cookie.name] = (cookie.value, path_attr if isinstance(path_attr, str) and path_attr.startswith("/") else "/")
        return response

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, fields: dict | list | bytes, headers: dict | None = None, **kwargs) -> Response:
        body = fields if isinstance(fields, bytes) else urllib.parse.urlencode(fields).encode()
        return self.request("POST", path, body=body, headers={**FORM, **(headers or {})}, **kwargs)

    def login_form(self, next_path: str | None = None) -> dict[str, str]:
        """GET /login (setting the login cookie) and the form's fields."""
        path = "/login" + (f"?next={urllib.parse.quote(next_path, safe='/')}" if next_path else "")
        page = self.get(path)
        form = page.page.find("form", id="login")
        if page.status != 200 or form is None:
            pytest.fail(f"GET {path} shows no form#login: {page.describe()}", pytrace=False)
        return form.fields()

    def login(self, user: str, password: str, next_path: str | None = None, expect: int | None = 303) -> Response:
        fields = self.login_form(next_path)
        fields.update(user=user, password=password)
        response = self.post("/login", fields)
        if expect is not None and response.status != expect:
            pytest.fail(f"signing in as {user}: expected {expect}, got {response.describe()}", pytrace=False)
        if expect == 303 and "__Host-helpdesk_session" not in self.jar:
            pytest.fail(f"signing in as {user} set no __Host-helpdesk_session cookie: {response.describe()}", pytrace=False)
        return response

    @property
    def session(self) -> str | None:
        entry = self.jar.get("__Host-helpdesk_session")
        return entry[0] if entry else None

    def csrf(self, path: str = "/") -> str:
        page = self.get(path)
        if page.status != 200:
            pytest.fail(f"GET {path} for a csrf value: {page.describe()}", pytrace=False)
        return page.csrf()

    def logout(self) -> Response:
        return self.post("/logout", {"csrf": self.csrf()})

    def command(self, text: str) -> Response:
        return self.post("/web/command", {"csrf": self.csrf(), "text": text})

    def approval(self, approval_id: str) -> Response:
        page = self.get(f"/web/approvals/{approval_id}")
        if page.status != 200 or page.page.find("section", id="approval") is None:
            pytest.fail(f"GET /web/approvals/{approval_id} shows no section#approval: {page.describe()}", pytrace=False)
        return page

    def vote(self, approval_id: str, decision: str, reason: str = "") -> Response:
        csrf = self.approval(approval_id).csrf()
        return self.post(f"/web/approvals/{approval_id}", {"csrf": csrf, "decision": decision, "reason": reason})

    def approval_ids(self, status: str = "pending") -> list[str]:
        page = self.get(f"/web/approvals?status={status}")
        table = page.page.find("table", id="approvals")
        if page.status != 200 or table is None:
            pytest.fail(f"GET /web/approvals?status={status} shows no table#approvals: {page.describe()}", pytrace=False)
        return [row.get("data-id") for row in table.find_all("tr", data_id=True)]


def approval_state(page: Response) -> tuple[str | None, str]:
    """(section#approval's data-status, #approval-count's text) of an approval page."""
    section = page.page.find("section", id="approval")
    count = page.page.find(id="approval-count")
    return (section.get("data-status") if section is not None else None, count.text() if count is not None else "")


def wait_until(condition, timeout: float, interval: float = 0.2):
    """Polls `condition` until it returns something truthy (returned) or the time is up (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "(gone)"


# --- helpdesk demo ------------------------------------------------------------------------------

URL_LINE = re.compile(r"^demo: web channel at (http://[^\s/]+:(\d+)/)$")
PASSWORD_LINE = re.compile(r"^demo: sign in as oncall, dba1 or dba2 with password (\S+)$")
# Every line of SPEC.md's output contract, in order.
DEMO_LINES = [
    URL_LINE,
    PASSWORD_LINE,
    re.compile(r"^demo: alert posted$"),
    re.compile(r"^demo: diagnosis names the blocking session (\d+)$"),
    re.compile(r"^demo: oncall requested terminate_backend \(approval (\S+)\), waiting for dba1 and dba2$"),
    re.compile(r"^demo: fix ran$"),
    re.compile(r"^demo: blocked updates finished$"),
    re.compile(r"^demo: audit chain verified \((\d+) events\)$"),
]


class Demo:
    """`helpdesk demo` as a process. Its TMPDIR is a folder of the test's own, so what it leaves there (its
    throwaway PostgreSQL's folder, processes whose command line or working folder is in it) can be checked."""

    def __init__(self, folder: Path, *args: str):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        # In /tmp (not under pytest's 0700 folder): as root the demo runs PostgreSQL as the postgres user,
        # which must reach the folder.
        self.tmp = Path(tempfile.mkdtemp(prefix="helpdesk-demo-tmp-"))
        os.chmod(self.tmp, 0o755)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
        environment.update(TMPDIR=str(self.tmp), XDG_STATE_HOME=str(folder / "xdg-state"), XDG_CONFIG_HOME=str(folder / "xdg-config"))
        self.stderr_path = folder / "demo-stderr.log"
        self.command = [helpdesk_binary(), "demo", *args]
        self.process = subprocess.Popen(self.command, cwd=folder, stdout=subprocess.PIPE, stderr=open(self.stderr_path, "w"),
                                        stdin=subprocess.DEVNULL, text=True, bufsize=1, env=environment)
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.url = self.password = None

    def _read(self):
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def output(self) -> str:
        stderr = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        tail = "\n".join(stderr.splitlines()[-150:])
        return f"$ {' '.join(self.command)}\n--- stdout ---\n" + "\n".join(self.lines) + f"\n--- stderr (last 150 lines) ---\n{tail}"

    def wait_for(self, pattern: re.Pattern, timeout: float, what: str) -> re.Match:
        """The first stdout line matching `pattern`, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                match = next((m for m in map(pattern.match, self.lines) if m), None)
                if match:
                    return match
                exited = self.process.poll() is not None and not self.reader.is_alive()
                if exited or time.monotonic() >= deadline:
                    state = f"exited with {self.process.returncode}" if self.process.poll() is not None else f"is still running after {timeout:.0f}s"
                    pytest.fail(f"helpdesk demo never printed {what} ({pattern.pattern}); it {state}.\n{self.output()}", pytrace=False)
                self.changed.wait(timeout=min(1.0, max(0.05, deadline - time.monotonic())))

    def wait_until_ready(self, timeout: float = 120):
        """The first two lines: the URL (a real port) and the sign-in password."""
        url = self.wait_for(URL_LINE, timeout, "its URL")
        if url.group(2) == "0":
            pytest.fail(f"helpdesk demo printed port 0, not the port it bound:\n{self.output()}", pytrace=False)
        self.url = url.group(1)
        self.password = self.wait_for(PASSWORD_LINE, 10, "its sign-in line").group(1)
        if self.lines[:2] != [url.group(0), f"demo: sign in as oncall, dba1 or dba2 with password {self.password}"]:
            pytest.fail(f"the URL and the sign-in line must be the demo's first two lines:\n{self.output()}", pytrace=False)
        return self

    def client(self, **kwargs) -> WebClient:
        return WebClient(self.url, **kwargs)

    def leftovers(self) -> tuple[list[str], list[int]]:
        """Files left in the demo's TMPDIR, and processes (its PostgreSQL) whose command line or working folder is in it."""
        files = sorted(str(p) for p in self.tmp.iterdir()) if self.tmp.exists() else []
        found = subprocess.run(["pgrep", "-f", str(self.tmp)], capture_output=True, text=True).stdout.split()
        pids = {int(p) for p in found}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.readlink(entry / "cwd").startswith(str(self.tmp)):
                        pids.add(int(entry.name))
                except OSError:
                    pass
        pids.discard(os.getpid())
        return files, sorted(pids)

    def postgres_running(self) -> bool:
        """Whether a process of the demo's PostgreSQL runs from its TMPDIR (so that stop() can see it go)."""
        return bool(self.leftovers()[1])

    def wait_for_exit(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, check: bool = True, timeout: float = 60) -> int | None:
        """Ctrl-C (SIGINT) when still running, then: it exits, its TMPDIR is empty and none of its processes
        remain. Whatever remains is removed either way; with `check`, remains fail the test."""
        problems = []
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            if self.wait_for_exit(timeout) is None:
                problems.append(f"it did not exit within {timeout:.0f}s of SIGINT")
                self.process.kill()
                self.process.wait(timeout=10)
        self.reader.join(timeout=10)
        # PostgreSQL's children may take a moment to follow its postmaster out.
        wait_until(lambda: not self.leftovers()[1], timeout=5)
        files, pids = self.leftovers()
        if pids:
            problems.append(f"processes still run from its TMPDIR {self.tmp}: " + "; ".join(f"{pid} {command_line(pid)}" for pid in pids))
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if files:
            problems.append(f"it left files in its TMPDIR: {files[:10]}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        if check and problems:
            pytest.fail("helpdesk demo did not clean up after itself: " + "; ".join(problems) + f"\n{self.output()}", pytrace=False)
        return self.process.returncode


def artifacts(name: str) -> Path:
    """A folder for files kept after the run (screenshots): $HELPDESK_TEST_ARTIFACTS/NAME, else
    Tests/integration/artifacts/NAME (ignored by git)."""
    base = os.environ.get("HELPDESK_TEST_ARTIFACTS") or str(Path(__file__).resolve().parent / "artifacts")
    folder = Path(base) / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def demo(tmp_path):
    """Starts `helpdesk demo ARGS` (Demo); whatever a test did not stop is stopped, and cleaned up, at teardown."""
    started = []

    def start(*args: str) -> Demo:
        process = Demo(tmp_path / f"demo-{len(started)}", *args)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process.returncode is None or process.tmp.exists():
            process.stop(check=False)
