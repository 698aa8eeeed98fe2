#!/usr/bin/env python3
"""The incident zoo's scorer (issue 18): plants each class on real peers, runs `helpdesk diagnose` for
each of its triggers and scores the diagnosis against the class's expected.yaml. Importable: the
scoring is `score()`, a pure function of (expected, diagnosis, bindings). See README.md."""
from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

ZOO = Path(__file__).resolve().parent
REPO = ZOO.parents[1]
INTEGRATION = REPO / "Tests" / "integration"
if str(INTEGRATION) not in sys.path:
    sys.path.insert(0, str(INTEGRATION))

KUBERNETES_VERSION = "1.30"
TRIGGERS = ("person", "alert")
# No command lists the tools with their action, so the write and destructive ones are named here (the
# diagnosis's own `tools[].action` adds any other it ran). Keep in step with the agents' descriptors.
KNOWN_WRITE_TOOLS = frozenset({"cancel_query", "terminate_backend", "rollout_restart", "scale", "rollout_undo", "create_silence"})
ALL_WRITE_TOOLS = "ALL_WRITE_TOOLS"
NAME = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
DIAGNOSE_TIMEOUT = 180.0


class PeerError(Exception):
    """A peer (PostgreSQL, kubectl) could not start: the run cannot score anything honestly (exit 2)."""


class PlantError(Exception):
    """The class cannot be planted (no plant, a plant that failed or bound too little): the class fails."""


class MissingBinding(KeyError):
    pass


# ------------------------------------------------------------------------------------------ classes


@dataclass
class ZooClass:
    name: str
    folder: Path
    expected: dict

    @property
    def peer(self) -> str:
        return self.expected.get("peer", "postgres")

    @property
    def kubernetes(self) -> bool:
        return self.peer in ("kubernetes", "both")

    @property
    def postgres(self) -> bool:
        """A class that runs its own PostgreSQL (peer `both` points prod-db at a closed port instead)."""
        return self.peer == "postgres"

    def triggers(self) -> list[tuple[str, dict]]:
        triggers = self.expected.get("triggers") or {}
        return [(kind, triggers[kind]) for kind in TRIGGERS if triggers.get(kind)]

    def names(self) -> set[str]:
        """Every `$name` the scoring and the alert need from the plant."""
        texts = []
        root = self.expected.get("root_cause") or {}
        texts += [str(item) for item in root.get("must_mention") or []]
        fix = self.expected.get("fix") or {}
        texts += [str(value) for value in (fix.get("arguments") or {}).values()]
        texts += [str(item) for item in (self.expected.get("must_not") or {}).get("say") or []]
        alert = (self.expected.get("triggers") or {}).get("alert") or {}
        texts += [str(value) for value in (alert.get("labels") or {}).values()]
        return {name for text in texts for name in NAME.findall(text)}


def load_classes(names: list[str] | None = None) -> list[ZooClass]:
    found = {}
    for path in sorted(ZOO.glob("*/expected.yaml")):
        found[path.parent.name] = ZooClass(path.parent.name, path.parent, yaml.safe_load(path.read_text()))
    if names:
        unknown = [name for name in names if name not in found]
        if unknown:
            raise ValueError(f"no class {', '.join(unknown)}; the classes: {', '.join(found)}")
        return [found[name] for name in names]
    return list(found.values())


# ------------------------------------------------------------------------------------- substitution


