"""A loopback Kubernetes API server that lets `helm install` run without a cluster: discovery for
every kind the chart uses, "not found" for every object not yet created, and a 201 for every create,
keeping what was created (see ../shared/reference/helm-render.md for the order Helm asks in).
Install hooks (the migrate Job) are created, listed back with a finished status, and deleted as
their delete policy says."""
import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from kube_stub import LoopbackAPIServer


def _resource(plural, kind, namespaced=True):
    return {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}


# group/version -> resources; "v1" is the core group under /api.
DISCOVERY = {
    "v1": [_resource("configmaps", "ConfigMap"), _resource("secrets", "Secret"), _resource("services", "Service"),
           _resource("serviceaccounts", "ServiceAccount"), _resource("persistentvolumeclaims", "PersistentVolumeClaim"),
           _resource("pods", "Pod"), _resource("namespaces", "Namespace", namespaced=False)],
    "apps/v1": [_resource("deployments", "Deployment"), _resource("statefulsets", "StatefulSet")],
    "batch/v1": [_resource("jobs", "Job"), _resource("cronjobs", "CronJob")],
    "networking.k8s.io/v1": [_resource("ingresses", "Ingress"), _resource("networkpolicies", "NetworkPolicy")],
    "policy/v1": [_resource("poddisruptionbudgets", "PodDisruptionBudget")],
    "autoscaling/v2": [_resource("horizontalpodautoscalers", "HorizontalPodAutoscaler")],
    "rbac.authorization.k8s.io/v1": [_resource("roles", "Role"), _resource("rolebindings", "RoleBinding"),
                                     _resource("clusterroles", "ClusterRole", namespaced=False),
                                     _resource("clusterrolebindings", "ClusterRoleBinding", namespaced=False)],
    "monitoring.coreos.com/v1": [_resource("servicemonitors", "ServiceMonitor"), _resource("prometheusrules", "PrometheusRule")],
}

PROTOBUF = "application/vnd.kubernetes.protobuf"
PLURALS = {resource["name"]: resource["kind"] for resources in DISCOVERY.values() for resource in resources}
# /api/v1/namespaces/NS/PLURAL[/NAME] or /apis/GROUP/VERSION/namespaces/NS/PLURAL[/NAME]
OBJECT_PATH = re.compile(r"^/(?:api/v1|apis/[^/]+/[^/]+)/namespaces/[^/]+/(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?$")


def _openapi_v3(group_version):
    """A group/version's OpenAPI v3 document, as much of it as Helm reads: Helm builds hook objects
    with validation on, and client-go then only asks whether each kind's PATCH takes the
    fieldValidation query parameter. It does, so validation is left to this server, which skips it."""
    group, _, version = group_version.rpartition("/")
    paths = {}
    for resource in DISCOVERY[group_version]:
        gvk = {"group": group, "version": version, "kind": resource["kind"]}
        paths[f"/{'api' if not group else 'apis/' + group}/{version}/{resource['name']}/{{name}}"] = {"patch": {
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "OK"}}}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.30.0"}, "paths": paths}


def _openapi_v3_path(group_version):
    return "api/v1" if group_version == "v1" else f"apis/{group_version}"


class _Server(ThreadingHTTPServer):
    # client-go asks for every group's resources at once; the default backlog of 5 drops the rest,
    # which then retry after a second.
    request_queue_size = 64


