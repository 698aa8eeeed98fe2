"""Three `helpdesk serve` processes on one PostgreSQL.

Slack slash commands and button clicks, Alertmanager notifications and API requests are spread over
three replicas sharing one store. Every notification reaches two replicas at once, as an
Alertmanager HA pair's do; two approvers click Approve on two replicas at the same instant for a
quorum-2 request, and one approver double-clicks on two replicas. One replica is killed with SIGKILL
mid-work and restarted; PostgreSQL is restarted once under load (`pg_ctl stop -m fast`, then start
on the same port and data folder). While it is down, webhooks get 503, /readyz says the store is
the problem, and a slash command is told at once that it cannot be recorded.

Afterwards: every alert was diagnosed once, every Slack message was posted once and in its outbox
order per channel, every approved action ran once, no job was lost (all done, none dead, none
queued), and the audit chain verifies — read through `helpdesk` commands pointed at the store by
HELPDESK_STORE_URL and through PostgreSQL itself.
"""
import copy
import json
import re
import shutil
import signal
import threading
import time
from collections import Counter

import pytest

from conftest import REPO, Helpdesk, free_port, http
from kube_stub import KubeStub, deployment
from peers import PostgresServer
from slack_peer import SIGNING_SECRET, Recorder, SlackClient, WebAPI, click, click_with_answer

AM_TOKEN = "alertmanager-bearer-0123456789"
BOT_TOKEN = "xoxb-test-0123456789-replicas"
TOKENS = {"bob": "token-bob-0123456789", "alice": "token-alice-0123456789"}
REPLICAS = 3
DEPLOYMENTS = ["web-a1", "web-a2", "web-a3"]

POLICY = """version: "1"
policies:
  - name: replicas
    rules:
      - {action: read, effect: allow}
      - action: write
        effect: require_approval
        conditions: {approval_quorum: 2, approvers: [role:sre]}
"""


class StoreUnderTest:
    """The PostgreSQL database the replicas share: its URL, the CLI's environment, and SQL on its tables."""

    def __init__(self, server: PostgresServer, database: str):
        self.server = server
        self.database = database
        self.url = server.url(database)

    @property
    def config(self) -> str:
        return f'store: {{url: "{self.url}"}}\n'

    @property
    def server_env(self) -> dict:
        return {"PGPASSWORD": self.server.password}

    @property
    def cli_env(self) -> dict:
        return {"HELPDESK_STORE_URL": self.url, "PGPASSWORD": self.server.password}

    def rows(self, sql: str) -> list[dict]:
        return self.server.rows(sql, self.database)

    def stop(self):
        self.server.stop_cluster("fast")

    def start(self):
        self.server.start_cluster()


@pytest.fixture
def replica_store():
    """A PostgreSQL cluster of this test's own (it is restarted mid-test) with an empty database.
    PostgresServer fails the test, never skips it, when PostgreSQL is missing or cannot start."""
    server = PostgresServer(free_port(), max_connections=200).start()
    try:
        yield StoreUnderTest(server, server.create_database("helpdesk"))
    finally:
        server.stop()


def wait_until(condition, timeout: float, interval: float = 0.1):
    """The first truthy value of condition() within timeout seconds, else its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def at_once(*calls):
    """Runs the calls on their own threads, released together by a barrier; their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)
    errors = []

    def run(index, call):
        barrier.wait()
        try:
            results[index] = call()
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results


def notification(name: str, labels: dict, status: str = "firing") -> dict:
    """One Alertmanager webhook payload: a group of its own holding one alert."""
    started = "2026-12-05T10:00:00Z"
    alert = {"status": status, "labels": {"alertname": name, **labels}, "annotations": {"summary": f"{name} is firing"},
             "startsAt": started, "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": f"fp-{name.lower()}"}
    return {"version": "4", "groupKey": f'{{}}:{{alertname="{name}"}}', "status": status, "receiver": "helpdesk",
            "groupLabels": {"alertname": name}, "commonLabels": alert["labels"], "commonAnnotations": alert["annotations"],
            "externalURL": "http://alertmanager", "truncatedAlerts": 0, "alerts": [alert]}


def readiness_reasons(data: bytes) -> list[str]:
    try:
        return json.loads(data).get("reasons") or []
    except ValueError:
        return []


def body_without_address(call_body: dict) -> dict:
    """A Web API call's body without what the outbox adds when it sends (channel, thread or message ts)."""
    return {key: value for key, value in call_body.items() if key not in ("channel", "thread_ts", "ts")}


