"""Fixtures that drive the built `helpdesk` binary as a real process on loopback."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def helpdesk_binary() -> str:
    path = os.environ.get("HELPDESK_BIN") or str(REPO / ".build" / "debug" / "helpdesk")
    if not os.access(path, os.X_OK):
        pytest.fail(f"no helpdesk binary at {path}: run `swift build` first or set HELPDESK_BIN", pytrace=False)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 5):
    """Returns (status, headers, body) without raising on 4xx/5xx."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Helpdesk:
    """One working folder with a config file; runs `helpdesk` commands and servers in it."""

    def __init__(self, folder: Path, config: str):
        self.folder = folder
        self.binary = helpdesk_binary()
        self.config = folder / "helpdesk.yaml"
        # A test that names no policies, runbooks or templates gets those built into the binary, as an
        # installed binary started from any folder would.
        self.config.write_text(config)
        # The binary reads nothing from its working folder: the file is named, as a package's unit or the
        # image names it. A store the configuration does not place goes to the XDG state home, here the
        # test's folder rather than the user's (relative store paths still go under the working folder).
        self.environment = {"HELPDESK_CONFIG": str(self.config), "XDG_STATE_HOME": str(folder / "xdg-state"),
                            "XDG_CONFIG_HOME": str(folder / "xdg-config")}
        self.servers: list[subprocess.Popen] = []
        self.port = None

    def run(self, *args: str, env: dict | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run([self.binary, *args], cwd=self.folder, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **self.environment, **(env or {})})

    def start(self, *extra: str, env: dict | None = None, wait: bool = True, port: int | None = None) -> subprocess.Popen:
        self.port = port or free_port()
        log = open(self.folder / f"serve-{len(self.servers)}.log", "w")
        process = subprocess.Popen([self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", *extra],
                                   cwd=self.folder, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **self.environment, **(env or {})})
        self.servers.append(process)
        if wait:
            self.wait_until_ready(process)
        return process

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_until_ready(self, process: subprocess.Popen, timeout: float = 20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"helpdesk serve exited with {process.returncode}:\n{self.log(process)}", pytrace=False)
            try:
                status, _, _ = http("GET", self.url("/readyz"), timeout=1)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        pytest.fail(f"helpdesk serve did not become ready in {timeout}s:\n{self.log(process)}", pytrace=False)

    def log(self, process: subprocess.Popen) -> str:
        index = self.servers.index(process)
        return (self.folder / f"serve-{index}.log").read_text()

    def jobs(self) -> list[dict]:
        result = self.run("jobs", "list", "--json", "--limit", "100000")
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    def stop_all(self):
        for process in self.servers:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture
def helpdesk(tmp_path):
    instances = []

    def make(config: str = "") -> Helpdesk:
        instance = Helpdesk(tmp_path, config)
        instances.append(instance)
        return instance

    yield make
    for instance in instances:
        instance.stop_all()


@pytest.fixture(scope="session")
def postgres():
    from peers import PostgresServer
    server = PostgresServer(free_port(), max_connections=20).start()
    yield server
    server.stop()


# Files that take minutes go first: with `--dist loadfile` a file runs whole on one worker, and the
# zoo (every incident class planted on real peers, about 3.5 minutes) started last would run alone
# at the end while the other worker sits idle.
SLOW_FIRST = ("test_zoo.py",)


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: 0 if item.path.name in SLOW_FIRST else 1)
