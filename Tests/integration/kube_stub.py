"""A loopback stand-in for a Kubernetes API server: enough discovery and objects for kubectl's
get, logs, rollout restart/undo and scale, serving what the test puts in `objects` (or what
`KubeStub.load` reads from a zoo class's folder)."""
import json
import re
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse


def _resource(plural, kind, namespaced=True, verbs=("get", "list", "watch"), short_names=(), **extra):
    entry = {"name": plural, "singularName": kind.lower() if "/" not in plural else "", "namespaced": namespaced, "kind": kind,
             "verbs": list(verbs)}
    if short_names:
        entry["shortNames"] = list(short_names)
    return {**entry, **extra}


CORE_RESOURCES = [
    _resource("pods", "Pod", short_names=["po"]),
    _resource("pods/log", "Pod", verbs=["get"]),
    _resource("events", "Event", verbs=["get", "list"], short_names=["ev"]),
    _resource("namespaces", "Namespace", namespaced=False, verbs=["get", "list"], short_names=["ns"]),
    _resource("nodes", "Node", namespaced=False, short_names=["no"]),
    _resource("persistentvolumeclaims", "PersistentVolumeClaim", short_names=["pvc"]),
    _resource("configmaps", "ConfigMap", short_names=["cm"]),
]
APPS_RESOURCES = [
    _resource("deployments", "Deployment", verbs=["get", "list", "patch", "update"], short_names=["deploy"]),
    _resource("deployments/scale", "Scale", verbs=["get", "patch", "update"], group="autoscaling", version="v1"),
    _resource("replicasets", "ReplicaSet", short_names=["rs"]),
    _resource("statefulsets", "StatefulSet", verbs=["get", "list", "patch"], short_names=["sts"]),
]
BATCH_RESOURCES = [_resource("jobs", "Job")]
METRICS_RESOURCES = [_resource("pods", "PodMetrics", verbs=["get", "list"])]

# group/version -> resources served; "v1" is the core group under /api. The metrics group is only
# discovered when a class planted PodMetrics (most clusters without metrics-server do not serve it).
GROUP_VERSIONS = {"v1": CORE_RESOURCES, "apps/v1": APPS_RESOURCES, "batch/v1": BATCH_RESOURCES,
                  "metrics.k8s.io/v1beta1": METRICS_RESOURCES}
# (group/version, plural) -> the key objects are kept under (the metrics API's `pods` are not Pods).
STORE_KEYS = {(gv, resource["name"]): resource["name"] for gv, resources in GROUP_VERSIONS.items() for resource in resources}
STORE_KEYS[("metrics.k8s.io/v1beta1", "pods")] = "podmetrics"
# kind in a plant file -> store key.
KIND_KEYS = {"Namespace": "namespaces", "Pod": "pods", "Event": "events", "Node": "nodes", "PersistentVolumeClaim": "persistentvolumeclaims",
             "ConfigMap": "configmaps", "Deployment": "deployments", "ReplicaSet": "replicasets", "StatefulSet": "statefulsets",
             "Job": "jobs", "PodMetrics": "podmetrics"}
LIST_KINDS = {"pods": "PodList", "events": "EventList", "namespaces": "NamespaceList", "nodes": "NodeList",
              "persistentvolumeclaims": "PersistentVolumeClaimList", "configmaps": "ConfigMapList", "deployments": "DeploymentList",
              "replicasets": "ReplicaSetList", "statefulsets": "StatefulSetList", "jobs": "JobList", "podmetrics": "PodMetricsList"}
CLUSTER_SCOPED = {"namespaces", "nodes"}

# RFC 3339 times as the API writes them, and PostgreSQL's log prefix time (`2026-12-05 06:51:12.345 UTC`).
TIMESTAMP = re.compile(r"\b(\d{4}-\d\d-\d\d)([T ])(\d\d:\d\d:\d\d)(\.\d+)?(Z| UTC)")