class Replicas:
    """Three servers on one store, the peers they talk to, and a ledger of what the test asked of them."""

    def __init__(self, helpdesk, tmp_path, store: StoreUnderTest):
        self.store = store
        self.tmp_path = tmp_path
        self.api = WebAPI()
        self.recorder = Recorder()
        self.kube = KubeStub().start()
        self.kube.objects["deployments"]["orders"] = [deployment(name, desired=2, available=2) for name in DEPLOYMENTS]
        kubeconfig = self.kube.kubeconfig(tmp_path / "kubeconfig")
        (tmp_path / "policies").mkdir()
        (tmp_path / "policies" / "replicas.yaml").write_text(POLICY)
        (tmp_path / "am-token").write_text(AM_TOKEN)
        for name, token in TOKENS.items():
            (tmp_path / f"{name}.token").write_text(token)
        db_port = store.server.port
        self.hd = helpdesk(store.config + f"""
policies: {{dir: {tmp_path / 'policies'}}}
slack:
  api_base_url: {self.api.base_url}
  default_channel: C0APPROVALS
  templates_dir: {REPO}/templates/slack
  channel_messages_per_minute: 600
diagnosis: {{bundles_dir: bundles}}
infrastructure:
  db_servers:
    prod-db:
      connection_string: "host=127.0.0.1 port={db_port} dbname=postgres user=postgres sslmode=disable"
  k8s_clusters:
    prod-cluster: {{context: stub, kubeconfig: {kubeconfig}}}
alertmanager:
  storm_threshold: 1000
  diagnosis_delay: 0s
  routes:
    C0DBA: {{team: dba}}
  receivers:
    helpdesk: {{bearer_token_file: {tmp_path / 'am-token'}, channel: C0ALERTS}}
users:
  alice: {{roles: [sre], slack_user_id: U0ALICE}}
  carol: {{roles: [sre], slack_user_id: U0CAROL}}
  dave: {{roles: [sre], slack_user_id: U0DAVE}}
  bob: {{roles: [developer]}}
api:
  tokens:
    bob: {{token_file: {tmp_path / 'bob.token'}}}
    alice: {{token_file: {tmp_path / 'alice.token'}}}
jobs: {{poll_interval: 50ms, lease: 5s, backoff_base: 500ms, backoff_max: 3s}}
""")
        # The same configuration for every replica; only the port differs. HOME: kubectl's cache.
        self.env = {**store.server_env, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN, "HOME": str(tmp_path)}
        self.ports = [free_port() for _ in range(REPLICAS)]
        self.processes = [None] * REPLICAS
        # One numbering of response_urls and action timestamps for all three (a shallow copy shares the counter).
        first = SlackClient(self.url(0, ""), self.recorder)
        self.slack = []
        for index in range(REPLICAS):
            client = copy.copy(first)
            client.bot_url = self.url(index, "")
            self.slack.append(client)
        # The CLI gets the store from HELPDESK_STORE_URL only: its configuration names no store.
        (tmp_path / "cli").mkdir()
        self.cli_hd = Helpdesk(tmp_path / "cli", "")
        self.alerts = {}  # alertname -> channel its root and diagnosis go to
        self.acknowledged = {}  # response_url -> command text, for every command answered "Working on it"
        self.refused = []  # (replica, text, answer) of commands answered "cannot record" while the store was down
        self.refused_clicks = []  # response_urls of clicks answered "cannot record"
        self.approvals = {}  # approval id -> deployment it restarts
        self.clicks = {}  # approval id -> response_urls of its clicks

    def stop(self):
        for peer in (self.api, self.recorder, self.kube):
            peer.stop()

    # Servers

    def url(self, index: int, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[index]}{path}"

    def start(self, index: int):
        self.processes[index] = self.hd.start(env=self.env, wait=False, port=self.ports[index])

    def wait_ready(self, index: int, timeout: float = 30):
        process = self.processes[index]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"replica {index} exited with {process.returncode}:\n{self.hd.log(process)}", pytrace=False)
            try:
                if http("GET", self.url(index, "/readyz"), timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        pytest.fail(f"replica {index} was not ready within {timeout}s:\n{self.hd.log(process)[-3000:]}", pytrace=False)

    def alive(self) -> list[int]:
        return [index for index, process in enumerate(self.processes) if process.poll() is None]

    def logs(self) -> str:
        return "\n".join(f"--- serve-{n}.log (tail)\n{self.hd.log(process)[-2500:]}" for n, process in enumerate(self.hd.servers))

    # The CLI, against the store named by HELPDESK_STORE_URL

    def cli(self, *args: str, timeout: float = 30):
        return self.cli_hd.run(*args, env=self.store.cli_env, timeout=timeout)

    # Requests, each to the replica named

    def deliver(self, name: str, labels: dict, pair: tuple[int, int]) -> list[tuple[int, dict | None]]:
        """The same notification to two replicas at the same instant, as both Alertmanagers of an HA pair send it."""
        payload = json.dumps(notification(name, labels)).encode()
        headers = {"Authorization": f"Bearer {AM_TOKEN}", "Content-Type": "application/json"}

        def post(index):
            status, _, data = http("POST", self.url(index, "/webhooks/alertmanager"), body=payload, headers=headers, timeout=15)
            try:
                return status, json.loads(data) if data else None
            except ValueError:
                return status, {"raw": data.decode(errors="replace")}
        return at_once(*(lambda index=index: post(index) for index in pair))

    def alert(self, name: str, pair: tuple[int, int], db: bool):
        """An alert about prod-db (routed to C0DBA) or an unknown host (to the receiver's C0ALERTS), delivered twice at once."""
        labels = {"severity": "warning", **({"db": "prod-db", "team": "dba"} if db else {"instance": f"{name.lower()}:9100"})}
        answers = self.deliver(name, labels, pair)
        assert [status for status, _ in answers] == [200, 200], f"{name} to replicas {pair}: {answers}"
        new = sum(int(body["new"]) for _, body in answers)
        assert new == 1, f"{name} delivered to replicas {pair} at once was stored as new {new} times: {answers}"
        self.alerts[name] = "C0DBA" if db else "C0ALERTS"

    def command(self, index: int, text: str, user: str = "U0ALICE"):
        status, body, elapsed, response_url = self.slack[index].command(text, user_id=user)
        assert status == 200 and body and body["text"].startswith("Working on it"), (index, text, status, body)
        assert elapsed < 3, f"replica {index} took {elapsed:.2f}s to acknowledge {text!r}: Slack gives up after 3 s"
        self.acknowledged[response_url] = text
        return response_url

    def click(self, index: int, action: str, approval: str, user: str):
        status, response_url = click(self.slack[index], action, approval, user)
        assert status == 200, f"click {action} {approval} by {user} on replica {index}: HTTP {status}"
        self.clicks.setdefault(approval, []).append(response_url)
        return response_url

    def request_restart(self, index: int, name: str) -> str:
        status, _, data = http("POST", self.url(index, "/api/v1/k8s/rollout_restart"), headers={
            "Authorization": f"Bearer {TOKENS['bob']}", "Content-Type": "application/json"},
            body=json.dumps({"target": "prod-cluster", "arguments": {"namespace": "orders", "name": name}}).encode(), timeout=15)
        assert status == 202, f"replica {index}: {status} {data[:500]!r}"
        approval = json.loads(data)["approval"]["id"]
        self.approvals[approval] = name
        return approval

    # What the store says

    def busy(self, kinds_except: tuple[str, ...] = ()) -> int:
        """Jobs queued or running (but those of the kinds named)."""
        return sum(1 for job in self.store.rows("SELECT kind, state FROM jobs")
                   if job["state"] in ("queued", "running") and job["kind"] not in kinds_except)

    def outbox_pending(self) -> list[dict]:
        return self.store.rows("SELECT id, channel, method, attempts, lease_until, next_attempt_at, error FROM slack_outbox "
                               "WHERE state = 'pending' ORDER BY id")

    def executions(self) -> dict:
        return {row["id"]: row for row in self.store.rows("SELECT id, status, execution, decided_by FROM approvals")}

    def unanswered(self) -> list[str]:
        answered = {post["path"] for post in self.recorder.posts}
        return [url for url in self.acknowledged if url[len(self.recorder.url):] not in answered]


def test_three_replicas_on_one_postgres_lose_nothing_and_do_nothing_twice(helpdesk, tmp_path, replica_store):
    begun = time.monotonic()
    if not shutil.which("kubectl"):
        pytest.fail("kubectl is not installed", pytrace=False)
    cluster = Replicas(helpdesk, tmp_path, replica_store)
    store = replica_store
    background = BackgroundCommands(cluster)
    try:
        # All three start at once against an empty database: one of them migrates it, the others wait for that.
        for index in range(REPLICAS):
            cluster.start(index)
        for index in range(REPLICAS):
            cluster.wait_ready(index)
        for index in range(REPLICAS):
            status, body, _, _ = cluster.slack[index].command("help")
            assert status == 200 and body["response_type"] == "ephemeral" and body.get("blocks"), (index, status, body)

        # Phase A: alerts (each to two replicas at once), approval requests, racing votes, slash commands.
        for n in range(6):
            cluster.alert(f"ReplicaDb{n:02d}" if n % 2 == 0 else f"ReplicaHost{n:02d}", pair=(n % 3, (n + 1) % 3), db=n % 2 == 0)
        a1, a2, a3 = (cluster.request_restart(index, name) for index, name in enumerate(DEPLOYMENTS))
        # Two approvers click Approve on two replicas at the same instant: the quorum is met once.
        at_once(lambda: cluster.click(0, "approve", a1, "U0ALICE"), lambda: cluster.click(1, "approve", a1, "U0CAROL"))
        # One approver double-clicks, the clicks landing on two replicas: one vote.
        at_once(lambda: cluster.click(1, "approve", a2, "U0DAVE"), lambda: cluster.click(2, "approve", a2, "U0DAVE"))
        for n in range(6):
            cluster.command(n % 3, f"diagnose prod-db replicas phase A {n}")

        # Settled: a SIGKILL now can only catch jobs mid-work, never a Slack call between Slack's answer and
        # its record (no store can know of an answer the process died before writing down: that one would be
        # posted again whoever restarts).
        def phase_a_settled():
            return not cluster.busy() and not cluster.outbox_pending() and cluster.executions()[a1]["execution"] == "succeeded"
        assert wait_until(phase_a_settled, timeout=30), (
            f"phase A did not settle in 30 s: {cluster.busy()} jobs busy, outbox {cluster.outbox_pending()}, "
            f"approvals {cluster.executions()}\n{cluster.logs()}")

        # Phase B: SIGKILL replica 2 while it runs jobs, keep working on the other two, restart it on its port.
        enqueued = cluster.cli("jobs", "selftest", "--count", "12", "--sleep-ms", "1500")
        assert enqueued.returncode == 0, enqueued.stdout + enqueued.stderr
        victim = cluster.processes[2]

        def victim_mid_work():
            running = [job for job in store.rows("SELECT id, lease_owner FROM jobs WHERE state = 'running'")
                       if (job["lease_owner"] or "").split(":")[-2:-1] == [str(victim.pid)]]
            return running and not cluster.busy(kinds_except=("selftest",)) and not cluster.outbox_pending() and running
        caught = wait_until(victim_mid_work, timeout=15, interval=0.05)
        assert caught, f"replica 2 never ran a selftest job while the rest was idle\n{cluster.logs()}"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        killed_jobs = {job["id"] for job in caught}

        cluster.click(0, "approve", a2, "U0ALICE")  # completes a2's quorum on a survivor
        cluster.alert("ReplicaDb06", pair=(0, 1), db=True)
        cluster.alert("ReplicaHost07", pair=(1, 0), db=False)
        for n in range(2):
            cluster.command(n, f"diagnose prod-db replicas while one is dead {n}")
        cluster.start(2)
        cluster.wait_ready(2)

        # Phase C: restart PostgreSQL under load. No approved action runs across the restart: one interrupted
        # between running and recording its result is closed as failed, by design never run a second time.
        assert wait_until(lambda: all(cluster.executions()[a]["execution"] == "succeeded" for a in (a1, a2)), timeout=20), \
            f"a1 and a2 did not run: {cluster.executions()}\n{cluster.logs()}"
        enqueued = cluster.cli("jobs", "selftest", "--count", "12", "--sleep-ms", "1000")
        assert enqueued.returncode == 0, enqueued.stdout + enqueued.stderr
        cluster.alert("ReplicaDb08", pair=(2, 0), db=True)
        cluster.alert("ReplicaHost09", pair=(0, 2), db=False)
        for n in range(3):
            cluster.command(n, f"diagnose prod-db replicas before the restart {n}")
        background.start()
        assert wait_until(lambda: cluster.busy() >= 3, timeout=10, interval=0.05), "no load to restart PostgreSQL under"

        store.stop()
        down_at = time.monotonic()
        try:
            for index in range(REPLICAS):
                started = time.monotonic()
                status, _, data = http("GET", cluster.url(index, "/readyz"), timeout=10)
                reasons = readiness_reasons(data)
                assert status != 200 and any("store" in reason.lower() for reason in reasons), \
                    f"replica {index} /readyz while PostgreSQL is down: {status} {data[:300]!r}"
                assert time.monotonic() - started < 5, f"replica {index} took {time.monotonic() - started:.1f}s to answer /readyz"
            refused = cluster.deliver("ReplicaDbDown", {"severity": "warning", "db": "prod-db", "team": "dba"}, pair=(0, 1))
            assert [status for status, _ in refused] == [503, 503], \
                f"Alertmanager must hear 503 (and retry) while the store is down, got {refused}"
            try:
                status, body, elapsed, response_url = cluster.slack[1].command("diagnose prod-db while the store is down")
            except OSError as error:
                pytest.fail(f"a slash command while the store is down got no answer within 5 s ({error!r}): Slack gives up "
                            f"after 3 s\n{cluster.logs()}", pytrace=False)
            assert status == 200 and elapsed < 3, (status, body, elapsed)
            assert body["response_type"] == "ephemeral" and re.search(r"cannot record .*right now", body["text"], re.I), body
            cluster.refused.append((1, "diagnose prod-db while the store is down", body))
            # A click too: refused at once with 503 (Slack marks the click as failed; it shows nothing of a
            # click's response body), and not counted as a vote (carol votes on a3 later).
            started = time.monotonic()
            status, answer, response_url = click_with_answer(cluster.slack[2], "approve", a3, "U0CAROL")
            assert status == 503 and time.monotonic() - started < 3, (status, answer)
            assert isinstance(answer, dict) and answer.get("error", {}).get("code") == "store_unavailable", answer
            cluster.refused_clicks.append(response_url)
            assert cluster.alive() == [0, 1, 2], f"a replica died while PostgreSQL was down\n{cluster.logs()}"
            time.sleep(max(0.0, down_at + 2.5 - time.monotonic()))  # long enough for every pooled connection to notice
        finally:
            store.start()
        for index in range(REPLICAS):
            cluster.wait_ready(index, timeout=20)
        answers = cluster.deliver("ReplicaDbDown", {"severity": "warning", "db": "prod-db", "team": "dba"}, pair=(1, 2))
        assert [status for status, _ in answers] == [200, 200] and sum(int(b["new"]) for _, b in answers) == 1, \
            f"Alertmanager's retry after the store came back: {answers}"
        cluster.alerts["ReplicaDbDown"] = "C0DBA"
        time.sleep(1)  # the background commands go on a moment against the store that is back
        background.stop()
        assert not background.failures, f"slash commands answered other than 200 around the restart: {background.failures}"
        assert background.acknowledged_after_restart, "no slash command was acknowledged after PostgreSQL came back"
        assert background.refused, "the background commands should have met the store down"

        # Phase D: after the restart, a third quorum race across the restarted replica and another.
        at_once(lambda: cluster.click(2, "approve", a3, "U0CAROL"), lambda: cluster.click(0, "approve", a3, "U0DAVE"))
        cluster.alert("ReplicaDb10", pair=(2, 1), db=True)
        cluster.alert("ReplicaHost11", pair=(1, 2), db=False)
        for n in range(3):
            cluster.command(2 - n, f"diagnose prod-db replicas after the restart {n}")

        def drained():
            return (not cluster.busy() and not cluster.outbox_pending() and not cluster.unanswered()
                    and all(cluster.executions()[a]["execution"] in ("succeeded", "failed") for a in cluster.approvals))
        budget = max(20.0, 80 - (time.monotonic() - begun))
        if not wait_until(drained, timeout=budget, interval=0.25):
            left = [job for job in store.rows("SELECT id, kind, state, attempts, lease_owner, last_error FROM jobs")
                    if job["state"] != "done"]
            pytest.fail(f"not drained {budget:.0f}s after the last request:\n jobs not done: {left}\n outbox pending: "
                        f"{cluster.outbox_pending()}\n (a send not recorded while PostgreSQL was down must not wait out its lease)\n"
                        f" unanswered commands: {cluster.unanswered()}\n approvals: {cluster.executions()}\n{cluster.logs()}",
                        pytrace=False)
        assert cluster.alive() == [0, 1, 2], cluster.logs()

        check_jobs(cluster, killed_jobs, victim.pid)
        check_alerts(cluster)
        check_web_api(cluster)
        check_response_urls(cluster)
        check_approvals(cluster, {a1: {"alice", "carol"}, a2: {"dave", "alice"}, a3: {"carol", "dave"}}, double_clicked=a2)
        check_audit(cluster)
        print(f"replicas: {len(cluster.alerts)} alerts, {len(cluster.acknowledged)} commands, {len(cluster.approvals)} approvals, "
              f"{len(cluster.api.calls)} Web API calls in {time.monotonic() - begun:.1f}s")
    finally:
        background.stop()
        cluster.stop()


class BackgroundCommands:
    """Slash commands, one every 100 ms round the live replicas, while PostgreSQL restarts: each must be
    acknowledged (and answered later) or refused at once with 200; nothing else."""

    def __init__(self, cluster: Replicas):
        self.cluster = cluster
        self.stopping = threading.Event()
        self.failures = []
        self.refused = 0
        self.acknowledged_after_restart = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=30)

    def run(self):
        number = 0
        while not self.stopping.is_set():
            index = number % REPLICAS
            text = f"diagnose nowhere-{number} around the restart"
            number += 1
            try:
                status, body, elapsed, response_url = self.cluster.slack[index].command(text)
            except Exception as error:  # noqa: BLE001 (a reset, a timeout, a body that is not JSON: all failures here)
                self.failures.append((index, text, repr(error)))
                continue
            answer = (body or {}).get("text", "")
            if status == 200 and answer.startswith("Working on it") and elapsed < 3:
                self.cluster.acknowledged[response_url] = text
                if self.cluster.store.server.psql("SELECT 1").returncode == 0:
                    self.acknowledged_after_restart += 1
            elif status == 200 and re.search(r"cannot record .*right now", answer, re.I) and elapsed < 3:
                self.cluster.refused.append((index, text, body))
                self.refused += 1
            else:
                self.failures.append((index, text, status, body, round(elapsed, 2)))
            self.stopping.wait(0.1)


