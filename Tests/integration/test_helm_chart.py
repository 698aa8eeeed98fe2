"""The Helm chart chart/helpdesk: Helm's lint on every values file, values.schema.json against each,
an install by Helm's own library against a loopback API server, every rendered manifest against the
Kubernetes schemas, the rendered helpdesk.yaml against the server's own checker, and the `helm test`
scripts against the real binary. Needs Tests/integration/requirements-chart.txt (scripts/test
installs it)."""
import asyncio
import copy
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time

import pytest
import yaml

from conftest import REPO, free_port, helpdesk_binary, http
from helm_stub import HelmStub

CHART = REPO / "chart" / "helpdesk"
# The oldest Kubernetes the chart supports that kubernetes-validate ships strict schemas for.
KUBERNETES_VERSION = "1.30"
VALUES_FILES = {
    "default": None,
    "production": CHART / "values-production.yaml",
    "development": CHART / "values-development.yaml",
    "everything": CHART / "ci" / "values-everything.yaml",
    "srebot-local": CHART / "ci" / "values-srebot-local.yaml",
    "postgres": CHART / "ci" / "values-postgres.yaml",
}
# The values files that run the PostgreSQL store.
POSTGRES_FILES = ["production", "postgres"]
INSTALL_HINT = "pip install --ignore-requires-python -r Tests/integration/requirements-chart.txt (scripts/test does)"


def need(module: str):
    try:
        return __import__(module)
    except ImportError as error:
        pytest.fail(f"{module} is not installed ({error}): {INSTALL_HINT}", pytrace=False)


@pytest.fixture(scope="module")
def helm(tmp_path_factory):
    """helm_sdkpy with its shared library loaded while HOME is a scratch folder: Helm and client-go
    keep caches under HOME, and the Go runtime reads the environment when the library loads."""
    need("helm_sdkpy")
    from helm_sdkpy._ffi import get_library
    home = str(tmp_path_factory.mktemp("helm-home"))
    saved = os.environ.get("HOME")
    os.environ["HOME"] = home
    try:
        get_library()
    except Exception as error:  # the bundled Go library did not load: say so, never skip
        pytest.fail(f"helm-sdkpy's library does not load: {error}", pytrace=False)
    finally:
        if saved is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = saved
    import helm_sdkpy
    return helm_sdkpy