def text_of(value) -> str:
    """A value as the expectations compare it: whole numbers without a decimal point, booleans in lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return ""
    return str(value)


def expand(template, bindings: dict) -> list[str]:
    """Every text `template` stands for: each `$name` filled from `bindings`; a list binding gives one
    text per member (any of them matches)."""
    template = text_of(template)
    match = NAME.search(template)
    if match is None:
        return [template]
    name = match.group(1)
    if name not in bindings:
        raise MissingBinding(name)
    value = bindings[name]
    values = value if isinstance(value, list) else [value]
    head, tail = template[:match.start()], template[match.end():]
    return [head + text_of(member) + rest for member in values for rest in expand(tail, bindings)]


# ------------------------------------------------------------------------------------------ scoring


@dataclass
class Score:
    named: bool | None      # None: nothing to name (a healthy system)
    fix: bool | None        # None: nothing to fix
    clean: bool
    finding_rule: bool | None
    missing: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.named is not False and self.fix is not False and self.clean


def call_text(call: dict) -> str:
    arguments = ", ".join(f"{key}={text_of(value)}" for key, value in sorted((call.get("arguments") or {}).items()))
    return f"{call.get('tool')}({arguments})"


def recommended_calls(diagnosis: dict) -> list[dict]:
    calls = [action.get("call") or {} for action in diagnosis.get("recommended_actions") or []]
    for finding in diagnosis.get("findings") or []:
        calls += [action.get("call") or {} for action in finding.get("recommended_actions") or []]
    unique = {}
    for call in calls:
        unique.setdefault(call_text(call), call)
    return list(unique.values())


def write_tools_of(diagnosis: dict) -> set[str]:
    return set(KNOWN_WRITE_TOOLS) | {tool.get("tool") for tool in diagnosis.get("tools") or []
                                     if tool.get("action") in ("write", "destructive")}


def said(diagnosis: dict) -> str:
    """What the diagnosis says: the finding summaries and advice, its summary (and a model's analysis)."""
    parts = [diagnosis.get("summary") or "", diagnosis.get("analysis") or ""]
    for finding in diagnosis.get("findings") or []:
        parts += [finding.get("summary") or "", finding.get("advice") or ""]
    return "\n".join(parts)


def score(expected: dict, diagnosis: dict, bindings: dict) -> Score:
    text = said(diagnosis).lower()
    findings = diagnosis.get("findings") or []
    calls = recommended_calls(diagnosis)
    write_tools = write_tools_of(diagnosis)
    missing, wrong = [], []

    root = expected.get("root_cause")
    named = finding_rule = None
    if root:
        named = True
        for item in root.get("must_mention") or []:
            variants = expand(item, bindings)
            if not any(variant.lower() in text for variant in variants):
                named = False
                missing.append(f"mention {' | '.join(repr(v) for v in variants)}")
        if root.get("finding_rule"):
            finding_rule = any(finding.get("rule") == root["finding_rule"] for finding in findings)

    fix = expected.get("fix")
    fixed = None
    if fix and fix.get("tool"):
        wanted = {key: set(expand(value, bindings)) for key, value in (fix.get("arguments") or {}).items()}
        same_tool = [call for call in calls if call.get("tool") == fix["tool"]]
        fixed = any(all(text_of((call.get("arguments") or {}).get(key)) in values for key, values in wanted.items()) for call in same_tool)
        if not fixed:
            wanted_text = ", ".join(f"{key}={'|'.join(sorted(values))}" for key, values in sorted(wanted.items()))
            note = f" (recommended instead: {', '.join(call_text(call) for call in same_tool)})" if same_tool else ""
            missing.append(f"recommend {fix['tool']}({wanted_text}){note}")
    elif fix:
        writes = [call for call in calls if call.get("tool") in write_tools]
        advised = any(str(finding.get("advice") or "").strip() for finding in findings)
        fixed = not writes and advised
        wrong += [f"recommends {call_text(call)} (no tool fixes this)" for call in writes]
        if not advised:
            missing.append("advice on a finding (no tool fixes this: a person does)")

    clean = True
    must_not = expected.get("must_not") or {}
    forbidden = set()
    for tool in must_not.get("recommend_tools") or []:
        forbidden |= write_tools if tool == ALL_WRITE_TOOLS else {tool}
    for call in calls:
        if call.get("tool") in forbidden:
            clean = False
            wrong.append(f"recommends {call_text(call)}")
    for phrase in must_not.get("say") or []:
        for variant in expand(phrase, bindings):
            if variant.lower() in text:
                clean = False
                wrong.append(f"says {variant!r}")
    if expected.get("expect_findings") is not None:
        if len(findings) != expected["expect_findings"]:
            clean = False
            examples = "; ".join(finding.get("summary", "?") for finding in findings[:3])
            wrong.append(f"{len(findings)} findings where {expected['expect_findings']} expected: {examples}")
        # "Nothing found" only counts when everything was looked at.
        failed = [tool for tool in diagnosis.get("tools") or [] if tool.get("error")]
        if failed:
            clean = False
            wrong.append(f"{len(failed)} of {len(diagnosis.get('tools') or [])} tools failed, so nothing found proves nothing: "
                         + "; ".join(f"{tool.get('tool')}: {first_line(tool['error'])[:120]}" for tool in failed[:3]))
    return Score(named, fixed, clean, finding_rule, missing, list(dict.fromkeys(wrong)))


# ---------------------------------------------------------------------------------- plant checking


def object_problems(zoo_class: ZooClass) -> list[str]:
    """Every objects.yaml document checked with kubernetes-validate, strict, at Kubernetes 1.30."""
    path = zoo_class.folder / "objects.yaml"
    if not path.exists():
        return []
    import kubernetes_validate
    problems = []
    for index, document in enumerate(yaml.safe_load_all(path.read_text())):
        if not document:
            continue
        where = f"{zoo_class.name}/objects.yaml document {index + 1} ({document.get('kind')}/{(document.get('metadata') or {}).get('name')})"
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{where}: {str(error).splitlines()[0]}")
        except Exception as error:  # a kind without a schema, a malformed document
            problems.append(f"{where}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
    return problems


def plant_problems(zoo_class: ZooClass) -> list[str]:
    """What is missing for the class to be planted; bindings are checked here for the recorded plants
    (a plant.py returns its bindings only when it runs)."""
    problems = []
    folder = zoo_class.folder
    if zoo_class.kubernetes:
        for name in ("objects.yaml", "plant.yaml"):
            if not (folder / name).exists():
                problems.append(f"{zoo_class.name}: no {name}")
        if (folder / "plant.yaml").exists():
            plant = yaml.safe_load((folder / "plant.yaml").read_text()) or {}
            unbound = sorted(zoo_class.names() - set(plant.get("bindings") or {}))
            if unbound:
                problems.append(f"{zoo_class.name}: plant.yaml does not bind {', '.join('$' + n for n in unbound)}")
            if zoo_class.peer == "both" and not (plant.get("database") or {}).get("k8s_namespace"):
                problems.append(f"{zoo_class.name}: plant.yaml has no database.k8s_namespace for prod-db")
    if zoo_class.postgres and not (folder / "plant.py").exists():
        problems.append(f"{zoo_class.name}: no plant.py")
    return problems


# -------------------------------------------------------------------------------------------- peers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _WithApplication:
    """What peers.Session reads of a server (port, env), with PGAPPNAME so psql sets application_name."""

    def __init__(self, server, application: str):
        self.port = server.port
        self.env = {**server.env, "PGAPPNAME": application}


class Zoo:
    """What a PostgreSQL plant (plant.py) gets: the class's server and helpers whose leftovers the
    scorer cleans up after the class (sessions closed, background threads stopped, cleanups run)."""

    def __init__(self, pg, folder: Path):
        self.pg = pg
        self.folder = folder
        self.stop_event = threading.Event()
        self._sessions = []
        self._threads = []
        self._cleanups = []

    def session(self, application: str | None = None):
        from peers import Session
        session = Session(self.pg if application is None else _WithApplication(self.pg, application))
        self._sessions.append(session)
        return session

    @staticmethod
    def wait_for(condition, timeout: float = 30, interval: float = 0.1) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(interval)
        return False

    def background(self, fn) -> threading.Thread:
        """Runs fn(stop_event) in a thread until the class ends (then stop_event is set)."""
        def run():
            try:
                fn(self.stop_event)
            except Exception:
                if not self.stop_event.is_set():
                    print(f"zoo: a background task of a plant failed:\n{traceback.format_exc()}", file=sys.stderr)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def on_cleanup(self, fn):
        self._cleanups.append(fn)

    free_port = staticmethod(free_port)

    def cleanup(self):
        self.stop_event.set()
        for fn in reversed(self._cleanups):
            try:
                fn()
            except Exception as error:
                print(f"zoo: a plant's cleanup failed: {error}", file=sys.stderr)
        for session in self._sessions:
            session.close()
        for thread in self._threads:
            thread.join(timeout=10)


def _pytest_failure():
    """peers.py reports through pytest.fail, whose exception is a BaseException."""
    import pytest
    return pytest.fail.Exception


def start_postgres(settings: dict):
    from peers import PostgresServer
    failure = _pytest_failure()
    options = {"max_connections": int(settings["max_connections"])} if "max_connections" in settings else {}
    try:
        server = PostgresServer(free_port(), **options)
    except failure as error:
        raise PeerError(str(error)) from None
    try:
        return server.start(settings=settings) if settings else server.start()
    except TypeError as error:
        server.stop()
        raise PlantError(f"peers.PostgresServer.start takes no settings yet ({error}); the class needs {settings}") from None
    except failure as error:
        server.stop()
        raise PeerError(f"PostgreSQL did not start: {error}") from None


def load_plant_module(zoo_class: ZooClass):
    path = zoo_class.folder / "plant.py"
    if not path.exists():
        raise PlantError("no plant (plant.py is missing)")
    spec = importlib.util.spec_from_file_location(f"zoo_plant_{zoo_class.name.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------------------- running


@dataclass
class Options:
    binary: str
    mode: str = "runbook"
    llm: dict | None = None
    timeout: float = DIAGNOSE_TIMEOUT
    keep: bool = False


@dataclass
class Planted:
    bindings: dict
    database: dict | None = None    # prod-db's inventory entry (None: no database in the inventory)
    pg_port: int | None = None
    pg_password: str | None = None
    kubeconfig: Path | None = None


def row(zoo_class: ZooClass, trigger: str, **values) -> dict:
    base = {"class": zoo_class.name, "trigger": trigger, "pass": False, "named": None, "fix": None, "clean": False,
            "finding_rule": None, "missing": [], "wrong": [], "findings": 0, "seconds": 0.0, "summary": "", "exit_code": None}
    return {**base, **values}


def failed_rows(zoo_class: ZooClass, reason: str, seconds: float = 0.0) -> list[dict]:
    return [row(zoo_class, kind, wrong=[reason], seconds=round(seconds, 2)) for kind, _ in zoo_class.triggers()]


def alert_payload(zoo_class: ZooClass, spec: dict, bindings: dict) -> dict:
    """One alert as Alertmanager's webhook carries it."""
    labels = {"alertname": spec["alertname"]}
    for key, value in (spec.get("labels") or {}).items():
        labels[key] = expand(value, bindings)[0]
    fingerprint = hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()[:16]
    started = (datetime.now(timezone.utc) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"status": "firing", "labels": labels, "annotations": {"summary": zoo_class.expected.get("summary", "")},
            "startsAt": started, "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": f"http://prometheus.monitoring.svc:9090/graph?g0.expr=ALERTS%7Balertname%3D%22{spec['alertname']}%22%7D",
            "fingerprint": fingerprint}


def write_config(work: Path, planted: Planted, options: Options) -> tuple[Path, dict]:
    infrastructure = {}
    if planted.database is not None:
        infrastructure["db_servers"] = {"prod-db": planted.database}
    if planted.kubeconfig is not None:
        infrastructure["k8s_clusters"] = {"prod-cluster": {"context": "stub", "kubeconfig": str(planted.kubeconfig), "tags": ["production"]}}
    config = {"store": {"path": str(work / "state" / "hd.sqlite")}, "diagnosis": {"bundles_dir": str(work / "bundles")},
              "infrastructure": infrastructure}
    if options.mode == "model":
        config["llm"] = options.llm
    path = work / "helpdesk.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    passfile = work / "pgpass"
    passfile.write_text(f"127.0.0.1:{planted.pg_port}:*:postgres:{planted.pg_password}\n" if planted.pg_password else "")
    os.chmod(passfile, 0o600)
    home = work / "home"
    home.mkdir(exist_ok=True)
    environment = {key: value for key, value in os.environ.items() if key != "HELPDESK_CONFIG"}
    environment.update({"HOME": str(home), "XDG_STATE_HOME": str(work / "xdg-state"), "XDG_CONFIG_HOME": str(work / "xdg-config"),
                        "PGPASSFILE": str(passfile), "PGPASSWORD": ""})
    return path, environment


def first_line(*texts: str) -> str:
    for text in texts:
        for line in (text or "").splitlines():
            if line.strip():
                return line.strip()[:300]
    return "(no output)"


def run_trigger(zoo_class: ZooClass, kind: str, spec: dict, planted: Planted, config: Path, environment: dict, work: Path,
                options: Options) -> dict:
    command = [options.binary, "diagnose"]
    if kind == "person":
        command.append(spec["target"])
        if spec.get("namespace"):
            command += ["--namespace", spec["namespace"]]
        if spec.get("symptom"):
            command += ["--symptom", spec["symptom"]]
    else:
        alert = work / f"alert-{zoo_class.name}.json"
        alert.write_text(json.dumps(alert_payload(zoo_class, spec, planted.bindings), indent=2))
        command += ["--alert", str(alert)]
    command += ["--json", "--config", str(config)]
    started = time.monotonic()
    try:
        result = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=options.timeout, env=environment)
    except subprocess.TimeoutExpired:
        return row(zoo_class, kind, wrong=[f"diagnose did not finish in {options.timeout:.0f} s"], seconds=round(time.monotonic() - started, 2))
    seconds = round(time.monotonic() - started, 2)
    try:
        diagnosis = json.loads(result.stdout)
    except ValueError:
        diagnosis = None
    if not isinstance(diagnosis, dict):
        # A usage error (an option this binary does not have) or a crash: the trigger failed, with why.
        return row(zoo_class, kind, exit_code=result.returncode, seconds=seconds,
                   wrong=[f"diagnose exited {result.returncode} without a diagnosis: {first_line(result.stderr, result.stdout)}"])
    outcome = score(zoo_class.expected, diagnosis, planted.bindings)
    wrong = list(outcome.wrong)
    if result.returncode not in (0, 1):
        problems = "; ".join(diagnosis.get("problems") or []) or diagnosis.get("summary", "")
        wrong.insert(0, f"diagnose exited {result.returncode}: {problems[:300]}")
    passed = outcome.passed and result.returncode in (0, 1)
    return row(zoo_class, kind, **{"pass": passed}, named=outcome.named, fix=outcome.fix, clean=outcome.clean,
               finding_rule=outcome.finding_rule, missing=outcome.missing, wrong=wrong, findings=len(diagnosis.get("findings") or []),
               seconds=seconds, summary=diagnosis.get("summary", ""), exit_code=result.returncode)


def run_class(zoo_class: ZooClass, options: Options) -> list[dict]:
    """Plants the class on fresh peers, runs each trigger and scores it; the peers go when it is done.
    Raises PeerError when a peer cannot start."""
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=f"zoo-{zoo_class.name}-"))
    stub = pg = zoo = None
    try:
        try:
            planted = Planted(bindings={})
            if zoo_class.kubernetes:
                if not shutil.which("kubectl"):
                    raise PeerError("kubectl is not installed (the Kubernetes classes drive it against a stub API server)")
                if not (zoo_class.folder / "objects.yaml").exists():
                    raise PlantError("no plant (objects.yaml is missing)")
                from kube_stub import KubeStub
                stub = KubeStub.load(zoo_class.folder).start()
                planted.kubeconfig = stub.kubeconfig(work / "kubeconfig")
                planted.bindings.update(stub.plant.get("bindings") or {})
            if zoo_class.peer == "both":
                # The database is down: nothing listens on its port; its pods tell why.
                port = free_port()
                planted.database = {"connection_string": f"host=127.0.0.1 port={port} dbname=postgres user=postgres sslmode=disable connect_timeout=3",
                                    "tags": ["production"], "k8s_cluster": "prod-cluster", **(stub.plant.get("database") or {})}
            if zoo_class.postgres:
                module = load_plant_module(zoo_class)
                pg = start_postgres(dict(getattr(module, "SETTINGS", {}) or {}))
                zoo = Zoo(pg, work)
                result = module.plant(zoo) or {}
                inventory = dict(getattr(module, "INVENTORY", {}) or {})
                if isinstance(result.get("bindings"), dict):
                    inventory.update(result.get("inventory") or {})
                    result = result["bindings"]
                planted.bindings.update(result)
                planted.pg_port, planted.pg_password = pg.port, pg.password
                planted.database = {"connection_string": f"host=127.0.0.1 port={pg.port} dbname=postgres user=postgres sslmode=disable",
                                    "tags": ["production"], **inventory}
            unbound = sorted(zoo_class.names() - set(planted.bindings))
            if unbound:
                raise PlantError(f"the plant did not bind {', '.join('$' + name for name in unbound)}")
        except (PlantError, PeerError):
            raise
        except (Exception, _pytest_failure()) as error:  # peers.py's helpers fail through pytest.fail
            print(f"zoo: {zoo_class.name}'s plant failed:\n{traceback.format_exc()}", file=sys.stderr)
            raise PlantError(f"plant failed: {type(error).__name__}: {first_line(str(error))}") from None
        config, environment = write_config(work, planted, options)
        return [run_trigger(zoo_class, kind, spec, planted, config, environment, work, options) for kind, spec in zoo_class.triggers()]
    except PlantError as error:
        return failed_rows(zoo_class, str(error).strip(), time.monotonic() - started)
    finally:
        if zoo is not None:
            zoo.cleanup()
        if stub is not None:
            stub.stop()
        if pg is not None:
            pg.stop()
        if options.keep:
            print(f"zoo: {zoo_class.name}'s folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def run_zoo(classes: list[ZooClass], options: Options, jobs: int = 4, progress=None) -> tuple[list[dict], list[str]]:
    """Runs the classes in parallel; returns the rows (class order, person before alert) and the peers that failed."""
    rows, peer_failures = {}, []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(run_class, zoo_class, options): zoo_class for zoo_class in classes}
        for future in concurrent.futures.as_completed(futures):
            zoo_class = futures[future]
            try:
                rows[zoo_class.name] = future.result()
            except PeerError as error:
                peer_failures.append(f"{zoo_class.name}: {error}")
                rows[zoo_class.name] = failed_rows(zoo_class, f"peer did not start: {error}")
            if progress:
                for item in rows[zoo_class.name]:
                    progress(item)
    return [item for zoo_class in classes for item in rows[zoo_class.name]], peer_failures