def check_jobs(cluster: Replicas, killed_jobs: set, killed_pid: int):
    """No job lost: `helpdesk jobs list` (the store by HELPDESK_STORE_URL) shows every job done, none dead or
    queued; each completed exactly once, and the killed replica's runs were closed as abandoned."""
    listed = cluster.cli("jobs", "list", "--json", "--limit", "100000")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    jobs = [json.loads(line) for line in listed.stdout.splitlines()]
    stored = {row["id"] for row in cluster.store.rows("SELECT id FROM jobs")}
    assert {job["id"] for job in jobs} == stored and stored, \
        f"`helpdesk jobs list` with HELPDESK_STORE_URL does not show the PostgreSQL store's jobs ({len(jobs)} listed, {len(stored)} stored)"
    states = Counter(job["state"] for job in jobs)
    assert states == Counter(done=len(jobs)), f"jobs not done: {states}: {[j for j in jobs if j['state'] != 'done']}"
    assert sum(1 for job in jobs if job["kind"] == "selftest") == 24

    runs = {}
    for run in cluster.store.rows("SELECT job_id, outcome, worker FROM job_runs ORDER BY id"):
        runs.setdefault(run["job_id"], []).append(run)
    twice = {job: [r["outcome"] for r in rs] for job, rs in runs.items() if [r["outcome"] for r in rs].count("done") != 1}
    assert not twice, f"jobs not completed exactly once: {twice}"
    assert set(runs) == stored
    unclosed = [run for rs in runs.values() for run in rs if run["outcome"] is None]
    assert not unclosed, f"runs never closed: {unclosed}"
    for job_id in killed_jobs:
        mine = [r["outcome"] for r in runs[job_id] if r["worker"].split(":")[-2:-1] == [str(killed_pid)]]
        assert mine == ["abandoned"], f"job {job_id}, running on the killed replica, has runs {runs[job_id]}"


