"""A loopback Kubernetes API server that lets `helm install` run without a cluster: discovery for
every kind the chart uses, "not found" for every object, and a 201 for every create, keeping what
was created (see ../shared/reference/helm-render.md for the order Helm asks in)."""
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

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


class _Server(ThreadingHTTPServer):
    # client-go asks for every group's resources at once; the default backlog of 5 drops the rest,
    # which then retry after a second.
    request_queue_size = 64


class HelmStub(LoopbackAPIServer):
    """Serves one `helm install` at a time; `created` holds every JSON object POSTed, in order."""

    def __init__(self):
        self.created = []
        self.requests = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

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
                # Listing earlier releases (secrets by label) finds none; any single object is absent.
                if path.endswith("/secrets"):
                    return self._send(200, {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []})
                return self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                                        "message": f"{path} not found"})

            def do_POST(self):
                body = self._body()
                stub.requests.append(("POST", self.path))
                if self.headers.get("Content-Type", "").startswith(PROTOBUF):
                    # Helm's release record: answered, not read.
                    return self._send(201, {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "release", "resourceVersion": "1"}})
                created = json.loads(body)
                stub.created.append(created)
                created.setdefault("metadata", {})["resourceVersion"] = "1"
                return self._send(201, created)

            def do_PUT(self):
                self._body()
                stub.requests.append(("PUT", self.path))
                return self._send(200, {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "release", "resourceVersion": "2"}})

        self._listen(Handler, _Server)

    def kubeconfig(self, path):
        return super().kubeconfig(path, user="helm", namespace="helpdesk")