def shift_timestamps(value, delta: timedelta):
    """Moves every timestamp in `value` (objects, lists, text) by `delta`, keeping each one's format,
    so a plant recorded at one moment looks as fresh at every run (ages, "last seen" stay true)."""
    if isinstance(value, dict):
        return {key: shift_timestamps(item, delta) for key, item in value.items()}
    if isinstance(value, list):
        return [shift_timestamps(item, delta) for item in value]
    if not isinstance(value, str):
        return value

    def moved(match):
        date, separator, clock, fraction, zone = match.groups()
        when = datetime.strptime(f"{date} {clock}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        if fraction:
            when += timedelta(microseconds=round(float(fraction) * 1_000_000))
        when += delta
        text = when.strftime(f"%Y-%m-%d{separator}%H:%M:%S")
        if fraction:
            digits = len(fraction) - 1
            text += "." + f"{when.microsecond:06d}"[:digits].ljust(digits, "0")
        return text + zone

    return TIMESTAMP.sub(moved, value)


def _path_value(item, dotted):
    for key in dotted.split("."):
        if not isinstance(item, dict):
            return None
        item = item.get(key)
    return item


def matches_field_selector(item, selector: str) -> bool:
    """`a.b=x,c!=y` as the API server's field selectors (`involvedObject.name=…`, `metadata.name=…`)."""
    for term in filter(None, selector.split(",")):
        negated = "!=" in term
        path, value = re.split(r"!=|==|=", term, maxsplit=1)
        actual = _path_value(item, path)
        actual = "" if actual is None else str(actual)
        if (actual == value) == negated:
            return False
    return True


def matches_label_selector(labels: dict, selector: str) -> bool:
    """Set-based and equality label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`."""
    labels = labels or {}
    for term in re.findall(r"[^,(]+(?:\([^)]*\))?", selector):
        term = term.strip()
        if not term:
            continue
        if match := re.fullmatch(r"(\S+)\s+(in|notin)\s+\((.*)\)", term):
            key, operator, values = match.group(1), match.group(2), {v.strip() for v in match.group(3).split(",")}
            if (labels.get(key) in values) != (operator == "in"):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = re.split(r"==|=", term, maxsplit=1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term not in labels:
            return False
    return True


class LoopbackAPIServer:
    """A stub API server's plumbing: a handler on a free loopback port, in a thread, and a kubeconfig naming it."""

    def _listen(self, handler, server_class=ThreadingHTTPServer):
        self.server = server_class(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def kubeconfig(self, path, user="helpdesk", namespace=None):
        namespace_line = f"\n    namespace: {namespace}" if namespace else ""
        path.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: stub
  cluster:
    server: http://127.0.0.1:{self.port}
users:
- name: {user}
  user:
    token: stub-token
contexts:
- name: stub
  context:
    cluster: stub
    user: {user}{namespace_line}
current-context: stub
""")
        return path


def _status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": reason, "code": code, "message": message}


class KubeStub(LoopbackAPIServer):
    def __init__(self):
        # store key (plural) -> namespace ("" for cluster-scoped kinds) -> [objects]
        self.objects = {"pods": {}, "events": {}, "deployments": {}}
        # (namespace, pod) -> the log text, or {"current": text, "previous": text}
        self.logs = {}
        self.forbidden_namespaces = set()
        self.requests = []
        self.metrics = False  # serve metrics.k8s.io (PodMetrics)
        self.plant = {}       # what load() read from plant.yaml
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body, content_type="application/json"):
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                stub.requests.append(("GET", self.path))
                url = urlparse(self.path)
                query = parse_qs(url.query)
                if url.path == "/version":
                    return self._send(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0"})
                if url.path == "/api":
                    return self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
                if url.path == "/apis":
                    groups = []
                    for group_version in stub.group_versions():
                        if group_version == "v1":
                            continue
                        name, version = group_version.split("/")
                        entry = {"groupVersion": group_version, "version": version}
                        groups.append({"name": name, "versions": [entry], "preferredVersion": entry})
                    return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
                route = stub.route(url.path)
                if route is None:
                    return self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
                group_version, rest = route
                if not rest:
                    return self._send(200, {"kind": "APIResourceList", "groupVersion": group_version,
                                            "resources": GROUP_VERSIONS[group_version]})
                namespace = None  # /namespaces and /namespaces/NAME are the Namespaces themselves
                if rest[0] == "namespaces" and len(rest) >= 3:
                    namespace, rest = rest[1], rest[2:]
                key = STORE_KEYS.get((group_version, rest[0]))
                if key is None:
                    return self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
                if namespace in stub.forbidden_namespaces:
                    return self._send(403, _status(403, "Forbidden", f'{rest[0]} is forbidden: User "helpdesk" cannot list resource '
                                                                      f'"{rest[0]}" in API group "{group_version.rpartition("/")[0]}" '
                                                                      f'in the namespace "{namespace}"'))
                if key in CLUSTER_SCOPED:
                    items = stub.objects.get(key, {}).get("", [])
                elif namespace is None:  # every namespace (kubectl get -A)
                    items = [item for per_namespace in stub.objects.get(key, {}).values() for item in per_namespace]
                else:
                    items = stub.objects.get(key, {}).get(namespace, [])
                if len(rest) == 3 and rest[2] == "log" and key == "pods":
                    return self._log(namespace, rest[1], items, query)
                if len(rest) == 2:
                    match = [item for item in items if item["metadata"]["name"] == rest[1]]
                    return self._send(200, match[0]) if match else self._not_found(rest[0], rest[1], group_version)
                if len(rest) != 1:
                    return self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
                if selector := query.get("fieldSelector", [""])[0]:
                    items = [item for item in items if matches_field_selector(item, selector)]
                if selector := query.get("labelSelector", [""])[0]:
                    items = [item for item in items if matches_label_selector(item["metadata"].get("labels"), selector)]
                return self._send(200, {"kind": LIST_KINDS[key], "apiVersion": group_version, "metadata": {"resourceVersion": "1"},
                                        "items": items})

            def _log(self, namespace, name, pods, query):
                pod = next((item for item in pods if item["metadata"]["name"] == name), None)
                logs = stub.logs.get((namespace, name))
                if pod is None and logs is None:
                    return self._not_found("pods", name)
                previous = query.get("previous", ["false"])[0] == "true"
                # A plain text (the older tests' form) is the log whichever is asked for.
                text = logs.get("previous" if previous else "current") if isinstance(logs, dict) else logs
                container = query.get("container", [None])[0] or _first_container(pod)
                if text is None:
                    # What the kubelet answers when there is no such log (BadRequest, as kubectl prints it).
                    if previous:
                        message = f'previous terminated container "{container}" in pod "{name}" not found'
                    elif pod is not None and not (pod.get("spec") or {}).get("nodeName"):
                        message = f"pod {name} does not have a host assigned"
                    elif terminated := _state(pod, container).get("terminated"):
                        # An evicted pod's dead container is garbage-collected with its log.
                        message = f"unable to retrieve container logs for {terminated.get('containerID', 'the container')}"
                    else:
                        reason = (_state(pod, container).get("waiting") or {}).get("reason") or "ContainerCreating"
                        if reason in ("ImagePullBackOff", "ErrImagePull"):
                            reason = "trying and failing to pull image"
                        message = f'container "{container}" in pod "{name}" is waiting to start: {reason}'
                    return self._send(400, _status(400, "BadRequest", message))
                if tail := query.get("tailLines", [None])[0]:
                    lines = text.splitlines(keepends=True)
                    text = "".join(lines[-int(tail):]) if int(tail) > 0 else ""
                return self._send(200, text, "text/plain")

            def do_PATCH(self):
                length = int(self.headers.get("Content-Length", 0))
                stub.requests.append(("PATCH", self.path, self.rfile.read(length).decode()))
                parts = [p for p in urlparse(self.path).path.split("/") if p]
                subresource = parts[-1] if parts[-1] == "scale" else None
                namespace, name = parts[parts.index("namespaces") + 1], parts[-2] if subresource else parts[-1]
                # The patch is recorded, not applied: the tests read what kubectl asked for.
                for item in stub.objects.get("deployments", {}).get(namespace, []):
                    if item["metadata"]["name"] == name:
                        if subresource:
                            replicas = item["spec"].get("replicas", 1)
                            return self._send(200, {"kind": "Scale", "apiVersion": "autoscaling/v1",
                                                    "metadata": {"name": name, "namespace": namespace},
                                                    "spec": {"replicas": replicas}, "status": {"replicas": replicas}})
                        return self._send(200, item)
                return self._not_found("deployments", name, "apps/v1")

            def _not_found(self, kind, name, group_version="v1"):
                group = group_version.rpartition("/")[0]
                resource = f"{kind}.{group}" if group else kind
                return self._send(404, _status(404, "NotFound", f'{resource} "{name}" not found'))

        self._listen(Handler)

    def group_versions(self):
        return [gv for gv in GROUP_VERSIONS if gv != "metrics.k8s.io/v1beta1" or self.metrics]

    def route(self, path):
        """(group/version, the path's remaining parts) for /api/v1/… and /apis/GROUP/VERSION/…, None otherwise."""
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group_version, rest = "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            return None
        return (group_version, rest) if group_version in self.group_versions() else None

    def add(self, document: dict):
        """Serves one API object (a Pod, Event, Node, PodMetrics, …) where kubectl will look for it."""
        key = KIND_KEYS[document["kind"]]
        namespace = "" if key in CLUSTER_SCOPED else document["metadata"]["namespace"]
        self.objects.setdefault(key, {}).setdefault(namespace, []).append(document)
        if key == "podmetrics":
            self.metrics = True

    @classmethod
    def load(cls, folder, now: datetime | None = None) -> "KubeStub":
        """A stub (not started) serving a zoo class's plant: objects.yaml, metrics.yaml (PodMetrics, which
        turns the metrics API on) and plant.yaml's `logs`; plant.yaml itself is in `.plant`. Times move by
        (now - plant.yaml's `recorded_at`) so the plant looks as recent as when it was recorded."""
        import yaml
        folder = Path(folder)
        stub = cls()
        plant_path = folder / "plant.yaml"
        stub.plant = yaml.safe_load(plant_path.read_text()) if plant_path.exists() else {}
        stub.plant = stub.plant or {}
        delta = timedelta(0)
        if recorded := stub.plant.get("recorded_at"):
            recorded = recorded if isinstance(recorded, datetime) else datetime.fromisoformat(str(recorded).replace("Z", "+00:00"))
            if recorded.tzinfo is None:
                recorded = recorded.replace(tzinfo=timezone.utc)
            delta = (now or datetime.now(timezone.utc)).replace(microsecond=0) - recorded
        for name in ("objects.yaml", "metrics.yaml"):
            path = folder / name
            if path.exists():
                for document in yaml.safe_load_all(path.read_text()):
                    if document:
                        stub.add(shift_timestamps(document, delta))
        namespaces = {item["metadata"]["name"]: item["metadata"]["namespace"] for items in stub.objects.get("pods", {}).values() for item in items}
        for pod, texts in (stub.plant.get("logs") or {}).items():
            if pod not in namespaces:
                raise ValueError(f"{plant_path}: logs of pod {pod}, which objects.yaml does not have")
            stub.logs[(namespaces[pod], pod)] = {which: shift_timestamps(text, delta) for which, text in texts.items()}
        return stub

    def patches(self):
        """(path, body as JSON) of every PATCH kubectl sent."""
        return [(request[1], json.loads(request[2]) if request[2] else None) for request in self.requests if request[0] == "PATCH"]


def _first_container(pod):
    containers = ((pod or {}).get("spec") or {}).get("containers") or [{}]
    return containers[0].get("name", "app")


def _state(pod, container) -> dict:
    for status in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            return status.get("state") or {}
    return {}


def pod(name, ready=True, restarts=0, waiting=None, last_exit=None, phase="Running"):
    status = {"name": "app", "ready": ready, "restartCount": restarts, "state": {"running": {}}}
    if waiting:
        status["state"] = {"waiting": {"reason": waiting}}
    if last_exit:
        status["lastState"] = {"terminated": {"reason": last_exit, "exitCode": 1}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "orders", "creationTimestamp": "2026-11-24T10:00:00Z"},
            "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "orders:1.2"}]},
            "status": {"phase": phase, "containerStatuses": [status]}}


def deployment(name, desired, available):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "orders"},
            "spec": {"replicas": desired}, "status": {"replicas": desired, "readyReplicas": available, "availableReplicas": available,
                                                      "updatedReplicas": desired,
                                                      "conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                                                                      "message": "Deployment does not have minimum availability."}]}}


def event(object_name, reason, message, kind="Pod", type_="Warning", count=3):
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{object_name}.{reason}".lower(), "namespace": "orders"},
            "involvedObject": {"kind": kind, "name": object_name, "namespace": "orders"}, "reason": reason, "message": message,
            "type": type_, "count": count,
            "lastTimestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