def check_alerts(cluster: Replicas):
    """Each alert, delivered twice, has one row, one diagnosis job completed once, one root and one diagnosis in its thread."""
    jobs = Counter()
    for row in cluster.store.rows("SELECT payload FROM jobs WHERE kind = 'srebot.alert'"):
        jobs[json.loads(row["payload"])["labels"]["alertname"]] += 1
    assert jobs == Counter({name: 1 for name in cluster.alerts}), f"diagnosis jobs per alert: {dict(jobs)}"
    firing = Counter(row["fingerprint"] for row in cluster.store.rows("SELECT fingerprint FROM alerts WHERE status = 'firing'"))
    assert firing == Counter({f"fp-{name.lower()}": 1 for name in cluster.alerts}), firing

    posts = cluster.api.successful("chat.postMessage")
    for name, channel in cluster.alerts.items():
        roots = [c for c in posts if "thread_ts" not in c["body"] and re.search(rf"\b{name}\b", c["body"].get("text", ""))]
        assert len(roots) == 1, f"{name}: {len(roots)} roots: {[c['body'].get('text') for c in roots]}"
        assert roots[0]["body"]["channel"] == channel, (name, roots[0]["body"]["channel"])
        replies = [c for c in posts if c["body"].get("thread_ts") == roots[0]["reply"]["ts"]]
        assert len(replies) == 1, f"{name} was diagnosed {len(replies)} times in its thread: {[c['body'].get('text') for c in replies]}"
        text = replies[0]["body"]["text"]
        assert text.startswith("prod-db:") if channel == "C0DBA" else "is not in the inventory" in text, (name, text)


