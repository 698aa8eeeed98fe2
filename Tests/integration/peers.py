"""Real peers on loopback for the integration tests: each starts, waits until it answers, stops."""
import json
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PostgresServer:
    """A throwaway PostgreSQL 15 cluster with password (SCRAM) authentication on 127.0.0.1."""

    password = "helpdesk-test-pw"

    def __init__(self, port: int, max_connections: int = 30):
        if not (PG_BIN / "initdb").exists():
            pytest.fail(f"PostgreSQL 15 is not installed ({PG_BIN}/initdb missing): run .ci/run or apt-get install postgresql",
                        pytrace=False)
        self.port = port
        self.max_connections = max_connections
        self.settings: dict = {}
        self.folder = Path(tempfile.mkdtemp(prefix="helpdesk-pg-"))
        self.data = self.folder / "data"
        # initdb refuses to run as root: run the server as the postgres user then.
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.run_as:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)

    def _pg(self, *args, **kwargs):
        return subprocess.run([*self.run_as, *args], capture_output=True, text=True, timeout=60, **kwargs)

    def start(self, settings: dict | None = None):
        """`settings`: extra server parameters (`-c name=value`), kept for later start_cluster() calls."""
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password + "\n")
        if self.run_as:
            user = pwd.getpwnam("postgres")
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        result = self._pg(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=scram-sha-256",
                          f"--pwfile={pwfile}")
        if result.returncode != 0:
            pytest.fail(f"initdb failed:\n{result.stderr}", pytrace=False)
        return self.start_cluster(settings=settings)

    def start_cluster(self, settings: dict | None = None):
        """Starts the initialised cluster (again) on its port and data folder; returns once it answers queries.
        `settings` replaces the ones given before; a `max_connections` there wins over the constructor's."""
        if settings is not None:
            self.settings = dict(settings)
        parameters = {"listen_addresses": "127.0.0.1", "max_connections": str(self.max_connections),
                      **{str(name): str(value) for name, value in self.settings.items()}}
        # pg_ctl hands -o to a shell: quote each value so one with spaces or quotes stays one option.
        options = f"-k {self.folder} -p {self.port} " + " ".join(
            f"-c {shlex.quote(f'{name}={value}')}" for name, value in parameters.items())
        result = self._pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")
        if result.returncode != 0:
            pytest.fail(f"PostgreSQL did not start:\n{result.stderr}\n{self.log()}", pytrace=False)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.psql("SELECT 1").returncode == 0:
                return self
            time.sleep(0.1)
        pytest.fail(f"PostgreSQL started but does not answer queries:\n{self.log()}", pytrace=False)

    def stop_cluster(self, mode: str = "fast"):
        """`pg_ctl stop -m MODE`, keeping the data folder: `fast` disconnects every client (rolling back their
        transactions) as an operator's restart or a failover does; start_cluster() brings it back on the same port."""
        result = self._pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
        if result.returncode != 0:
            pytest.fail(f"pg_ctl stop -m {mode} failed:\n{result.stderr}\n{self.log()}", pytrace=False)

    def log(self) -> str:
        path = self.folder / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self):
        self._pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def env(self):
        return {**os.environ, "PGPASSWORD": self.password}

    def psql(self, sql: str, database: str = "postgres") -> subprocess.CompletedProcess:
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database, "-At", "-v",
                               "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True, timeout=30, env=self.env)

    def value(self, sql: str, database: str = "postgres") -> str:
        result = self.psql(sql, database)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def rows(self, sql: str, database: str = "postgres") -> list[dict]:
        """The rows of a SELECT as dicts (through json_agg, so types survive: numbers, NULL as None)."""
        text = self.value(f"SELECT coalesce(json_agg(q), '[]') FROM ({sql}) q", database)
        return json.loads(text)

    def create_database(self, name: str) -> str:
        self.value(f'CREATE DATABASE "{name}"')
        return name

    def url(self, database: str, password: str | None = None) -> str:
        """A store URL for helpdesk; the password goes in PGPASSWORD unless one is given here."""
        user = "postgres" + (f":{password}" if password is not None else "")
        return f"postgres://{user}@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def session(self) -> "Session":
        return Session(self)


class Session:
    """An interactive psql session that stays connected, for holding locks and transactions open."""

    def __init__(self, server: PostgresServer):
        self.process = subprocess.Popen(
            ["psql", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", "-At", "-q"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=server.env, bufsize=1)

    def send(self, sql: str):
        self.process.stdin.write(sql + "\n")
        self.process.stdin.flush()

    def read_line(self) -> str:
        return self.process.stdout.readline().strip()

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class Alertmanager:
    """A real Prometheus Alertmanager on loopback with one webhook receiver pointing at the bot."""

    binary = "/usr/bin/prometheus-alertmanager"

    def __init__(self, port: int, webhook_url: str, bearer_token: str, config: str | None = None):
        """`config` replaces the built-in one; it may use {url} and {token_file}."""
        if not os.path.exists(self.binary):
            pytest.fail(f"Alertmanager is not installed ({self.binary}): run .ci/run or apt-get install prometheus-alertmanager", pytrace=False)
        self.port = port
        self.folder = Path(tempfile.mkdtemp(prefix="helpdesk-am-"))
        (self.folder / "token").write_text(bearer_token)
        if config is not None:
            (self.folder / "alertmanager.yml").write_text(config.replace("{url}", webhook_url).replace("{token_file}", str(self.folder / "token")))
            self.process = None
            return
        (self.folder / "alertmanager.yml").write_text(f"""
route:
  receiver: helpdesk
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: helpdesk
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: {bearer_token}}}
""")
        self.process = None

    def start(self):
        log = open(self.folder / "log", "w")
        self.process = subprocess.Popen([self.binary, f"--config.file={self.folder / 'alertmanager.yml'}", f"--storage.path={self.folder / 'data'}",
                                         f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        import urllib.request
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"Alertmanager exited:\n{(self.folder / 'log').read_text()}", pytrace=False)
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1)
                return self
            except OSError:
                time.sleep(0.1)
        pytest.fail("Alertmanager did not become ready", pytrace=False)

    def post_alerts(self, alerts: list):
        import json
        import urllib.request
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)