# ----------------------------------------------------------------------------------------- reports


def mark(value) -> str:
    return "-" if value is None else ("yes" if value else "no")


def table(rows: list[dict]) -> str:
    width = max([len("class")] + [len(item["class"]) for item in rows])
    header = f"{'class':<{width}}  {'trigger':<7}  {'named':<5}  {'fix':<3}  {'clean':<5}  {'rule':<4}  {'pass':<4}  {'findings':>8}  {'seconds':>7}"
    lines = [header, "-" * len(header)]
    for item in rows:
        lines.append(f"{item['class']:<{width}}  {item['trigger']:<7}  {mark(item['named']):<5}  {mark(item['fix']):<3}  "
                     f"{mark(item['clean']):<5}  {mark(item['finding_rule']):<4}  {'PASS' if item['pass'] else 'FAIL':<4}  "
                     f"{item['findings']:>8}  {item['seconds']:>7.1f}")
    return "\n".join(lines)


def totals(rows: list[dict], seconds: float) -> str:
    passed = sum(item["pass"] for item in rows)
    by_class = {}
    for item in rows:
        by_class.setdefault(item["class"], []).append(item["pass"])
    whole = sum(all(values) for values in by_class.values())
    return (f"passed {passed} of {len(rows)} (class, trigger) pairs; {whole} of {len(by_class)} classes pass every trigger; "
            f"took {seconds:.0f} s")