def coalesce(base, overlay):
    """Helm's merge of a values file over the chart's: maps merge, anything else replaces, null deletes."""
    result = copy.deepcopy(base)
    for key, value in (overlay or {}).items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = coalesce(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def load(path):
    return yaml.safe_load(path.read_text()) if path else {}


DEFAULTS = load(CHART / "values.yaml")


def merged(name):
    return coalesce(DEFAULTS, load(VALUES_FILES[name]))


class Rendered:
    """One install's result: the manifests, the hooks (tests and migrations), the notes, and what
    the API server was asked to create and delete."""

    def __init__(self, result, stub):
        self.documents = [doc for doc in yaml.safe_load_all(result["manifest"]) if doc]
        self.hooks = [yaml.safe_load(hook["manifest"]) for hook in result.get("hooks") or []]
        self.notes = result["info"].get("notes", "")
        self.created = stub.created
        self.deleted = stub.deleted
        self.text = result["manifest"] + "".join(hook["manifest"] for hook in result.get("hooks") or []) + self.notes

    def hooks_on(self, event):
        return [hook for hook in self.hooks if event in hook["metadata"]["annotations"]["helm.sh/hook"].split(",")]

    def of(self, kind, documents=None):
        return [doc for doc in (self.documents if documents is None else documents) if doc["kind"] == kind]

    def one(self, kind, name_suffix=""):
        found = [doc for doc in self.of(kind) if doc["metadata"]["name"].endswith(name_suffix)]
        assert len(found) == 1, f"expected one {kind} named …{name_suffix}, got {[d['metadata']['name'] for d in found]}"
        return found[0]

    def helpdesk_yaml(self):
        config = [doc for doc in self.of("ConfigMap") if "helpdesk.yaml" in doc.get("data", {})
                  and doc["metadata"]["labels"]["app.kubernetes.io/component"] == "server"]
        assert len(config) == 1
        return config[0]["data"]["helpdesk.yaml"]


def install(helm, tmp_path, values, name="rel", chart=CHART, stub=None):
    """`helm install` against a loopback API server (its pre-install hooks run there, Jobs reading
    back as complete); raises helm_sdkpy's InstallError with Helm's message."""
    from helm_sdkpy.actions import Install
    stub = (stub or HelmStub()).start()
    try:
        kubeconfig = stub.kubeconfig(tmp_path / f"kubeconfig-{stub.port}")
        configuration = helm.Configuration(namespace="helpdesk", kubeconfig=str(kubeconfig))
        result = asyncio.run(Install(configuration).run(name, str(chart), values=values, wait=False, timeout=30))
        return Rendered(result, stub)
    finally:
        stub.stop()


def lint(helm, tmp_path, values):
    """Helm's lint reads only the chart's values.yaml, so a copy gets the values to lint as its own."""
    from helm_sdkpy.chart import Lint
    copy_path = tmp_path / f"lint-{len(list(tmp_path.iterdir()))}" / "helpdesk"
    shutil.copytree(CHART, copy_path)
    (copy_path / "values.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    return asyncio.run(Lint(helm.Configuration()).run(str(copy_path)))


# MARK: lint and schema

@pytest.mark.parametrize("name", VALUES_FILES)
def test_chart_lints_clean(helm, tmp_path, capfd, name):
    values = merged(name)
    result = lint(helm, tmp_path, values)
    # In lint mode Helm only logs a template's `fail` (to standard error) and carries on.
    failed = [line for line in capfd.readouterr().err.splitlines() if "fail message=" in line]
    assert not failed, f"the chart refuses the {name} values: {failed}"
    problems = [message for message in result.get("Messages") or [] if message["Severity"] >= 2]
    if problems or result.get("Errors"):
        # Lint returns no error text; an install of the same values does.
        try:
            install(helm, tmp_path, values)
            detail = "(the install of the same values succeeded)"
        except Exception as error:
            detail = str(error)
        pytest.fail(f"helm lint with the {name} values: {problems} {result.get('Errors')}\n{detail}", pytrace=False)
    assert result["TotalChartsLinted"] == 1


def schema_validator():
    jsonschema = need("jsonschema")
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("name", VALUES_FILES)
def test_values_hold_to_the_schema(name):
    errors = sorted(schema_validator().iter_errors(merged(name)), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{'.'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors)


def test_schema_refuses_unknown_keys_and_inline_secrets(helm, tmp_path):
    values = coalesce(DEFAULTS, yaml.safe_load("""
replicas: 2                       # a typo for replicaCount
config:
  slack:
    signing_secret: "8f14e45fceea"   # secrets never go inline
  server:
    listen: 0.0.0.0:80               # owned by the chart (server.port)
"""))
    messages = [error.message for error in schema_validator().iter_errors(values)]
    for key in ("replicas", "signing_secret", "listen"):
        assert any(f"'{key}' was unexpected" in message for message in messages), messages
    with pytest.raises(Exception) as refused:
        install(helm, tmp_path, values)
    assert "schema" in str(refused.value).lower() and "replicas" in str(refused.value), str(refused.value)


INLINE_PASSWORDS = {
    ("config", "server", "public_base_url"): "https://bot:hunter2@helpdesk.example.org",
    ("config", "slack", "api_base_url"): "https://x:xoxb-secret@slack.example.org/api/",
    ("config", "alertmanager", "receivers", "helpdesk", "url"): "http://admin:s3cret@alertmanager:9093",
    ("config", "smtp", "url"): "smtp://helpdesk:s3cret@mail.example.org:587",
    ("config", "llm", "base_url"): "http://u:sk-secret@vllm:8000/v1",
    ("inventory", "db_servers", "prod-db", "connection_string"): "host=db dbname=orders user=helpdesk password=s3cret",
}
# The same keys without a password: users, ports and @ in paths stay allowed.
WITHOUT_PASSWORDS = [
    ("config", "smtp", "url", "smtp://helpdesk@mail.example.org:587"),
    ("config", "alertmanager", "receivers", "helpdesk", "url", "http://alertmanager:9093/api/@v2"),
    ("inventory", "db_servers", "prod-db", "connection_string", "postgres://helpdesk@orders-db:5432/orders?sslmode=require"),
    ("inventory", "db_servers", "prod-db", "connection_string", "host=db user=helpdesk passfile=/tmp/pgpass/pgpass"),
]


def nested(path, value):
    for key in reversed(path):
        value = {key: value}
    return value


@pytest.mark.parametrize("path", INLINE_PASSWORDS, ids=lambda path: ".".join(path))
def test_schema_refuses_a_password_inline_in_any_url_or_connection_string(path):
    values = coalesce(merged("everything"), nested(path, INLINE_PASSWORDS[path]))
    errors = [list(e.path) for e in schema_validator().iter_errors(values)]
    assert errors == [list(path)], errors


@pytest.mark.parametrize("entry", WITHOUT_PASSWORDS, ids=lambda entry: entry[-1])
def test_schema_allows_urls_and_connection_strings_without_a_password(entry):
    values = coalesce(merged("everything"), nested(entry[:-1], entry[-1]))
    assert not list(schema_validator().iter_errors(values))


AIHELPDESK_FIXTURES = REPO / "Tests" / "Fixtures" / "aihelpdesk"


def test_an_aihelpdesk_inventory_is_taken_as_the_inventory_value():
    """The chart's `inventory` takes what the server's `infrastructure:` takes: aiHelpDesk's keys included."""
    inventory = json.loads((AIHELPDESK_FIXTURES / "infrastructure-k8s.json").read_text())
    assert "_comment" in inventory and "k8s_pod_selector" in json.dumps(inventory)
    values = coalesce(merged("everything"), {"inventory": inventory})
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in schema_validator().iter_errors(values)]
    assert not errors, errors


def test_an_aihelpdesk_inventory_with_a_password_inline_is_refused_there_only():
    inventory = json.loads((AIHELPDESK_FIXTURES / "infrastructure.json").read_text())
    values = coalesce(merged("everything"), {"inventory": inventory})
    errors = [list(e.path) for e in schema_validator().iter_errors(values)]
    assert errors == [["inventory", "db_servers", "scratch-local", "connection_string"]], errors


@pytest.mark.parametrize("vm, ok", [({"host": "a"}, True), ({"address": "a"}, True), ({"host": "a", "address": "a"}, False), ({}, False)],
                         ids=["host", "address", "both", "neither"])
def test_a_vm_names_its_host_once(vm, ok):
    values = coalesce(merged("everything"), {"inventory": {"vms": {"box": vm}}})
    assert (not list(schema_validator().iter_errors(values))) == ok


def test_an_aihelpdesk_users_file_comes_from_a_secret(helm, tmp_path):
    values = copy.deepcopy(merged("default"))
    values.setdefault("config", {}).pop("users", None)  # the file replaces people listed in config
    values = coalesce(values, {"secrets": {"users": {"existingSecret": "helpdesk-users"}}})
    assert not list(schema_validator().iter_errors(values))
    result = install(helm, tmp_path, values)
    assert yaml.safe_load(result.helpdesk_yaml())["users"] == {"file": "/run/secrets/helpdesk/users-file"}
    pod = result.one("Deployment")["spec"]["template"]["spec"]
    assert "users-file" in mounted_secrets(pod)
    volume = next(v for v in pod["volumes"] if v["name"] == "secrets")
    sources = [source["secret"] for source in volume["projected"]["sources"]]
    assert {"name": "helpdesk-users", "items": [{"key": "users.yaml", "path": "users-file"}]} in sources
    # The server takes that config with an aiHelpDesk users file in the Secret's place.
    text = result.helpdesk_yaml().replace("/run/secrets/helpdesk/users-file", str(AIHELPDESK_FIXTURES / "users.yaml"))
    check_with_binary(content_folders(result, text, tmp_path / "content"), tmp_path)


def test_chart_refuses_inline_passwords_even_without_the_schema(helm, tmp_path):
    """`helm install --skip-schema-validation` skips values.schema.json: the templates refuse too."""
    chart = tmp_path / "chart" / "helpdesk"
    shutil.copytree(CHART, chart)
    (chart / "values.schema.json").unlink()
    values = merged("everything")
    for path, value in INLINE_PASSWORDS.items():
        values = coalesce(values, nested(path, value))
    with pytest.raises(Exception) as refused:
        install(helm, tmp_path, values, chart=chart)
    message = str(refused.value)
    assert "a password inline in" in message, message
    for path in INLINE_PASSWORDS:
        assert ".".join(path) in message, message
    assert "s3cret" not in message and "hunter2" not in message  # names the keys, never the values
    for entry in WITHOUT_PASSWORDS:
        values = coalesce(merged("everything"), nested(entry[:-1], entry[-1]))
        install(helm, tmp_path, values, chart=chart)


# MARK: install and the Kubernetes schemas

@pytest.fixture(scope="module")
def rendered(helm, tmp_path_factory):
    """Each values file installed once, shared by the tests below."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = install(helm, tmp_path_factory.mktemp(f"install-{name}"), merged(name))
        return cache[name]

    return get


SERVICE_MONITOR_KEYS = {
    "spec": {"namespaceSelector", "selector", "endpoints"},
    "endpoint": {"port", "path", "interval", "scrapeTimeout", "relabelings", "metricRelabelings"},
}


def validate_kubernetes(document):
    """Strict schema of the pinned Kubernetes version; ServiceMonitor and PrometheusRule (CRDs, not in
    those schemas) against the fields of monitoring.coreos.com/v1 the chart uses."""
    kubernetes_validate = need("kubernetes_validate")
    if document["apiVersion"] == "monitoring.coreos.com/v1" and document["kind"] == "PrometheusRule":
        # The rules themselves: test_prometheus_adapters.py runs promtool on the file the chart ships.
        assert set(document["spec"]) == {"groups"} and all({"name", "rules"} <= set(group) for group in document["spec"]["groups"])
        return
    if document["apiVersion"] == "monitoring.coreos.com/v1":
        assert document["kind"] == "ServiceMonitor"
        assert set(document["spec"]) <= SERVICE_MONITOR_KEYS["spec"]
        for endpoint in document["spec"]["endpoints"]:
            assert set(endpoint) <= SERVICE_MONITOR_KEYS["endpoint"] and endpoint["port"] in ("http", "admin")
        return
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("name", VALUES_FILES)
def test_install_renders_valid_kubernetes_objects(rendered, name):
    result = rendered(name)
    assert result.documents, "the install rendered nothing"
    # The stub got exactly what a cluster would: every rendered object and install hook, created once.
    assert sorted((d["kind"], d["metadata"]["name"]) for d in result.created) == \
        sorted((d["kind"], d["metadata"]["name"]) for d in result.documents + result.hooks_on("pre-install"))
    failures = []
    for document in result.documents + result.hooks:
        try:
            validate_kubernetes(document)
        except Exception as error:
            failures.append(f"{document['kind']}/{document['metadata']['name']}: {str(error)[:400]}")
    assert not failures, "\n".join(failures)
    # Secrets are referenced, never rendered.
    assert not result.of("Secret")


def test_sqlite_store_runs_one_recreated_replica_on_a_kept_volume(rendered):
    result = rendered("default")
    deployment = result.one("Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    claim = result.one("PersistentVolumeClaim", "-data")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    config = yaml.safe_load(result.helpdesk_yaml())
    assert config["store"]["path"] == "/var/lib/helpdesk/helpdesk.sqlite"
    assert config["store"]["backup_dir"].startswith("/var/lib/helpdesk/")
    assert not result.of("HorizontalPodAutoscaler")


def test_pod_runs_non_root_on_a_read_only_root_with_probes(rendered):
    pod = rendered("default").one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod["containers"][0]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
    assert security["capabilities"] == {"drop": ["ALL"]}
    writable = {mount["mountPath"] for mount in container["volumeMounts"] if not mount.get("readOnly")}
    assert writable == {"/var/lib/helpdesk", "/tmp"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}


def test_no_job_opens_the_servers_store(rendered):
    for name in ("everything", "srebot-local"):
        result = rendered(name)
        jobs = result.of("Job") + result.of("CronJob")
        assert jobs, f"{name}: srebot rendered no Job"
        for job in jobs:
            spec = job["spec"].get("jobTemplate", job)["spec"]["template"]["spec"]
            claims = [v for v in spec["volumes"] if "persistentVolumeClaim" in v]
            assert not claims, f"{job['metadata']['name']} mounts {claims}"
            # Findings (exit 1) fail at once; errors (exit 2) are retried.
            rules = job["spec"].get("jobTemplate", job)["spec"]["podFailurePolicy"]["rules"]
            assert rules[0]["onExitCodes"]["values"] == [1] and rules[0]["action"] == "FailJob"
    server_mode = rendered("everything").one("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert "--server" in server_mode["containers"][0]["args"]
    local_config = yaml.safe_load(srebot_config(rendered("srebot-local")))
    assert local_config["store"]["path"].startswith("/tmp/") and local_config["diagnosis"]["bundles_dir"].startswith("/tmp/")


def srebot_config(result):
    return result.one("ConfigMap", "-srebot")["data"]["helpdesk.yaml"]


def srebot_jobs(result):
    """(check args, pod spec) of every srebot Job and CronJob (govbot's CronJob is not one)."""
    for job in result.of("Job") + result.of("CronJob"):
        if job["metadata"]["labels"]["app.kubernetes.io/component"] != "srebot":
            continue
        spec = job["spec"].get("jobTemplate", job)["spec"]["template"]["spec"]
        yield spec["containers"][0]["args"], spec


def mounted_secrets(pod):
    """The file names in the pod's secrets volume."""
    volume = next((v for v in pod["volumes"] if v["name"] == "secrets"), None)
    return {item["path"] for source in (volume or {}).get("projected", {}).get("sources", [])
            for item in source["secret"]["items"]}


def test_srebot_mounts_only_the_secrets_it_needs(rendered):
    everything = rendered("everything")  # server mode; the server has every kind of secret
    for args, pod in srebot_jobs(everything):
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        posts = "--post" in args
        assert mounted_secrets(pod) == {"api-token"} | ({"slack-bot-token"} if posts else set()), args
        assert ("HELPDESK_SLACK_BOT_TOKEN_FILE" in env) == posts
    local = rendered("srebot-local")  # the server also has approval, audit and API token secrets
    server_files = set(re.findall(r"/run/secrets/helpdesk/([a-z0-9-]+)", local.helpdesk_yaml()))
    assert {"approval-link-key", "audit-key", "api-ops-automation-token", "slack-signing-secret"} <= server_files
    for args, pod in srebot_jobs(local):
        posts = "--post" in args
        assert mounted_secrets(pod) == {"llm-api-key", "pgpass"} | ({"slack-bot-token"} if posts else set()), args
    # Its config names no file but those.
    assert set(re.findall(r"/run/secrets/helpdesk/([a-z0-9-]+)", srebot_config(local))) == {"llm-api-key"}


@pytest.mark.parametrize("name", ["srebot-local", "everything", "postgres"])
def test_srebot_local_config_passes_the_check_with_only_its_secrets(helm, tmp_path, name):
    """The server's config less what srebot gets no secret for must still load: every secret of
    `everything` (rotations, inbound mail, receivers) is there to be left out."""
    result = install(helm, tmp_path, coalesce(merged(name), {"srebot": {"mode": "local"}}))
    text = srebot_config(result)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for file in {"llm-api-key", "slack-bot-token"}:
        (secrets / file).write_text("s" * 32 + "\n")
    text = text.replace("/run/secrets/helpdesk/", f"{secrets}/")
    check_with_binary(content_folders(result, text, tmp_path / "content"), tmp_path,
                      env={"HELPDESK_SLACK_BOT_TOKEN_FILE": str(secrets / "slack-bot-token")})


def rbac_verbs(result):
    verbs = {}
    for role in result.of("Role") + result.of("ClusterRole"):
        for rule in role["rules"]:
            for resource in rule["resources"]:
                verbs.setdefault(resource, set()).update(rule["verbs"])
    return verbs


def test_agent_rbac_is_read_only_unless_writes_are_allowed(rendered):
    development = rbac_verbs(rendered("development"))
    assert development["pods/log"] == {"get"}
    assert development["replicasets"] == {"get", "list", "watch"}
    assert all(verbs <= {"get", "list", "watch"} for verbs in development.values()), development
    everything = rendered("everything")
    # One read role per namespace the in-cluster inventory names, plus rbac.namespaces; not the remote cluster's.
    namespaces = {role["metadata"]["namespace"] for role in everything.of("Role")}
    assert namespaces == {"orders", "billing", "payments"}
    writes = rbac_verbs(everything)
    assert "patch" in writes["deployments"] and "patch" in writes["statefulsets"] and "patch" in writes["deployments/scale"]
    # The srebot account never gets the write role.
    for binding in everything.of("RoleBinding"):
        if binding["roleRef"]["name"].endswith("agent-write"):
            assert [s["name"] for s in binding["subjects"]] == ["helpdesk-server"]


def test_agent_reads_cover_every_read_tool_and_nodes_only_cluster_wide(rendered):
    """replicasets, pvcs, jobs and pod_metrics read in each namespace; nodes are cluster-scoped, so only the
    ClusterRole names them (without rbac.clusterWide the nodes tool fails with kubectl's Forbidden)."""
    development = rendered("development")
    verbs = rbac_verbs(development)
    for resource in ("replicasets", "persistentvolumeclaims", "jobs"):
        assert verbs[resource] == {"get", "list", "watch"}, resource
    metrics = [rule for role in development.of("Role") for rule in role["rules"] if rule["apiGroups"] == ["metrics.k8s.io"]]
    assert metrics and all(rule["resources"] == ["pods"] and set(rule["verbs"]) == {"get", "list"} for rule in metrics)
    assert "nodes" not in verbs
    reader = rendered("srebot-local").one("ClusterRole", "-agent-read")
    assert any(rule["resources"] == ["nodes"] and rule["apiGroups"] == [""] for rule in reader["rules"])
    # rollout undo lists the deployment's ReplicaSets with the write role's rights too.
    writer = rendered("srebot-local").one("ClusterRole", "-agent-write")
    assert any("replicasets" in rule["resources"] and "list" in rule["verbs"] for rule in writer["rules"])


def test_cluster_wide_writes_only_when_acknowledged(rendered):
    result = rendered("srebot-local")  # clusterWide, allowWrites and acknowledgeClusterWideWrites
    writer = result.one("ClusterRole", "-agent-write")
    assert any("patch" in rule["verbs"] for rule in writer["rules"])
    assert [s["name"] for s in result.one("ClusterRoleBinding", "-agent-write")["subjects"]] == ["rel-helpdesk"]


def server_automounts(result):
    return result.one("Deployment")["spec"]["template"]["spec"]["automountServiceAccountToken"]


@pytest.mark.parametrize("overlay, mounted", [
    ({}, False),                                                   # rbac.create binds nothing: no role, no token
    ({"rbac": {"namespaces": ["default"]}}, True),                 # roles to use
    ({"rbac": {"create": False}, "inventory": {"k8s_clusters": {"local": {}}}}, True),  # this cluster, RBAC made elsewhere
    ({"inventory": {"k8s_clusters": {"remote": {"context": "remote", "kubeconfig": "/etc/k/config"}}}}, False),
    ({"rbac": {"namespaces": ["default"]}, "serviceAccount": {"automountServiceAccountToken": False}}, False),
], ids=["nothing", "namespaces", "in-cluster-inventory", "remote-only", "switched-off"])
def test_server_mounts_its_token_only_for_the_in_cluster_agent(helm, tmp_path, overlay, mounted):
    result = install(helm, tmp_path, coalesce(DEFAULTS, overlay))
    assert server_automounts(result) is mounted
    # The accounts never mount by default: the pod spec opts in.
    assert result.one("ServiceAccount")["automountServiceAccountToken"] is False


def test_token_mounts_of_the_shipped_values(rendered):
    assert server_automounts(rendered("default")) is False
    assert server_automounts(rendered("development")) is True
    assert server_automounts(rendered("everything")) is True
    for name, mounted in (("everything", False), ("srebot-local", True)):  # server mode never talks to the API
        for _, pod in srebot_jobs(rendered(name)):
            assert pod["automountServiceAccountToken"] is mounted, name


def test_config_change_rolls_the_pods(helm, tmp_path, rendered):
    before = rendered("default").one("Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    changed = install(helm, tmp_path, coalesce(DEFAULTS, {"config": {"jobs": {"concurrency": 8}}}))
    after = changed.one("Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    assert before != after
    annotations = rendered("everything").one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert {"checksum/policies", "checksum/runbooks", "checksum/templates"} <= set(annotations)


def test_notes_name_the_slack_urls_and_the_alertmanager_receiver(rendered):
    notes = rendered("production").notes
    assert "https://helpdesk.example.org/slack/commands" in notes
    assert "https://helpdesk.example.org/slack/interactions" in notes
    assert "http://rel-helpdesk.helpdesk.svc:8080/webhooks/alertmanager" in notes


def test_helm_test_rbac_goes_on_failure_too_and_the_smoke_image_can_be_pinned(rendered):
    result = rendered("everything")
    policies = {(h["kind"], h["metadata"]["name"]): h["metadata"]["annotations"]["helm.sh/hook-delete-policy"].split(",")
                for h in result.hooks}
    for (kind, name), policy in policies.items():
        assert {"before-hook-creation", "hook-succeeded"} <= set(policy), (kind, name, policy)
        # Failed pods stay for their logs; everything else, the exec-capable RBAC above all, goes.
        assert ("hook-failed" in policy) == (kind != "Pod"), (kind, name, policy)
    assert {kind for kind, _ in policies} == {"ConfigMap", "Pod", "ServiceAccount", "Role", "RoleBinding"}
    role = next(h for h in result.hooks if h["kind"] == "Role")
    assert {"pods/exec"} in [set(rule["resources"]) for rule in role["rules"]]
    assert hook_container(result, "-test-http")["image"] == \
        "docker.io/library/python@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
    # Production runs no selftest, so nothing may exec.
    production = rendered("production")
    assert not [h for h in production.hooks if h["kind"] in ("Role", "RoleBinding", "ServiceAccount")]
    assert hook_container(production, "-test-http")["image"] == "python:3.13-alpine"


def test_notes_warn_when_policies_replace_the_default_without_one(helm, tmp_path, rendered):
    warning = "replaces the built-in policies whole, and it has no default.yaml"
    assert warning not in rendered("default").notes and warning not in rendered("everything").notes
    site = install(helm, tmp_path, coalesce(DEFAULTS, {"policies": {"site.yaml": "version: \"1\"\npolicies: []\n"}}))
    assert warning in site.notes and "off-hours" in site.notes


# MARK: the PostgreSQL store

POSTGRES_STORE = {"store": {"postgres": {"enabled": True, "existingSecret": "helpdesk-store"}}}
STORE_URL_FILE = "/run/secrets/helpdesk/store-url"


def server_pod(result):
    return result.one("Deployment")["spec"]["template"]["spec"]


def hook(result, kind, suffix):
    found = [h for h in result.hooks if h["kind"] == kind and h["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, f"expected one {kind} hook named …{suffix}, got {[h['metadata']['name'] for h in found]}"
    return found[0]


def store_env(container):
    """The container's environment entries that reach the store."""
    return [e for e in container["env"] if e["name"].startswith("HELPDESK_STORE_") or e["name"] == "PGPASSWORD"]


def test_postgres_store_runs_rolling_replicas_without_a_volume(rendered):
    result = rendered("production")
    deployment = result.one("Deployment")
    # The autoscaler owns the count: a replicas field would reset it at every upgrade.
    assert "replicas" not in deployment["spec"]
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert not result.of("PersistentVolumeClaim")
    pod = server_pod(result)
    assert not [v for v in pod["volumes"] if "persistentVolumeClaim" in v or v["name"] in ("data", "backups")]
    container = pod["containers"][0]
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/tmp"} and container["workingDir"] == "/tmp"
    config = yaml.safe_load(result.helpdesk_yaml())
    # Rows and incident bundles are in the database; its backups are the database's.
    assert config["store"] == {"driver": "postgres", "migrate_on_start": False}
    assert "bundles_dir" not in config.get("diagnosis", {})
    assert "3 to 6 replicas (HorizontalPodAutoscaler rel-helpdesk), no volume" in result.notes
    spread = {c["topologyKey"]: c for c in pod["topologySpreadConstraints"]}
    assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "ScheduleAnyway"
    assert spread["kubernetes.io/hostname"]["matchLabelKeys"] == ["pod-template-hash"]
    assert spread["kubernetes.io/hostname"]["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    pdb = result.one("PodDisruptionBudget")["spec"]
    assert pdb["maxUnavailable"] == 1 and pdb["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_postgres_store_without_the_autoscaler_runs_replica_count(helm, tmp_path):
    result = install(helm, tmp_path, coalesce(DEFAULTS, {**POSTGRES_STORE, "replicaCount": 3,
                                                         "secrets": {"web": {"existingSecret": "helpdesk-web"}}}))
    assert result.one("Deployment")["spec"]["replicas"] == 3
    assert not result.of("HorizontalPodAutoscaler")
    assert "3 replica(s), no volume" in result.notes


@pytest.mark.parametrize("name", POSTGRES_FILES)
def test_autoscaler_scales_the_deployment_on_cpu_and_memory_and_slowly_down(rendered, name):
    result = rendered(name)
    values = merged(name)["autoscaling"]
    hpa = result.one("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    deployment = result.one("Deployment")
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"]}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (values["minReplicas"], values["maxReplicas"])
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in spec["metrics"]}
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": values["targetCPUUtilizationPercentage"]},
        "memory": {"type": "Utilization", "averageUtilization": values["targetMemoryUtilizationPercentage"]}}
    # Utilisation is a share of the requests: both must be set.
    requests = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
    assert requests["cpu"] and requests["memory"]
    down = spec["behavior"]["scaleDown"]
    assert down["stabilizationWindowSeconds"] >= 300
    assert down["policies"] and all(p["type"] == "Pods" and p["value"] == 1 for p in down["policies"])
    assert spec["behavior"]["scaleUp"]["policies"]


@pytest.mark.parametrize("name", POSTGRES_FILES)
def test_store_url_is_only_ever_a_secret_reference(rendered, name):
    """The URL may hold the password: the chart mounts the Secret's key as a file and names the
    file; no manifest, hook or note carries a URL, and no environment variable a literal one."""
    result = rendered(name)
    pg = merged(name)["store"]["postgres"]
    assert not re.search(r"postgres(ql)?://", result.text), "a PostgreSQL URL in the rendered manifests"
    pods = [server_pod(result), hook(result, "Job", "-migrate")["spec"]["template"]["spec"]]
    for pod in pods:
        container = pod["containers"][0]
        env = store_env(container)
        assert env[0] == {"name": "HELPDESK_STORE_URL_FILE", "value": STORE_URL_FILE}
        assert all(e["name"] != "HELPDESK_STORE_URL" for e in env)
        for entry in env[1:]:
            assert set(entry) == {"name", "valueFrom"} and "secretKeyRef" in entry["valueFrom"], entry
        mount = next(m for m in container["volumeMounts"] if m["name"] == "secrets")
        assert mount == {"name": "secrets", "mountPath": "/run/secrets/helpdesk", "readOnly": True}
        sources = next(v for v in pod["volumes"] if v["name"] == "secrets")["projected"]["sources"]
        assert {"secret": {"name": pg["existingSecret"], "items": [{"key": pg["urlKey"], "path": "store-url"}]}} in sources
    if pg["password"]["existingSecret"]:
        assert store_env(pods[0]["containers"][0])[1] == {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {
            "name": pg["password"]["existingSecret"], "key": pg["password"]["key"]}}}
    # Nor does the configuration name it: it comes from the environment only.
    assert set(yaml.safe_load(result.helpdesk_yaml())["store"]) == {"driver", "migrate_on_start"}


@pytest.mark.parametrize("url_values", [
    {"store": {"postgres": {"url": "postgres://helpdesk:s3cret@db/helpdesk"}}},
    {"store": {"url": "postgres://helpdesk:s3cret@db/helpdesk"}},
], ids=["store.postgres.url", "store.url"])
def test_schema_refuses_a_store_url_in_values(url_values):
    values = coalesce(merged("production"), url_values)
    messages = [e.message for e in schema_validator().iter_errors(values)]
    assert any("'url' was unexpected" in m for m in messages), messages


@pytest.mark.parametrize("name", POSTGRES_FILES)
def test_migrate_hook_job_runs_before_the_servers_with_their_store_and_security(rendered, name):
    result = rendered(name)
    values = merged(name)
    job = hook(result, "Job", "-migrate")
    config_map = hook(result, "ConfigMap", "-migrate")
    for obj in (job, config_map):
        annotations = obj["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        # Replaced by the next attempt, gone after success; a failed Job stays for its logs.
        assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    # The ConfigMap is there before the Job that mounts it.
    assert int(config_map["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    spec = job["spec"]
    assert spec["backoffLimit"] == values["migrations"]["backoffLimit"]
    assert spec["activeDeadlineSeconds"] == values["migrations"]["activeDeadlineSeconds"]
    pod = spec["template"]["spec"]
    server = server_pod(result)
    container, server_container = pod["containers"][0], server["containers"][0]
    assert container["args"] == ["migrate"] and container["image"] == server_container["image"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert pod.get("serviceAccountName") == (values["migrations"]["serviceAccountName"] or None)
    # The same security as the server's pod, the same store environment and URL file.
    assert pod["securityContext"] == server["securityContext"]
    assert container["securityContext"] == server_container["securityContext"]
    assert store_env(container) == store_env(server_container)
    assert {k: pod.get(k) for k in ("imagePullSecrets", "nodeSelector", "tolerations", "priorityClassName")} == \
        {k: server.get(k) for k in ("imagePullSecrets", "nodeSelector", "tolerations", "priorityClassName")}
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/tmp"}
    # Of the server's secrets, only the store's.
    assert mounted_secrets(pod) == {"store-url"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config"]["configMap"]["name"] == config_map["metadata"]["name"]
    migrate_config = yaml.safe_load(config_map["data"]["helpdesk.yaml"])
    assert migrate_config["store"] == {"driver": "postgres"}
    assert migrate_config["logging"] == {k: values["config"]["logging"][k] for k in ("format", "level")}
    # Migrated before they start: the servers do not migrate themselves.
    assert yaml.safe_load(result.helpdesk_yaml())["store"]["migrate_on_start"] is False
    # The install ran it (the stub reports Jobs complete) and, on success, deleted both.
    names = {(h["kind"], h["metadata"]["name"]) for h in (job, config_map)}
    assert names <= {(c["kind"], c["metadata"]["name"]) for c in result.created}
    assert names == set(result.deleted)
    assert f"logs job/{job['metadata']['name']}" in result.notes


def test_failed_migration_stops_the_install_before_any_server(helm, tmp_path):
    stub = HelmStub(jobs_fail=True)
    with pytest.raises(Exception) as refused:
        install(helm, tmp_path, merged("production"), stub=stub)
    assert "pre-install" in str(refused.value), str(refused.value)
    assert [(c["kind"], c["metadata"]["name"]) for c in stub.created] == [
        ("ConfigMap", "rel-helpdesk-migrate"), ("Job", "rel-helpdesk-migrate")]
    # Kept for `kubectl logs`.
    assert ("Job", "rel-helpdesk-migrate") not in stub.deleted


@pytest.mark.parametrize("migrate_on_start", [True, False])
def test_without_the_hook_job_the_servers_migrate_as_configured(helm, tmp_path, migrate_on_start):
    values = coalesce(merged("production"), {"migrations": {"hookJob": False}, "store": {"migrateOnStart": migrate_on_start}})
    result = install(helm, tmp_path, values)
    assert not result.hooks_on("pre-install") and not result.hooks_on("pre-upgrade")
    assert yaml.safe_load(result.helpdesk_yaml())["store"] == {"driver": "postgres", "migrate_on_start": migrate_on_start}
    assert ("advisory lock" in result.notes) is migrate_on_start


@pytest.mark.parametrize("min_available", [2, "66%"])
def test_postgres_pdb_may_keep_all_but_one_pod_up(helm, tmp_path, min_available):
    result = install(helm, tmp_path, coalesce(merged("production"), {"podDisruptionBudget": {"minAvailable": min_available}}))
    assert result.one("PodDisruptionBudget")["spec"]["minAvailable"] == min_available


def test_postgres_pdb_may_keep_pods_up_and_srebot_keeps_its_own_store(rendered):
    result = rendered("postgres")
    pdb = result.one("PodDisruptionBudget")["spec"]
    assert pdb["minAvailable"] == 1 and "maxUnavailable" not in pdb
    assert pdb["unhealthyPodEvictionPolicy"] == "IfHealthyBudget"
    assert result.one("Deployment")["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 0}
    # srebot's local mode never reaches the server's store, PostgreSQL included.
    srebot = yaml.safe_load(srebot_config(result))
    assert srebot["store"]["path"].startswith("/tmp/") and "driver" not in srebot["store"]
    for _, pod in srebot_jobs(result):
        assert "store-url" not in mounted_secrets(pod)
        assert not store_env(pod["containers"][0])


def test_govbot_cronjob_reports_on_the_shared_store_like_the_server(rendered):
    result = rendered("postgres")
    values = merged("postgres")["govbot"]["cronJob"]
    cron = result.one("CronJob", "-govbot")
    assert cron["metadata"]["labels"]["app.kubernetes.io/component"] == "govbot"
    assert cron["spec"]["schedule"] == values["schedule"] and cron["spec"]["timeZone"] == values["timeZone"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["backoffLimit"] == values["backoffLimit"] and job["activeDeadlineSeconds"] == values["activeDeadlineSeconds"]
    # Findings (exit 1) fail at once; errors (exit 2) are retried.
    assert job["podFailurePolicy"]["rules"][0] == {"action": "FailJob", "onExitCodes": {
        "containerName": "govbot", "operator": "In", "values": [1]}}
    pod, server = job["template"]["spec"], server_pod(result)
    container, server_container = pod["containers"][0], server["containers"][0]
    assert container["args"] == ["govbot", "--since", values["since"], "--post"]
    assert container["image"] == server_container["image"]
    # The server's configuration, store, secrets and security; no Kubernetes token, no volume claim.
    assert pod["securityContext"] == server["securityContext"]
    assert container["securityContext"] == server_container["securityContext"]
    assert container["env"] == server_container["env"]
    assert mounted_secrets(pod) == mounted_secrets(server) and "store-url" in mounted_secrets(pod)
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config"] == {v["name"]: v for v in server["volumes"]}["config"]
    assert not [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
    assert {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")} == {"/tmp"}
    # With network policies on, it reaches DNS and the store, nothing else, and nothing reaches it.
    policy = result.one("NetworkPolicy", "-govbot")["spec"]
    assert policy["ingress"] == [] and policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "govbot"


# MARK: what the chart refuses

@pytest.mark.parametrize("overlay, message", [
    ({"replicaCount": 2}, "replicaCount is 2, but the SQLite store runs one replica only (its file is on a ReadWriteOnce "
                          "volume and WAL needs one host): set replicaCount: 1, or use the PostgreSQL store"),
    ({"autoscaling": {"enabled": True}}, "autoscaling.enabled needs the PostgreSQL store (store.postgres.enabled)"),
    ({"podDisruptionBudget": {"minAvailable": 1}}, "would block every node drain"),
    ({"store": {"postgres": {"existingSecret": "helpdesk-store"}}}, "store.postgres.existingSecret is set but store.postgres.enabled is false"),
    ({"srebot": {"enabled": True, "checks": [{"target": "prod-db"}]}}, "srebot.mode server calls the server's API"),
    ({"rbac": {"clusterWide": True, "allowWrites": True}}, "rbac.clusterWide with rbac.allowWrites lets the server patch"),
    ({"govbot": {"cronJob": {"enabled": True}}}, "govbot.cronJob.enabled needs the PostgreSQL store (store.postgres.enabled=true)"),
])
def test_chart_refuses_what_sqlite_or_srebot_cannot_do(helm, tmp_path, overlay, message):
    with pytest.raises(Exception) as refused:
        install(helm, tmp_path, coalesce(DEFAULTS, overlay))
    assert message in str(refused.value), str(refused.value)


@pytest.mark.parametrize("overlay, message", [
    ({"store": {"postgres": {"existingSecret": ""}}}, "store.postgres.enabled needs store.postgres.existingSecret"),
    ({"store": {"postgres": {"password": {"existingSecret": "db-credentials"}}},
      "secrets": {"postgresTargets": {"existingSecret": "helpdesk-postgres", "passwordKey": "password"}}},
     "would both be PGPASSWORD"),
    ({"autoscaling": {"enabled": False}, "replicaCount": 2, "podDisruptionBudget": {"minAvailable": 2}},
     "podDisruptionBudget.minAvailable 2 with 2 replica(s) would block every node drain"),
    ({"podDisruptionBudget": {"minAvailable": 3}}, "podDisruptionBudget.minAvailable 3 with 3 replica(s) would block every node drain"),
    ({"podDisruptionBudget": {"minAvailable": "100%"}}, "podDisruptionBudget.minAvailable 100% with 3 replica(s)"),
    ({"podDisruptionBudget": {"minAvailable": "67%"}}, "podDisruptionBudget.minAvailable 67% with 3 replica(s)"),
    ({"autoscaling": {"minReplicas": 7, "maxReplicas": 6}}, "autoscaling.minReplicas (7) is above autoscaling.maxReplicas (6)"),
    ({"resources": {"requests": {"cpu": ""}}}, "autoscaling's CPU target is a percentage of resources.requests.cpu"),
    ({"resources": {"requests": {"memory": ""}}}, "targetMemoryUtilizationPercentage is a percentage of resources.requests.memory"),
], ids=["no-url-secret", "two-pgpasswords", "min-available-replicas", "min-available-autoscaled", "min-available-all",
        "min-available-rounded-up",
        "min-above-max", "no-cpu-request", "no-memory-request"])
def test_chart_refuses_what_the_postgres_store_cannot_do(helm, tmp_path, overlay, message):
    with pytest.raises(Exception) as refused:
        install(helm, tmp_path, coalesce(merged("production"), overlay))
    assert message in str(refused.value), str(refused.value)


NO_WEB_KEY = {"secrets": {"web": {"existingSecret": ""}}}


@pytest.mark.parametrize("overlay, message", [
    (NO_WEB_KEY, "autoscaling.enabled with the web channel on needs secrets.web.existingSecret"),
    ({**NO_WEB_KEY, "autoscaling": {"enabled": False}, "replicaCount": 2},
     "replicaCount 2 with the web channel on needs secrets.web.existingSecret"),
], ids=["autoscaled", "replicas"])
def test_chart_refuses_several_replicas_signing_web_sessions_with_keys_of_their_own(helm, tmp_path, overlay, message):
    """Without one session key each pod makes its own: a sign-in on one pod would be refused by the next."""
    with pytest.raises(Exception) as refused:
        install(helm, tmp_path, coalesce(merged("production"), overlay))
    assert message in str(refused.value), str(refused.value)


@pytest.mark.parametrize("overlay", [
    {**NO_WEB_KEY, "config": {"web": {"enabled": False}}},
    {**NO_WEB_KEY, "extraEnv": [{"name": "HELPDESK_WEB_SESSION_KEY",
                                 "valueFrom": {"secretKeyRef": {"name": "helpdesk-web", "key": "session-key"}}}]},
    {**NO_WEB_KEY, "autoscaling": {"enabled": False}, "replicaCount": 1},
], ids=["web-off", "key-from-extra-env", "one-replica"])
def test_several_replicas_without_a_web_session_key_secret_only_when_nothing_needs_it(helm, tmp_path, overlay):
    result = install(helm, tmp_path, coalesce(merged("production"), overlay))
    assert "web-session-key" not in mounted_secrets(server_pod(result))


# MARK: against the real binary

def secret_files(config_text, folder):
    """The rendered config with its secret files replaced by stand-ins under `folder`."""
    folder.mkdir(exist_ok=True)
    for path in set(re.findall(r"/run/secrets/helpdesk/[a-z0-9-]+", config_text)):
        (folder / path.rsplit("/", 1)[1]).write_text("s" * 32 + "\n")
    return config_text.replace("/run/secrets/helpdesk/", f"{folder}/")


def check_with_binary(config_text, tmp_path, env=None):
    """`helpdesk config check` on the text: it must pass with nothing to say but its one `ok:` line,
    so any key the chart writes and the binary does not know fails here. Returns the parsed config."""
    path = tmp_path / "helpdesk.yaml"
    path.write_text(config_text)
    result = subprocess.run([helpdesk_binary(), "config", "check", str(path)], capture_output=True, text=True, timeout=30,
                            env={**os.environ, **(env or {})})
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or result.stderr.strip() or len(lines) != 1 or not lines[0].startswith("ok: "):
        pytest.fail(f"helpdesk config check refuses the rendered helpdesk.yaml (exit {result.returncode}):\n"
                    f"{result.stderr}{result.stdout}\n---\n{config_text}", pytrace=False)
    return yaml.safe_load(config_text)


def content_folders(result, config_text, folder):
    """The config with the server's ConfigMap folders (policies, runbooks, templates) written under
    `folder` from the rendered ConfigMaps, as the pod would mount them: the binary checks they exist."""
    pod = result.one("Deployment")["spec"]["template"]["spec"]
    maps = {doc["metadata"]["name"]: doc.get("data", {}) for doc in result.of("ConfigMap")}
    volumes = {v["name"]: v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
    for mount in pod["containers"][0]["volumeMounts"]:
        path = mount["mountPath"]
        if mount["name"] in volumes and path.startswith("/etc/helpdesk/") and path != "/etc/helpdesk/config":
            target = folder / path.removeprefix("/etc/helpdesk/")
            target.mkdir(parents=True)
            for file, text in maps[volumes[mount["name"]]].items():
                (target / file).write_text(text)
            config_text = config_text.replace(path, str(target))
    return config_text


def store_env_for_binary(container, folder):
    """The container's store environment with its files replaced by stand-ins under `folder`: a
    URL without a password, which is all `config check` needs."""
    env = {}
    for entry in store_env(container):
        if entry["name"] == "HELPDESK_STORE_URL_FILE":
            folder.mkdir(exist_ok=True)
            (folder / "store-url").write_text("postgres://helpdesk@127.0.0.1:5432/helpdesk?sslmode=disable\n")
            env["HELPDESK_STORE_URL_FILE"] = str(folder / "store-url")
        else:
            env[entry["name"]] = "s" * 32
    return env


@pytest.mark.parametrize("name", VALUES_FILES)
def test_rendered_config_passes_the_servers_own_check(rendered, tmp_path, name):
    result = rendered(name)
    text = content_folders(result, secret_files(result.helpdesk_yaml(), tmp_path / "secrets"), tmp_path / "content")
    check_with_binary(text, tmp_path, env=store_env_for_binary(server_pod(result)["containers"][0], tmp_path / "secrets"))


@pytest.mark.parametrize("name", POSTGRES_FILES)
def test_migrate_hook_config_passes_the_servers_own_check(rendered, tmp_path, name):
    result = rendered(name)
    job = hook(result, "Job", "-migrate")["spec"]["template"]["spec"]["containers"][0]
    check_with_binary(hook(result, "ConfigMap", "-migrate")["data"]["helpdesk.yaml"], tmp_path,
                      env=store_env_for_binary(job, tmp_path / "secrets"))


@pytest.fixture(scope="module")
def chart_server(helm, tmp_path_factory):
    """The server run with the chart's own helpdesk.yaml (Slack on), listeners moved to loopback."""
    tmp_path = tmp_path_factory.mktemp("chart-server")
    values = coalesce(DEFAULTS, {"secrets": {"slack": {"existingSecret": "helpdesk-slack"}}})
    result = install(helm, tmp_path, values)
    config = check_with_binary(secret_files(result.helpdesk_yaml(), tmp_path / "secrets"), tmp_path)
    port, admin = free_port(), free_port()
    config["server"].update(listen=f"127.0.0.1:{port}", admin_listen=f"127.0.0.1:{admin}")
    for key, value in list(config["store"].items()):
        if isinstance(value, str) and value.startswith("/var/lib/helpdesk"):
            config["store"][key] = value.replace("/var/lib/helpdesk", str(tmp_path / "data"))
    config["diagnosis"]["bundles_dir"] = str(tmp_path / "data" / "incidents")
    config_path = tmp_path / "chart-helpdesk.yaml"
    config_path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "HELPDESK_CONFIG": str(config_path)}
    log = open(tmp_path / "serve.log", "w")
    # The repository as working folder: a binary without built-in content finds it there.
    server = subprocess.Popen([helpdesk_binary(), "serve"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while True:
        if server.poll() is not None:
            pytest.fail(f"helpdesk serve exited with {server.returncode}:\n{(tmp_path / 'serve.log').read_text()}", pytrace=False)
        try:
            if http("GET", f"http://127.0.0.1:{admin}/readyz", timeout=1)[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"helpdesk serve not ready in 20 s:\n{(tmp_path / 'serve.log').read_text()}", pytrace=False)
        time.sleep(0.05)
    yield {"result": result, "env": env, "port": port, "admin": admin, "secret": "s" * 32}
    # Its store is thrown away: no need for the graceful shutdown's final checkpoint (seconds).
    server.kill()
    server.wait(timeout=10)


def hook_container(result, suffix):
    pod = next(hook for hook in result.hooks if hook["kind"] == "Pod" and hook["metadata"]["name"].endswith(suffix))
    return pod["spec"]["containers"][0]


def test_helm_test_smoke_script_passes_against_the_server(chart_server):
    container = hook_container(chart_server["result"], "-test-http")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert "valueFrom" in next(e for e in container["env"] if e["name"] == "SLACK_SIGNING_SECRET")
    script = next(hook for hook in chart_server["result"].hooks if hook["kind"] == "ConfigMap")["data"]["smoke.py"]
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env={
        **os.environ, "SLACK_COMMAND": env["SLACK_COMMAND"], "SLACK_SIGNING_SECRET": chart_server["secret"],
        "HELPDESK_URL": f"http://127.0.0.1:{chart_server['port']}",
        "HELPDESK_ADMIN_URL": f"http://127.0.0.1:{chart_server['admin']}"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "a signed `help` command is answered" in run.stdout and "all checks passed" in run.stdout


def test_helm_test_job_selftest_script_passes_against_the_server(chart_server, tmp_path):
    """The selftest hook's shell script, with a kubectl stand-in whose `exec … --` runs the command here."""
    container = hook_container(chart_server["result"], "-test-jobs")
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "kubectl").write_text('#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n')
    (shims / "kubectl").chmod(stat.S_IRWXU)
    (shims / "helpdesk").symlink_to(helpdesk_binary())
    env = {e["name"]: e["value"] for e in container["env"]}
    run = subprocess.run(container["command"], capture_output=True, text=True, timeout=90, cwd=REPO, env={
        **chart_server["env"], **env, "HOME": str(tmp_path), "PATH": f"{shims}:{os.environ['PATH']}"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"^ok +job \d+ selftest: done", run.stdout, re.M), run.stdout


def test_the_prometheus_rule_ships_the_adapters_rules_when_asked(rendered):
    rule = rendered("everything").one("PrometheusRule")
    assert rule["spec"] == yaml.safe_load((REPO / "adapters" / "prometheus" / "helpdesk-rules.yml").read_text())
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert not rendered("default").of("PrometheusRule")
