"""A recorded incident served as a read-only Kubernetes API on loopback, for kubectl and client libraries."""

from __future__ import annotations

import base64
import json
import re
import shlex
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from copilot.errors import CopilotError, NotFound, SourceError
from copilot.incident import Incident, load_incident
from copilot.replay_tables import partial, table
from copilot.sources import KINDS
from copilot.sources.store import ObjectStore, api_kind, log_bytes

SHORT_NAMES = {"Pod": ["po"], "Event": ["ev"], "EventsV1": ["ev"], "ConfigMap": ["cm"], "Service": ["svc"],
               "Endpoints": ["ep"], "Node": ["no"], "Namespace": ["ns"], "ReplicaSet": ["rs"], "Deployment": ["deploy"],
               "StatefulSet": ["sts"], "DaemonSet": ["ds"], "CronJob": ["cj"], "NetworkPolicy": ["netpol"]}
IN_ALL = {"Pod", "Service", "ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
VERBS = ["get", "list", "watch"]
WATCH_TIMEOUT = 1800  # seconds a watch stays open when the client names no timeoutSeconds, as the API server's default
BOOKMARK_EVERY = 5.0


@dataclass
class Response:
    code: int
    body: bytes
    content_type: str = "application/json"
    stream: Iterator[bytes] | None = None  # a watch: sent chunked after `body`, until the iterator ends


@dataclass
class Fault:
    """A failure the replay plays on requests whose path matches, for reliability tests."""
    status: int | None = None   # answer this HTTP status (a Status body) instead of the object
    delay: float = 0.0          # seconds to wait before answering
    truncate: bool = False      # send part of the body (a watch: its first events), then drop the connection
    times: int | None = None    # how many requests it applies to (None: all)


REASONS = {403: "Forbidden", 404: "NotFound", 409: "Conflict", 429: "TooManyRequests", 500: "InternalError",
           503: "ServiceUnavailable", 504: "Timeout"}


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Kubernetes Status object, the body of every API error."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "details": details or {}, "code": code}


def _json(doc: Any, code: int = 200) -> Response:
    return Response(code, json.dumps(doc).encode())


def _error(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> Response:
    return _json(status(code, reason, message, details), code)


NOT_FOUND = _error(404, "NotFound", "the server could not find the requested resource")


def negotiate(accept: str | None) -> tuple[str, str] | None:
    """The first representation we can serve: ("table"|"partial"|"json", meta.k8s.io version); None: nothing acceptable."""
    if not accept or not accept.strip():
        return "json", "v1"
    for entry in accept.split(","):
        media, *raw = [p.strip() for p in entry.split(";")]
        params = dict(p.partition("=")[::2] for p in raw)
        as_, group, version = params.get("as"), params.get("g"), params.get("v", "v1")
        if media not in ("application/json", "application/*", "*/*"):
            continue
        if as_ is None:
            return "json", "v1"
        if group == "meta.k8s.io" and as_ == "Table" and version in ("v1", "v1beta1"):
            return "table", version
        if group == "meta.k8s.io" and as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return "partial", version
    return None


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "t", "true")


class ReplayApi:
    """The API's answers, independent of HTTP: (path segments, query, Accept) -> Response."""

    def __init__(self, incident: Incident, server_address: str = ""):
        self.store = ObjectStore(incident)
        self.now = incident.spec.now
        self.server_address = server_address
        self.routes = {(gv, plural): kind for kind, (gv, plural, _) in KINDS.items()}

    def handle(self, parts: list[str], query: dict[str, str], accept: str | None) -> Response:
        if not parts:
            return _json({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/version"]
                          + [f"/apis/{gv}" for gv in self._group_versions()]})
        if parts[0] in ("healthz", "livez", "readyz") and len(parts) == 1:
            return Response(200, b"ok", "text/plain; charset=utf-8")
        if parts == ["version"]:
            return _json({"major": "1", "minor": "32", "gitVersion": "v1.32.0+copilot-replay", "gitCommit": "",
                          "gitTreeState": "clean", "buildDate": "", "goVersion": "", "compiler": "gc", "platform": "linux/amd64"})
        if parts == ["api"]:
            return _json({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_address}]})
        if parts == ["apis"]:
            return _json({"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group(gv) for gv in self._group_versions()]})
        if parts[0] == "api" and parts[1:2] == ["v1"]:
            return self._under("v1", parts[2:], query, accept)
        if parts[0] == "apis" and len(parts) >= 2:
            gv = next((gv for gv in self._group_versions() if gv.split("/")[0] == parts[1]), None)
            if gv is None:
                return NOT_FOUND
            if len(parts) == 2:
                return _json({"kind": "APIGroup", "apiVersion": "v1", **self._group(gv)})
            if "/".join(parts[1:3]) == gv:
                return self._under(gv, parts[3:], query, accept)
        return NOT_FOUND

    def _group_versions(self) -> list[str]:
        return sorted({gv for gv, _, _ in KINDS.values() if "/" in gv})

    @staticmethod
    def _group(gv: str) -> dict[str, Any]:
        group, version = gv.split("/")
        entry = {"groupVersion": gv, "version": version}
        return {"name": group, "versions": [entry], "preferredVersion": entry}

    def _resources(self, gv: str) -> dict[str, Any]:
        resources = []
        for kind, (kgv, plural, namespaced) in KINDS.items():
            if kgv != gv:
                continue
            entry = {"name": plural, "singularName": api_kind(kind).lower(), "namespaced": namespaced,
                     "kind": api_kind(kind), "verbs": VERBS, "shortNames": SHORT_NAMES.get(kind, [])}
            if kind in IN_ALL:
                entry["categories"] = ["all"]
            resources.append(entry)
            if kind == "Pod":
                resources.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}

    def _under(self, gv: str, rest: list[str], query: dict[str, str], accept: str | None) -> Response:
        if not rest:
            return _json(self._resources(gv))
        watch = _flag(query.get("watch"))
        if rest[0] == "watch":
            watch, rest = True, rest[1:]
        if not rest:
            return NOT_FOUND
        namespace = None
        if gv == "v1" and rest[0] == "namespaces" and (len(rest) == 2 or len(rest) == 3 and rest[2] in ("status", "finalize")):
            rest = rest[:2]
        elif rest[:1] == ["namespaces"] and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        kind = self.routes.get((gv, rest[0]))
        if kind is None or len(rest) > 3:
            return NOT_FOUND
        namespaced = KINDS[kind][2]
        if (namespace is not None and not namespaced) or (namespace is None and namespaced and len(rest) > 1):
            return NOT_FOUND
        shape = negotiate(accept)
        if shape is None:
            return _error(406, "NotAcceptable", f"only the following media types are accepted: application/json (not {accept})")
        try:
            if len(rest) == 3:
                if kind == "Pod" and rest[2] == "log":
                    return self._log(namespace or "", rest[1], query)
                if rest[2] != "status":
                    return NOT_FOUND
            more: dict[str, Any] = {}
            if len(rest) >= 2:
                objects = [self.store.get(kind, namespace, rest[1])]
            elif watch:
                objects = []  # the watch lists for itself, at the version it streams from
            else:
                start, size = _page_args(query.get("limit"), query.get("continue"))
                objects, total = self.store.list_page(kind, namespace, query.get("labelSelector"), query.get("fieldSelector"),
                                                      start, size)
                more = _continuation(start, size, total)
        except ValueError as e:
            return _error(400, "BadRequest", str(e))
        except NotFound as e:
            group = KINDS[kind][0].rpartition("/")[0]
            return _error(404, "NotFound", str(e), {"name": rest[1], **({"group": group} if group else {}), "kind": KINDS[kind][1]})
        except SourceError as e:
            return _error(400, "BadRequest", str(e))
        return self._render(kind, objects, len(rest) == 1, watch, shape, {**query, "_namespace": namespace or ""}, more)

    def _render(self, kind: str, objects: list[dict[str, Any]], is_list: bool, watch: bool,
                shape: tuple[str, str], query: dict[str, str], more: dict[str, Any]) -> Response:
        form, version = shape
        include = query.get("includeObject", "Metadata")

        def one(obj: dict[str, Any]) -> dict[str, Any]:
            if form == "table":
                return table(kind, [obj], self.now, include, version, obj["metadata"].get("resourceVersion", ""))
            return partial(obj) if form == "partial" else obj

        if watch:
            return self._watch(kind, objects, one, query)
        if not is_list:
            return _json(one(objects[0]))
        resource_version = self.store.resource_version
        meta: dict[str, Any] = {"resourceVersion": resource_version}
        if more:
            meta.update(more)
        if form == "table":
            doc = table(kind, objects, self.now, include, version, resource_version)
            doc.setdefault("metadata", {}).update(more)
            return _json(doc)
        if form == "partial":
            return _json({"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{version}", "metadata": meta,
                          "items": [partial(o) for o in objects]})
        items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in objects]
        return _json({"kind": f"{api_kind(kind)}List", "apiVersion": KINDS[kind][0], "metadata": meta, "items": items})

    def _watch(self, kind: str, objects: list[dict[str, Any]], one: Callable[[dict[str, Any]], dict[str, Any]],
               query: dict[str, str]) -> Response:
        """A watch as the API server streams it: ADDED for the current objects when no resourceVersion is given,
        then every change after it; 410 Gone (as an ERROR event) once the history no longer reaches back that far."""
        namespace = query.get("_namespace")
        wanted = self.store.matcher(kind, namespace, query.get("labelSelector"), query.get("fieldSelector"))
        asked = query.get("resourceVersion") or "0"
        try:
            since = int(asked)
        except ValueError:
            return _error(400, "BadRequest", f"invalid resourceVersion {asked!r}")
        initial: list[dict[str, Any]] = []
        if since == 0:
            objects, at = self.store.list_at(kind, namespace, query.get("labelSelector"), query.get("fieldSelector"))
            since = int(at)
            initial = [{"type": "ADDED", "object": one(obj)} for obj in objects]
        try:
            timeout = min(float(query.get("timeoutSeconds") or WATCH_TIMEOUT), WATCH_TIMEOUT)
        except ValueError:
            return _error(400, "BadRequest", f"invalid timeoutSeconds {query.get('timeoutSeconds')!r}")
        bookmarks = _flag(query.get("allowWatchBookmarks"))
        body = "".join(json.dumps(e) + "\n" for e in initial).encode()
        return Response(200, body, stream=self._changes(kind, since, wanted, one, timeout, bookmarks))

    def _changes(self, kind: str, since: int, wanted: Callable[[dict[str, Any]], bool],
                 one: Callable[[dict[str, Any]], dict[str, Any]], timeout: float, bookmarks: bool) -> Iterator[bytes]:
        deadline = time.monotonic() + timeout
        while not self.store.closed:
            read = self.store.changes_since(since, kind)
            if read is None:
                gone = status(410, "Expired", f"too old resource version: {since} ({self.store.resource_version})")
                yield (json.dumps({"type": "ERROR", "object": gone}) + "\n").encode()
                return
            changes, since = read
            lines = [json.dumps({"type": change, "object": one(obj)}) + "\n" for change, obj in changes if wanted(obj)]
            if lines:
                yield "".join(lines).encode()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if not self.store.wait(since, min(left, BOOKMARK_EVERY)) and bookmarks and not self.store.closed:
                mark = {"kind": api_kind(kind), "apiVersion": KINDS[kind][0], "metadata": {"resourceVersion": str(since)}}
                yield (json.dumps({"type": "BOOKMARK", "object": mark}) + "\n").encode()

    def _log(self, namespace: str, name: str, query: dict[str, str]) -> Response:
        pod = self.store.get("Pod", namespace, name)
        spec, pod_status = pod.get("spec") or {}, pod.get("status") or {}
        names = [c.get("name") for c in spec.get("containers") or []]
        init_names = [c.get("name") for c in spec.get("initContainers") or []]
        others = [c.get("name") for c in spec.get("ephemeralContainers") or []]
        container = query.get("container") or ""
        if not container:
            if len(names) != 1:
                message = f"a container name must be specified for pod {name}"
                if names:
                    message += f", choose one of: [{' '.join(names)}]"
                    message += f" or one of the init containers: [{' '.join(init_names)}]" if init_names else ""
                return _error(400, "BadRequest", message)
            container = names[0]
        elif container not in names + init_names + others:
            return _error(400, "BadRequest", f"container {container} is not valid for pod {name}")
        try:
            tail = int(query["tailLines"]) if query.get("tailLines") else None
            limit = int(query["limitBytes"]) if query.get("limitBytes") else None
        except ValueError as e:
            return _error(400, "BadRequest", f"invalid log options: {e}")
        previous = _flag(query.get("previous"))
        text = self.store.log_text(namespace, name, container, previous)
        if text is None:
            return _error(400, "BadRequest", self._no_log_message(pod_status, container, name, previous))
        return Response(200, log_bytes(text, limit, tail), "text/plain")

    @staticmethod
    def _no_log_message(pod_status: dict[str, Any], container: str, pod: str, previous: bool) -> str:
        if previous:
            return f'previous terminated container "{container}" in pod "{pod}" not found'
        statuses = (pod_status.get("containerStatuses") or []) + (pod_status.get("initContainerStatuses") or [])
        state = next((s.get("state") or {} for s in statuses if s.get("name") == container), {})
        if "terminated" in state:
            return f'container "{container}" in pod "{pod}" is terminated'
        reason = (state.get("waiting") or {}).get("reason")
        tail = f": {reason}" if reason else " - no logs yet"
        return f'container "{container}" in pod "{pod}" is waiting to start{tail}'