def failures(rows: list[dict]) -> str:
    lines = []
    for item in rows:
        if item["pass"]:
            continue
        lines.append(f"{item['class']} / {item['trigger']}:")
        lines += [f"    missing: {text}" for text in item["missing"]]
        lines += [f"    wrong:   {text}" for text in item["wrong"]]
    return "\n".join(lines)


def report(rows: list[dict], mode: str) -> dict:
    return {"mode": mode, "classes": rows, "passed": sum(item["pass"] for item in rows), "total": len(rows)}


def pair(item: dict) -> str:
    return f"{item['class']}/{item['trigger']}"


def baseline_passes(path: Path) -> set[str]:
    """The (class, trigger) pairs that passed in a baseline: {"passing": ["class/trigger", …]} or a --json report."""
    data = json.loads(path.read_text())
    if "passing" in data:
        return set(data["passing"])
    return {pair(item) for item in data.get("classes", []) if item.get("pass")}


def compare(rows: list[dict], passing_before: set[str]) -> tuple[list[dict], list[str]]:
    """(regressions: rows that passed before and fail now, new passes)."""
    regressions = [item for item in rows if pair(item) in passing_before and not item["pass"]]
    new = [pair(item) for item in rows if item["pass"] and pair(item) not in passing_before]
    return regressions, new


