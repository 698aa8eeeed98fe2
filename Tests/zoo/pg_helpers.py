"""Small pieces the PostgreSQL plants share: waiting with a reason, scripts through psql, a streaming standby."""
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PlantError(RuntimeError):
    """The planted condition did not become observable: the class cannot be scored."""


def require(zoo, condition, timeout: float, what: str):
    """Waits until `condition()` holds; a plant that cannot show its incident must say which fact is missing."""
    if not zoo.wait_for(condition, timeout):
        raise PlantError(f"not observable after {timeout:.0f}s: {what}")


def backend_pid(session) -> int:
    """The PID of a live peers.Session (lines before it, such as a SET's echo, are skipped)."""
    session.send("SELECT 'pid=' || pg_backend_pid();")
    while True:
        line = session.read_line()
        if line.startswith("pid="):
            return int(line[4:])
        if session.process.poll() is not None:
            raise PlantError(f"session exited before telling its PID: {line}")


def ask(session, sql: str) -> str:
    """Sends `sql` (a statement whose result is one line) and returns that line, skipping blank output of
    earlier statements; a marker makes the answer unambiguous."""
    session.send(f"SELECT 'answer=' || ({sql});")
    while True:
        line = session.read_line()
        if line.startswith("answer="):
            return line[len("answer="):]
        if line.startswith("ERROR") or session.process.poll() is not None:
            raise PlantError(f"{sql}: {line}")


def script(pg, sql: str, database: str = "postgres", timeout: float = 120) -> str:
    """Runs a multi-statement script through psql's standard input: each statement is its own top-level
    statement (as an application sends them), which pg_stat_statements and the server log see."""
    result = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-d", database, "-At", "-q",
                             "-v", "ON_ERROR_STOP=1", "-f", "-"], input=sql, capture_output=True, text=True,
                            timeout=timeout, env=pg.env)
    if result.returncode != 0:
        raise PlantError(f"script failed: {result.stderr.strip()[:500]}")
    return result.stdout


def number(pg, sql: str) -> float:
    return float(pg.value(sql) or 0)


class Standby:
    """A hot standby made with `pg_basebackup -R` from `primary`, streaming as `application`, on its own port.
    Runs as the postgres user when we are root, like peers.PostgresServer."""

    def __init__(self, primary, port: int, application: str):
        self.primary = primary
        self.port = port
        self.application = application
        self.folder = Path(tempfile.mkdtemp(prefix="helpdesk-pg-standby-"))
        self.data = self.folder / "data"
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.run_as:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self.started = False

    def _pg(self, *args, timeout: float = 120):
        return subprocess.run([*self.run_as, *args], capture_output=True, text=True, timeout=timeout, env=self.primary.env)

    def start(self):
        conninfo = f"host=127.0.0.1 port={self.primary.port} user=postgres application_name={self.application}"
        result = self._pg(str(PG_BIN / "pg_basebackup"), "-D", str(self.data), "-d", conninfo, "-R", "-X", "stream",
                          "-c", "fast", "--no-sync")
        if result.returncode != 0:
            raise PlantError(f"pg_basebackup failed: {result.stderr.strip()}")
        # -R writes primary_conninfo from the connection used; say the name explicitly so the primary's
        # pg_stat_replication shows it whatever pg_basebackup keeps (a later line wins in the auto.conf).
        password = self.primary.password.replace("'", "\\'")
        with open(self.data / "postgresql.auto.conf", "a") as conf:
            conf.write(f"primary_conninfo = 'host=127.0.0.1 port={self.primary.port} user=postgres "
                       f"password={password} application_name={self.application}'\n")
        options = f"-k {self.folder} -p {self.port} -c listen_addresses=127.0.0.1"
        result = self._pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"),
                          "-w", "start")
        if result.returncode != 0:
            raise PlantError(f"standby did not start: {result.stderr.strip()}\n{self.log()[-2000:]}")
        self.started = True
        return self

    def log(self) -> str:
        path = self.folder / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def psql(self, sql: str) -> str:
        result = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-At",
                                 "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True, timeout=30,
                                env=self.primary.env)
        if result.returncode != 0:
            raise PlantError(f"standby: {sql}: {result.stderr.strip()}")
        return result.stdout.strip()

    def stop(self):
        if self.started:
            self._pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
            self.started = False
        shutil.rmtree(self.folder, ignore_errors=True)


def switch_wal(pg, segments: int, table: str = "wal_ticks"):
    """Writes real WAL cheaply: a tiny insert then pg_switch_wal() per segment, so each step ends a 16 MB segment
    (a switch with nothing written since the last one would not move)."""
    pg.value(f"CREATE TABLE IF NOT EXISTS {table} (at timestamptz DEFAULT now(), n int)")
    pg.value(f"""DO $$ BEGIN FOR i IN 1..{segments} LOOP
                   INSERT INTO {table} (n) VALUES (i); PERFORM pg_switch_wal();
                 END LOOP; END $$""")


def elapsed(since: float) -> float:
    return time.monotonic() - since