class HelmStub(LoopbackAPIServer):
    """Serves one `helm install` at a time; `created` holds every JSON object POSTed, in order,
    `deleted` the (kind, name) of each one Helm deleted again (hooks). Each Job reads back as
    finished: complete, or failed when `jobs_fail`."""

    def __init__(self, jobs_fail=False):
        self.created = []
        self.deleted = []
        self.requests = []
        live = {}  # (plural, name) -> object
        stub = self

        def status_of(plural, obj):
            """The object as a cluster would report it once its controller is done with it."""
            obj = json.loads(json.dumps(obj))
            if plural == "jobs":
                condition = "Failed" if jobs_fail else "Complete"
                obj["status"] = {"startTime": "2030-01-01T00:00:00Z", "conditions": [{"type": condition, "status": "True"}],
                                 **({"failed": 1} if jobs_fail else {"succeeded": 1, "completionTime": "2030-01-01T00:00:10Z"})}
            return obj

        def not_found(handler, path):
            return handler._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                                       "message": f"{path} not found"})

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a watcher that had heard enough

            def _body(self):
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def do_GET(self):
                stub.requests.append(("GET", self.path))
                path = urlparse(self.path).path
                if path == "/version":
                    return self._send(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0", "platform": "linux/amd64"})
                if path == "/api":
                    return self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
                if path == "/apis":
                    groups = [{"name": gv.split("/")[0], "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                               "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]}}
                              for gv in DISCOVERY if "/" in gv]
                    return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
                group_version = "v1" if path == "/api/v1" else path.removeprefix("/apis/")
                if group_version in DISCOVERY and (path == "/api/v1" or path.startswith("/apis/")):
                    return self._send(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                                            "resources": DISCOVERY[group_version]})
                if path == "/openapi/v3":
                    return self._send(200, {"paths": {_openapi_v3_path(gv): {"serverRelativeURL": f"/openapi/v3/{_openapi_v3_path(gv)}?hash=1"}
                                                      for gv in DISCOVERY}})
                for gv in DISCOVERY:
                    if path == f"/openapi/v3/{_openapi_v3_path(gv)}":
                        return self._send(200, _openapi_v3(gv))
                # Listing earlier releases (secrets by label) finds none.
                if path.endswith("/secrets"):
                    return self._send(200, {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []})
                match = OBJECT_PATH.match(path)
                if match and match["plural"] in PLURALS:
                    plural, name = match["plural"], match["name"]
                    if name:
                        return self._send(200, status_of(plural, live[plural, name])) if (plural, name) in live else not_found(self, path)
                    query = parse_qs(urlparse(self.path).query)
                    if query.get("watch") == ["true"]:
                        # Helm waits on hooks by list and watch: no streaming watch list (it falls
                        # back to a list), and a watch with nothing more to say.
                        if query.get("sendInitialEvents") == ["true"]:
                            return not_found(self, path)
                        return self._send(200, b"")
                    items = [status_of(plural, obj) for (kind, _), obj in live.items() if kind == plural]
                    return self._send(200, {"kind": f"{PLURALS[plural]}List", "apiVersion": "v1",
                                            "metadata": {"resourceVersion": "1"}, "items": items})
                return not_found(self, path)

            def do_POST(self):
                body = self._body()
                stub.requests.append(("POST", self.path))
                if self.headers.get("Content-Type", "").startswith(PROTOBUF):
                    # Helm's release record: answered, not read.
                    return self._send(201, {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "release", "resourceVersion": "1"}})
                created = json.loads(body)
                stub.created.append(created)
                created.setdefault("metadata", {})["resourceVersion"] = "1"
                match = OBJECT_PATH.match(urlparse(self.path).path)
                if match:
                    live[match["plural"], created["metadata"]["name"]] = created
                return self._send(201, created)

            def do_DELETE(self):
                self._body()
                stub.requests.append(("DELETE", self.path))
                path = urlparse(self.path).path
                match = OBJECT_PATH.match(path)
                if not match or (match["plural"], match["name"]) not in live:
                    return not_found(self, path)  # before-hook-creation: nothing earlier to delete
                obj = live.pop((match["plural"], match["name"]))
                stub.deleted.append((obj["kind"], obj["metadata"]["name"]))
                return self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200})

            def do_PUT(self):
                self._body()
                stub.requests.append(("PUT", self.path))
                return self._send(200, {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "release", "resourceVersion": "2"}})

        self._listen(Handler, _Server)

    def kubeconfig(self, path):
        return super().kubeconfig(path, user="helm", namespace="helpdesk")