def check_web_api(cluster: Replicas):
    """Every message the outbox holds reached Slack once, in the outbox's order per channel; nothing reached
    Slack that the outbox does not record as sent (a post repeated after a lost record would)."""
    rows = cluster.store.rows("SELECT id, channel, method, body, thread_key, is_root, state, ts, once_key, coalesce_key "
                              "FROM slack_outbox ORDER BY id")
    assert rows, "nothing went through the outbox"
    assert not [r for r in rows if r["state"] != "sent"], [r for r in rows if r["state"] != "sent"]
    calls = [c for c in cluster.api.calls if c["method"] in ("chat.postMessage", "chat.update") and c.get("ok")]
    row_by_ts = {row["ts"]: row for row in rows}
    assert len(row_by_ts) == len(rows), "two outbox rows record one Slack message"
    unrecorded = [(c["method"], c["body"].get("channel"), c["body"].get("text", "")[:80])
                  for c in calls if c["reply"]["ts"] not in row_by_ts]
    assert not unrecorded, f"posted to Slack but not recorded as sent (so posted again, or its record lost): {unrecorded}"
    by_ts = {c["reply"]["ts"]: c for c in calls}
    for row in rows:
        call = by_ts.get(row["ts"])
        assert call, f"outbox row {row['id']} is recorded as sent but Slack never got it"
        assert call["method"] == row["method"] and call["body"]["channel"] == row["channel"], (row, call["body"])
        # An edit replaced while on its way keeps the newer body in its row, and that body goes out again
        # in a later row (the same message edited twice): only the last row of an edited message says what Slack shows.
        superseded = row["coalesce_key"] and any(later["id"] > row["id"] and later["coalesce_key"] == row["coalesce_key"]
                                                 and later["channel"] == row["channel"] for later in rows)
        if not superseded:
            assert body_without_address(call["body"]) == json.loads(row["body"]), f"outbox row {row['id']} went out with another body"

    identity = Counter((c["method"], c["body"]["channel"], c["body"].get("thread_ts") or c["body"].get("ts"),
                        json.dumps(body_without_address(c["body"]), sort_keys=True)) for c in calls)
    assert not [key for key, count in identity.items() if count > 1], \
        f"messages posted more than once: {[key[:3] + (key[3][:80],) for key, count in identity.items() if count > 1]}"
    roots = Counter((r["channel"], r["thread_key"]) for r in rows if r["is_root"])
    assert not [key for key, count in roots.items() if count > 1], f"threads with two roots: {roots}"
    once = Counter(r["once_key"] for r in rows if r["once_key"])
    assert not [key for key, count in once.items() if count > 1], once

    for channel in sorted({row["channel"] for row in rows}):
        sent = [row_by_ts[c["reply"]["ts"]]["id"] for c in calls if c["body"]["channel"] == channel]
        assert sent == sorted(sent), f"{channel}: Slack got outbox rows in the order {sent}, not the outbox's"
    # Replies go into their root's thread, after it.
    root_ts = {}
    for call in calls:
        target = call["body"].get("thread_ts") or call["body"].get("ts")
        assert target is None or target in root_ts, \
            f"{call['method']} into a thread whose root Slack has not seen: {call['body'].get('text', '')[:80]}"
        if call["method"] == "chat.postMessage" and "thread_ts" not in call["body"]:
            root_ts[call["reply"]["ts"]] = call