def _page_args(limit: str | None, token: str | None) -> tuple[int, int]:
    """(start, size) of a list page, from `limit` and the opaque `continue` token of the page before."""
    start = 0
    if token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(token.encode()))["start"])
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"invalid continue token {token!r}") from e
    try:
        return start, max(int(limit), 0) if limit else 0
    except ValueError as e:
        raise ValueError(f"invalid limit {limit!r}") from e


def _continuation(start: int, size: int, total: int) -> dict[str, Any]:
    if size <= 0 or start + size >= total:
        return {}
    following = base64.urlsafe_b64encode(json.dumps({"start": start + size}).encode()).decode()
    return {"continue": following, "remainingItemCount": total - start - size}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer (a timeout, a dropped watch) is normal here: no traceback on stderr."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def __init__(self, address: tuple[str, int], owner: ReplayServer):
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "copilot-replay"
    disable_nagle_algorithm = True  # headers and body go in two writes: without it each reused connection waits ~40 ms
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _refuse(self) -> None:
        self.server.owner._record(self.command, self.path, self.headers.get("Accept"))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        message = f"the server does not allow this method on the requested resource: the replay of incident " \
                  f"{self.server.owner.incident.metadata.name} is read-only"
        self._send(_error(405, "MethodNotAllowed", message), head=False)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._refuse
        raise AttributeError(name)

    def _answer(self, head: bool) -> None:
        self.server.owner._record(self.command, self.path, self.headers.get("Accept"))
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        parts = [unquote(p) for p in url.path.split("/") if p]
        fault = self.server.owner._fault(self.path)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.status:
            message = f"injected fault: HTTP {fault.status} on {url.path}"
            if fault.status == 403:
                message = f'{parts[-1] if parts else "resource"} is forbidden: User "system:serviceaccount:copilot:copilot" cannot get it'
            self._send(_error(fault.status, REASONS.get(fault.status, "InternalError"), message), head)
            return
        try:
            response = self.server.owner.api.handle(parts, query, self.headers.get("Accept"))
        except Exception as e:  # noqa: BLE001 - a replay bug answers 500 instead of dropping the connection
            response = _error(500, "InternalError", f"copilot replay: {type(e).__name__}: {e}")
        if fault and fault.truncate:
            self._truncated(response)
            return
        self._send(response, head)

    def _truncated(self, response: Response) -> None:
        """Promise the whole body, send part of it, hang up: what a dying API server or proxy does."""
        self.send_response(response.code)
        self.send_header("Content-Type", response.content_type)
        if response.stream is None:
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body[: len(response.body) // 2])
        else:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            first = response.body or next(iter(response.stream), b"")
            if first:  # the first events, their last line cut short
                self._chunk(first[:-1] or first)
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, response: Response, head: bool) -> None:
        self.send_response(response.code)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Cache-Control", "no-cache, private")
        if response.stream is None:
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if not head:
                self.wfile.write(response.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if head:
            return
        try:
            if response.body:
                self._chunk(response.body)
            for chunk in response.stream:
                self._chunk(chunk)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:  # the client went away
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


class ReplayServer:
    """Serves an incident read-only; `requests` lists (method, path?query) of everything received."""

    def __init__(self, incident: Incident, host: str = "127.0.0.1", port: int = 0):
        self.incident = incident
        self._requests: list[tuple[str, str]] = []
        self._accepts: list[tuple[str, str | None]] = []
        self._faults: list[tuple[re.Pattern[str], Fault]] = []
        self._lock = threading.Lock()
        self._httpd = _HTTPServer((host, port), self)
        bound_host, bound_port = self._httpd.server_address[:2]
        self.url = f"http://{f'[{bound_host}]' if ':' in bound_host else bound_host}:{bound_port}"
        self.api = ReplayApi(incident, self.url.removeprefix("http://"))
        self._thread: threading.Thread | None = None

    @property
    def requests(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._requests)

    def inject(self, pattern: str, fault: Fault) -> None:
        """Play `fault` on requests whose path and query match the regular expression `pattern`."""
        with self._lock:
            self._faults.append((re.compile(pattern), fault))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _fault(self, path: str) -> Fault | None:
        with self._lock:
            for pattern, fault in self._faults:
                if pattern.search(path) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    @property
    def accepts(self) -> list[tuple[str, str | None]]:
        """(path?query, Accept header) of every request, in order: what representation each client asked for."""
        with self._lock:
            return list(self._accepts)

    def _record(self, method: str, path: str, accept: str | None = None) -> None:
        with self._lock:
            self._requests.append((method, path))
            self._accepts.append((path, accept))

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="copilot-replay", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.api.store.close()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        with self._httpd.connections_lock:
            for conn in list(self._httpd.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._httpd.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def write_kubeconfig(path: str | Path, url: str, namespace: str | None = None, context: str = "copilot-replay") -> Path:
    """A kubeconfig for an http server without authentication, usable by kubectl and the Python client."""
    ctx: dict[str, Any] = {"cluster": context, "user": context}
    if namespace:
        ctx["namespace"] = namespace
    config = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": context,
              "clusters": [{"name": context, "cluster": {"server": url}}],
              "users": [{"name": context, "user": {}}],
              "contexts": [{"name": context, "context": ctx}]}
    p = Path(path)
    p.write_text(yaml.safe_dump(config, sort_keys=False))
    p.chmod(0o600)
    return p


def run_replay(incident_path: str | Path, port: int = 0, kubeconfig_path: str | Path = "copilot-replay.kubeconfig",
               out: TextIO | None = None, play_after: float | None = None) -> None:
    """Serve the incident until Ctrl-C, with a kubeconfig pointing at it; with `play_after`, rewound and played then."""
    out = out or sys.stderr
    incident = load_incident(incident_path)
    try:
        server = ReplayServer(incident, port=port)
    except OSError as e:
        raise CopilotError(f"cannot listen on 127.0.0.1:{port}: {e.strerror}; choose another --port") from e
    namespace = incident.spec.target.namespace
    config = write_kubeconfig(kubeconfig_path, server.url, namespace).resolve()
    recorded = server.api.store.rewind() if play_after is not None else []
    play_at = time.monotonic() + (play_after or 0)
    server.start()
    try:
        print(f"serving incident {incident.metadata.name} read-only at {server.url} (Ctrl-C to stop)", file=out)
        if play_after is not None:
            print(f"rewound to before the incident: {len(recorded)} objects change in {play_after:g}s", file=out)
        print(f"export KUBECONFIG={shlex.quote(str(config))}; kubectl get pods -n {namespace}", file=out, flush=True)
        while server._thread is not None and server._thread.is_alive():
            server._thread.join(0.2)
            if recorded and time.monotonic() >= play_at:
                print(f"playing the incident: {server.api.store.play(recorded)} objects changed", file=out, flush=True)
                recorded = []
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
