"""A loopback stand-in for a Kubernetes API server: enough discovery and objects for kubectl's
get, logs and rollout restart, serving what the test puts in `objects`."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CORE_RESOURCES = [
    {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "verbs": ["get", "list", "watch"], "shortNames": ["po"]},
    {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
    {"name": "events", "singularName": "event", "namespaced": True, "kind": "Event", "verbs": ["get", "list"], "shortNames": ["ev"]},
    {"name": "namespaces", "singularName": "namespace", "namespaced": False, "kind": "Namespace", "verbs": ["get", "list"], "shortNames": ["ns"]},
]
APPS_RESOURCES = [
    {"name": "deployments", "singularName": "deployment", "namespaced": True, "kind": "Deployment",
     "verbs": ["get", "list", "patch", "update"], "shortNames": ["deploy"]},
    {"name": "deployments/scale", "singularName": "", "namespaced": True, "kind": "Scale", "group": "autoscaling", "version": "v1",
     "verbs": ["get", "patch", "update"]},
]


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


class KubeStub(LoopbackAPIServer):
    def __init__(self):
        self.objects = {"pods": {}, "events": {}, "deployments": {}}  # kind -> namespace -> [objects]
        self.logs = {}  # (namespace, pod) -> text
        self.forbidden_namespaces = set()
        self.requests = []
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
                parts = [p for p in url.path.split("/") if p]
                query = parse_qs(url.query)
                if url.path == "/version":
                    return self._send(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0"})
                if url.path == "/api":
                    return self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
                if url.path == "/apis":
                    return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]})
                if url.path == "/api/v1":
                    return self._send(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": CORE_RESOURCES})
                if url.path == "/apis/apps/v1":
                    return self._send(200, {"kind": "APIResourceList", "groupVersion": "apps/v1", "resources": APPS_RESOURCES})
                # /api/v1/namespaces/NS/KIND[/NAME[/log]] and /apis/apps/v1/namespaces/NS/deployments[/NAME]
                if "namespaces" in parts:
                    index = parts.index("namespaces")
                    namespace, rest = parts[index + 1], parts[index + 2:]
                    if namespace in stub.forbidden_namespaces:
                        return self._send(403, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
                                                "message": f'pods is forbidden: User "helpdesk" cannot list resource "pods" in namespace "{namespace}"'})
                    kind = rest[0]
                    items = stub.objects.get(kind, {}).get(namespace, [])
                    if len(rest) == 3 and rest[2] == "log":
                        text = stub.logs.get((namespace, rest[1]))
                        return self._send(200, text, "text/plain") if text is not None else self._not_found(kind, rest[1])
                    if len(rest) == 2:
                        match = [item for item in items if item["metadata"]["name"] == rest[1]]
                        return self._send(200, match[0]) if match else self._not_found(kind, rest[1])
                    selector = query.get("fieldSelector", [""])[0]
                    if selector.startswith("involvedObject.name="):
                        wanted = selector.split("=", 1)[1]
                        items = [item for item in items if item.get("involvedObject", {}).get("name") == wanted]
                    list_kind = {"pods": "PodList", "events": "EventList", "deployments": "DeploymentList"}[kind]
                    return self._send(200, {"kind": list_kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items})
                return self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                                        "message": "the server could not find the requested resource"})

            def do_PATCH(self):
                length = int(self.headers.get("Content-Length", 0))
                stub.requests.append(("PATCH", self.path, self.rfile.read(length).decode()))
                parts = [p for p in urlparse(self.path).path.split("/") if p]
                subresource = parts[-1] if parts[-1] == "scale" else None
                namespace, name = parts[parts.index("namespaces") + 1], parts[-2] if subresource else parts[-1]
                for item in stub.objects["deployments"].get(namespace, []):
                    if item["metadata"]["name"] == name:
                        if subresource:
                            replicas = item["spec"].get("replicas", 1)
                            return self._send(200, {"kind": "Scale", "apiVersion": "autoscaling/v1",
                                                    "metadata": {"name": name, "namespace": namespace},
                                                    "spec": {"replicas": replicas}, "status": {"replicas": replicas}})
                        return self._send(200, item)
                return self._not_found("deployments", name)

            def _not_found(self, kind, name):
                return self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                                        "message": f'{kind} "{name}" not found'})

        self._listen(Handler)


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
            "type": type_, "count": count, "lastTimestamp": "2026-11-24T12:00:00Z"}