def check_response_urls(cluster: Replicas):
    """Every acknowledged slash command and click was answered on its response_url; twice only if its delivery job ran twice."""
    posts = Counter(post["path"] for post in cluster.recorder.posts)
    clicks = [url for urls in cluster.clicks.values() for url in urls]
    missing = [url for url in list(cluster.acknowledged) + clicks if not posts[url[len(cluster.recorder.url):]]]
    assert not missing, f"never answered: {[(url, cluster.acknowledged.get(url)) for url in missing]}"
    runs = {}
    for row in cluster.store.rows("SELECT j.payload, (SELECT count(*) FROM job_runs r WHERE r.job_id = j.id) AS runs "
                                  "FROM jobs j WHERE j.kind = 'slack.respond'"):
        runs[json.loads(row["payload"])["response_url"]] = row["runs"]
    repeated = [(path, count) for path, count in posts.items() if count > 1 and runs.get(cluster.recorder.url + path, 0) < count]
    assert not repeated, f"answers delivered more often than their delivery jobs ran: {repeated}"
    answered_refused = [post for post in cluster.recorder.posts if post["path"].startswith("/commands/")
                        and cluster.recorder.url + post["path"] not in cluster.acknowledged]
    answered_refused += [post for post in cluster.recorder.posts if cluster.recorder.url + post["path"] in cluster.refused_clicks]
    assert not answered_refused, f"requests told 'cannot record' were acted on all the same: {answered_refused}"