def write_baseline(path: Path, rows: list[dict], mode: str) -> list[dict]:
    """Writes the passes, keeping the file's pairs this run did not run; refuses (returns the regressions)
    when this run fails a pair the file says passed: a baseline only ever moves up."""
    before = baseline_passes(path) if path.exists() else set()
    regressions, _ = compare(rows, before)
    if regressions:
        return regressions
    ran = {pair(item) for item in rows}
    passing = sorted((before - ran) | {pair(item) for item in rows if item["pass"]})
    path.write_text(json.dumps({"mode": mode, "passing": passing}, indent=2) + "\n")
    return []


# --------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zoo.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="plant, diagnose and score the classes")
    run.add_argument("--class", dest="classes", action="append", metavar="NAME", help="only this class (repeatable)")
    run.add_argument("--bin", default=os.environ.get("HELPDESK_BIN") or str(REPO / ".build" / "debug" / "helpdesk"),
                     help="the helpdesk binary (default: $HELPDESK_BIN, else .build/debug/helpdesk)")
    run.add_argument("--json", type=Path, metavar="OUT", help="write the scores as JSON")
    run.add_argument("--baseline", type=Path, metavar="FILE", help="exit 1 when a (class, trigger) that passed in FILE fails now")
    run.add_argument("--write-baseline", type=Path, metavar="FILE", help="record this run's passes (never fewer than FILE has)")
    run.add_argument("--jobs", type=int, default=4, help="classes at once (default 4)")
    run.add_argument("--mode", choices=["runbook", "model"], default="runbook")
    run.add_argument("--llm-config", type=Path, default=os.environ.get("HELPDESK_ZOO_LLM_CONFIG"),
                     help="model mode: a YAML file with the `llm:` section (default: $HELPDESK_ZOO_LLM_CONFIG)")
    run.add_argument("--timeout", type=float, default=DIAGNOSE_TIMEOUT, help="seconds one diagnose may take")
    run.add_argument("--keep", action="store_true", help="keep each class's folder (config, bundles, alert) for a look")
    check = commands.add_parser("check", help="validate the plants (objects with kubernetes-validate, files, bindings) without running")
    check.add_argument("--class", dest="classes", action="append", metavar="NAME")
    args = parser.parse_args(argv)

    try:
        classes = load_classes(args.classes)
    except ValueError as error:
        print(f"zoo: {error}", file=sys.stderr)
        return 2
    if args.command == "check":
        problems = [problem for zoo_class in classes for problem in plant_problems(zoo_class) + object_problems(zoo_class)]
        print("\n".join(problems) if problems else f"{len(classes)} classes: plants present, objects valid for Kubernetes {KUBERNETES_VERSION}")
        return 1 if problems else 0

    if not os.access(args.bin, os.X_OK):
        print(f"zoo: no helpdesk binary at {args.bin}: build it or pass --bin / set HELPDESK_BIN", file=sys.stderr)
        return 2
    llm = None
    if args.mode == "model":
        if not args.llm_config or not Path(args.llm_config).exists():
            print("zoo: --mode model needs --llm-config FILE (or $HELPDESK_ZOO_LLM_CONFIG): YAML with the `llm:` section; "
                  "the API key comes from the environment as helpdesk reads it", file=sys.stderr)
            return 2
        loaded = yaml.safe_load(Path(args.llm_config).read_text()) or {}
        llm = loaded.get("llm", loaded)
    options = Options(binary=args.bin, mode=args.mode, llm=llm, timeout=args.timeout, keep=args.keep)

    def progress(item):
        print(f"zoo: {item['class']} / {item['trigger']}: {'PASS' if item['pass'] else 'FAIL'} ({item['seconds']:.1f} s)", file=sys.stderr)

    started = time.monotonic()
    rows, peer_failures = run_zoo(classes, options, args.jobs, progress)
    print(table(rows))
    print(totals(rows, time.monotonic() - started))
    if any(not item["pass"] for item in rows):
        print("\n" + failures(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report(rows, args.mode), indent=2) + "\n")
    if peer_failures:
        print("\nzoo: a peer could not start, so the run scores nothing honestly:\n" + "\n".join(f"  {text}" for text in peer_failures),
              file=sys.stderr)
        return 2
    status = 0 if all(item["pass"] for item in rows) else 1
    if args.baseline:
        regressions, new = compare(rows, baseline_passes(args.baseline))
        if new:
            print(f"\nnew passes (not in {args.baseline}): {', '.join(new)}")
        if regressions:
            print(f"\nREGRESSIONS: passed in {args.baseline}, fail now:")
            for item in regressions:
                print(f"  {pair(item)}: " + "; ".join(item["missing"] + item["wrong"]))
        status = 1 if regressions else 0
    if args.write_baseline:
        refused = write_baseline(args.write_baseline, rows, args.mode)
        if refused:
            print(f"\nzoo: not writing {args.write_baseline}: this run fails {', '.join(pair(item) for item in refused)}, "
                  "which it records as passing", file=sys.stderr)
            return 1
        print(f"baseline written: {args.write_baseline}")
    return status


if __name__ == "__main__":
    sys.exit(main())