def check_approvals(cluster: Replicas, voters: dict, double_clicked: str):
    """Each approved action ran once: one execution job, one tool_call naming the approval, one PATCH of its deployment."""
    executions = cluster.executions()
    for approval, deployment_name in cluster.approvals.items():
        record = executions[approval]
        assert (record["status"], record["execution"]) == ("approved", "succeeded"), (approval, record)
    votes = {}
    for row in cluster.store.rows("SELECT approval_id, principal, vote FROM approval_votes"):
        votes.setdefault(row["approval_id"], []).append((row["principal"], row["vote"]))
    for approval, expected in voters.items():
        assert sorted(votes.get(approval, [])) == sorted((name, "approve") for name in expected), (approval, votes.get(approval))
    execute_jobs = Counter(json.loads(row["payload"])["approval_id"]
                           for row in cluster.store.rows("SELECT payload FROM jobs WHERE kind = 'approval.execute'"))
    assert execute_jobs == Counter({approval: 1 for approval in cluster.approvals}), execute_jobs

    patches = Counter(request[1].split("?")[0].rsplit("/", 1)[-1] for request in cluster.kube.requests if request[0] == "PATCH")
    assert patches == Counter({name: 1 for name in DEPLOYMENTS}), f"rollout restarts reaching the cluster: {dict(patches)}"

    # The racing clicks' answers: one recorded the first vote, the other decided (or, double-clicked, was refused).
    for approval, urls in cluster.clicks.items():
        answers = [json.dumps(cluster.recorder.wait_for(url, timeout=5)) for url in urls]
        first_votes = [a for a in answers if "1 more needed" in a]
        if approval == double_clicked:
            assert len(first_votes) == 1 and any("counts once" in a for a in answers), (approval, answers)
            assert any("approved; running now" in a for a in answers), (approval, answers)
        else:
            assert len(first_votes) == 1 and sum("approved; running now" in a for a in answers) == 1, (approval, answers)


def check_audit(cluster: Replicas):
    """The chain verifies (`helpdesk audit verify` by HELPDESK_STORE_URL, and GET /v1/verify on a replica), has no
    fork or gap, and tells each decision and each run once."""
    verified = cluster.cli("audit", "verify", timeout=60)
    assert verified.returncode == 0 and "chain intact" in verified.stdout, verified.stdout + verified.stderr
    status, _, data = http("GET", cluster.url(1, "/v1/verify"), headers={"Authorization": f"Bearer {TOKENS['alice']}"}, timeout=30)
    assert status == 200 and json.loads(data)["ok"] is True, data[:500]

    chain = cluster.store.rows("SELECT seq, prev_hash FROM audit_events ORDER BY seq")
    seqs = [row["seq"] for row in chain]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "the audit chain has gaps"
    forks = [prev for prev, count in Counter(row["prev_hash"] for row in chain).items() if count > 1]
    assert not forks, f"{len(forks)} events share a predecessor: the chain forked"

    exported = cluster.cli("audit", "export", timeout=60)
    assert exported.returncode == 0, exported.stderr
    events = [json.loads(line) for line in exported.stdout.splitlines() if line.startswith("{")]
    events = [event for event in events if "kind" in event]
    assert len(events) >= len(chain) - 1, "`helpdesk audit export` does not read the PostgreSQL store"
    for approval in cluster.approvals:
        kinds = Counter(event["kind"] for event in events if event.get("target") == approval)
        assert kinds["approval_created"] == 1 and kinds["approval_decided"] == 1 and kinds["approval_vote"] == 2, (approval, kinds)
        ran = [event for event in events if event["kind"] == "tool_call" and json.loads(event["data"]).get("approval") == approval]
        assert len(ran) == 1 and json.loads(ran[0]["data"])["outcome"] == "ok", (approval, ran)
    sent = Counter(json.loads(event["data"]).get("outbox_id") for event in events
                   if event["kind"] == "message_sent" and json.loads(event["data"]).get("via") == "slack")
    assert not [outbox_id for outbox_id, count in sent.items() if count > 1], f"a message recorded as sent twice: {sent}"
    assert len(sent) == len(cluster.store.rows("SELECT id FROM slack_outbox WHERE state = 'sent'"))
