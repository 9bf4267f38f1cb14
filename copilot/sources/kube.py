"""The live cluster as a Source, through the official kubernetes client. GET requests only.

Objects come back as the raw JSON the API server sends, in the shape recorded incidents
hold. Secrets are read as PartialObjectMetadata, so their values never cross the wire.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

from copilot.errors import Forbidden, Gone, NotFound, SourceError, Unreachable
from copilot.sources import KINDS

PAGE = 500
CHUNK = 64 * 1024
JSON = "application/json"
PARTIAL = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
FIX = "check --context/--kubeconfig"
# The THROTTLED policy: a 429 or 5xx is asked again, at most ATTEMPTS times in all.
RETRY_STATUSES = {429, 500, 502, 503, 504}
ATTEMPTS = 3
RETRY_BACKOFF = 0.25   # seconds before the 2nd attempt, doubled after
RETRY_AFTER_CAP = 5.0
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _resource(kind: str) -> str:
    group_version, plural, _ = KINDS[kind]
    group = group_version.rpartition("/")[0]
    return f"{plural}.{group}" if group else plural


def _status_message(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("message"):
        return str(doc["message"]).splitlines()[0]
    return body.decode("utf-8", "replace").strip().splitlines()[0] if body.strip() else ""


def _one_line(error: BaseException) -> str:
    mark, problem = getattr(error, "problem_mark", None), getattr(error, "problem", None)
    if mark is not None and problem:
        return f"invalid YAML at line {mark.line + 1}: {problem}"
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class KubeSource:
    """Source over a live cluster: explicit kubeconfig/context, else in-cluster, else the default kubeconfig."""

    def __init__(self, context: str | None = None, kubeconfig: str | os.PathLike | None = None, request_timeout: float = 10.0):
        import kubernetes
        from kubernetes import client

        if not hasattr(client.ApiClient, "param_serialize"):
            raise SourceError(f"the kubernetes client {kubernetes.__version__} is too old; pip install 'kubernetes>=37'")
        self._timeout = request_timeout
        cfg = client.Configuration()
        if kubeconfig or context or not os.environ.get("KUBERNETES_SERVICE_HOST"):
            name, self.default_namespace = self._load_kubeconfig(cfg, kubeconfig, context)
        else:
            name, self.default_namespace = self._load_in_cluster(cfg)
        cfg.retries = False
        self.server = cfg.host
        self.description = f"cluster {name or cfg.host}"
        self._api = client.ApiClient(cfg)

    @staticmethod
    def _load_kubeconfig(cfg: Any, kubeconfig: str | os.PathLike | None, context: str | None) -> tuple[str, str]:
        from kubernetes import config

        kubeconfig = os.fspath(kubeconfig) if kubeconfig else None
        path = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        paths = [os.path.expanduser(p) for p in path.split(os.pathsep) if p]
        if kubeconfig and not all(os.path.exists(p) for p in paths):
            raise Unreachable(f"kubeconfig {kubeconfig} does not exist; check --kubeconfig")
        if not any(os.path.exists(p) for p in paths):
            raise Unreachable(f"no kubeconfig found at {path}; pass --kubeconfig, set KUBECONFIG, or run inside the cluster")
        try:
            contexts, current = config.list_kube_config_contexts(path)
            names = [c["name"] for c in contexts]
            if context and context not in names:
                raise Unreachable(f"context {context!r} not found in {path} (it has: {', '.join(names) or 'none'}); {FIX}")
            active = next((c for c in contexts if c["name"] == context), None) if context else current
            if not active:
                raise Unreachable(f"{path} has no current-context; pass --context (one of: {', '.join(names) or 'none'})")
            config.load_kube_config(config_file=path, context=context, client_configuration=cfg, persist_config=False)
        except Unreachable:
            raise
        except Exception as e:  # noqa: BLE001 - config, YAML and exec-plugin errors share no base class
            raise Unreachable(f"cannot load kubeconfig {path}: {_one_line(e)}; {FIX}") from e
        return active["name"], (active.get("context") or {}).get("namespace") or "default"

    @staticmethod
    def _load_in_cluster(cfg: Any) -> tuple[str, str]:
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        try:
            config.load_incluster_config(client_configuration=cfg)
        except ConfigException as e:
            raise Unreachable(f"in-cluster config: {e}; pass --kubeconfig or --context to use a kubeconfig") from e
        try:
            namespace = SA_NAMESPACE.read_text().strip() or "default"
        except OSError:
            namespace = "default"
        return "", namespace

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def close(self) -> None:
        self._api.close()

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        secret = kind == "Secret"
        doc = self._json(self._path(kind, namespace, name), [], PARTIAL if secret else JSON, "get", kind, namespace, name)
        return self._secret(doc) if secret else doc

    def list(self, kind: str, namespace: str | None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[dict[str, Any]]:
        return self.list_at(kind, namespace, label_selector, field_selector)[0]

    def list_at(self, kind: str, namespace: str | None, label_selector: str | None = None,
                field_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        """The list and its resourceVersion, from which `watch` continues."""
        group_version = KINDS[kind][0] if kind in KINDS else ""
        api_kind = "Event" if kind == "EventsV1" else kind
        query = [("limit", str(PAGE))]
        query += [("labelSelector", label_selector)] if label_selector else []
        query += [("fieldSelector", field_selector)] if field_selector else []
        items: list[dict[str, Any]] = []
        token = None
        while True:
            page = query + ([("continue", token)] if token else [])
            doc = self._json(self._path(kind, namespace), page, PARTIAL_LIST if kind == "Secret" else JSON,
                             "list", kind, namespace, None)
            for item in doc.get("items") or []:
                if kind == "Secret":
                    items.append(self._secret(item))
                else:
                    items.append({"apiVersion": group_version, "kind": api_kind, **item})
            token = (doc.get("metadata") or {}).get("continue")
            if not token:
                return items, str((doc.get("metadata") or {}).get("resourceVersion") or "")

    def watch(self, kind: str, namespace: str | None, resource_version: str, timeout_s: int = 300) -> Iterator[tuple[str, dict[str, Any]]]:
        """(type, object) of each change after `resource_version`, until the server ends the stream.

        BOOKMARK events carry only a resourceVersion. Raises Gone when the version is too old, and
        Unreachable when the stream breaks; the caller lists again or reconnects.
        """
        import urllib3

        if kind == "Secret":
            raise SourceError("Secrets are never watched")
        group_version, _, _ = KINDS[kind]
        query = [("watch", "1"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(int(timeout_s)))]
        query += [("resourceVersion", resource_version)] if resource_version else []
        resp = self._send(self._path(kind, namespace), query, JSON, read_timeout=timeout_s + 30)
        if not 200 <= resp.status < 300:
            raise self._api_error(resp.status, self._finish(resp), "watch", kind, namespace, None)
        raw, pending, done = resp.response, b"", False
        try:
            for chunk in raw.stream(CHUNK):
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    if line.strip():
                        yield self._watch_event(line, kind, group_version)
            if pending.strip():
                yield self._watch_event(pending, kind, group_version)
            done = True
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise self._unreachable(e) from e
        finally:
            raw.release_conn() if done else raw.close()

    def _watch_event(self, line: bytes, kind: str, group_version: str) -> tuple[str, dict[str, Any]]:
        try:
            event = json.loads(line)
            change, obj = event["type"], event["object"]
        except (ValueError, KeyError, TypeError) as e:
            raise Unreachable(f"watch {_resource(kind)}: the stream from {self.server} broke off mid-event") from e
        if change == "ERROR":
            code = obj.get("code") if isinstance(obj, dict) else None
            message = _status_message(json.dumps(obj).encode()) if isinstance(obj, dict) else str(obj)
            if code == 410:
                raise Gone(f"watch {_resource(kind)}: {message or 'resource version too old'}")
            raise SourceError(f"watch {_resource(kind)}: HTTP {code} from {self.server}: {message}")
        if isinstance(obj, dict) and change != "BOOKMARK":
            obj = {"apiVersion": group_version, "kind": "Event" if kind == "EventsV1" else kind, **obj}
        return change, obj

    def log(self, namespace: str, pod: str, container: str, previous: bool,
            limit_bytes: int | None = None, tail_lines: int | None = None) -> Iterator[bytes] | None:
        query = [("container", container)]
        query += [("previous", "true")] if previous else []
        query += [("limitBytes", str(limit_bytes))] if limit_bytes is not None else []
        query += [("tailLines", str(tail_lines))] if tail_lines is not None else []
        resp = self._send(self._path("Pod", namespace, pod) + "/log", query, "text/plain, */*")
        if resp.status == 400:
            self._finish(resp)
            return None
        if not 200 <= resp.status < 300:
            raise self._api_error(resp.status, self._finish(resp), "get", "Pod", namespace, pod, "pods/log")
        return self._stream(resp.response)

    def _stream(self, raw: Any) -> Iterator[bytes]:
        import urllib3

        done = False
        try:
            for chunk in raw.stream(CHUNK):
                yield chunk
            done = True
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise self._unreachable(e) from e
        finally:
            raw.release_conn() if done else raw.close()

    # --- plumbing -----------------------------------------------------------

    def _path(self, kind: str, namespace: str | None, name: str | None = None) -> str:
        if kind not in KINDS:
            raise SourceError(f"unsupported kind {kind!r}; one of {', '.join(KINDS)}")
        group_version, plural, namespaced = KINDS[kind]
        path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        if namespaced and namespace:
            path += f"/namespaces/{quote(namespace, safe='')}"
        elif namespaced and name is not None:
            raise SourceError(f"a namespace is needed to get {_resource(kind)} {name!r}")
        path += f"/{plural}"
        return path + (f"/{quote(name, safe='')}" if name is not None else "")

    def _send(self, path: str, query: list[tuple[str, str]], accept: str, read_timeout: float | None = None) -> Any:
        """One GET under the THROTTLED policy: 429 and 5xx answers are asked again (as client-go does), honouring
        Retry-After up to RETRY_AFTER_CAP; the last answer is returned whatever its status."""
        import urllib3
        from kubernetes.client.exceptions import ApiException
        from tenacity import Retrying, retry_if_result, stop_after_attempt

        def wait(state: Any) -> float:
            resp = state.outcome.result()
            try:
                asked = float(resp.getheader("Retry-After") or "")
            except (TypeError, ValueError):
                asked = 0.0
            return min(RETRY_AFTER_CAP, asked or RETRY_BACKOFF * 2 ** (state.attempt_number - 1))

        throttled = Retrying(retry=retry_if_result(lambda resp: resp.status in RETRY_STATUSES), stop=stop_after_attempt(ATTEMPTS),
                             wait=wait, before_sleep=lambda state: self._finish(state.outcome.result()),
                             retry_error_callback=lambda state: state.outcome.result())
        try:
            _, url, headers, _, _ = self._api.param_serialize("GET", path, query_params=query,
                                                              header_params={"Accept": accept}, auth_settings=["BearerToken"])
            timeout = (self._timeout, read_timeout or self._timeout)
            return throttled(self._api.call_api, "GET", url, header_params=headers, _request_timeout=timeout)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as e:
            raise self._unreachable(e) from e

    def _finish(self, resp: Any) -> bytes:
        """The whole body; a connection that breaks mid-body is Unreachable, like one that never answered."""
        import urllib3

        try:
            return resp.read() or b""
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise self._unreachable(e) from e
        finally:
            resp.response.release_conn()

    def _json(self, path: str, query: list[tuple[str, str]], accept: str, verb: str, kind: str,
              namespace: str | None, name: str | None) -> dict[str, Any]:
        resp = self._send(path, query, accept)
        body = self._finish(resp)
        if not 200 <= resp.status < 300:
            raise self._api_error(resp.status, body, verb, kind, namespace, name)
        try:
            return json.loads(body)
        except ValueError as e:
            raise SourceError(f"{verb} {_resource(kind)}: the server at {self.server} did not answer JSON") from e

    @staticmethod
    def _secret(doc: dict[str, Any]) -> dict[str, Any]:
        """Metadata only, without the annotation `kubectl apply` leaves: it holds the whole manifest, values included."""
        meta = dict(doc.get("metadata") or {})
        if isinstance(meta.get("annotations"), dict):
            meta["annotations"] = {k: v for k, v in meta["annotations"].items() if k != LAST_APPLIED}
        return {"apiVersion": "v1", "kind": "Secret", "metadata": meta}

    def _api_error(self, code: int, body: bytes, verb: str, kind: str, namespace: str | None, name: str | None,
                   resource: str | None = None) -> SourceError:
        message = _status_message(body)
        resource = resource or _resource(kind)
        if code == 404:
            return NotFound(message if name and message and "not found" in message else
                            f'{resource} "{name}" not found' if name else message or f"{resource}: not found")
        if code == 401:
            return Forbidden(f"unauthorized; check your credentials for {self.description} (expired token or certificate?)")
        if code == 403:
            where = f"in namespace {namespace}" if namespace and KINDS[kind][2] else "at cluster scope"
            user = message.split('User "', 1)[1].split('"', 1)[0] if 'User "' in message else ""
            return Forbidden(f"forbidden: cannot {verb} {resource} {where}" + (f" (user {user})" if user else ""))
        return SourceError(f"{verb} {resource}: HTTP {code} from {self.server}" + (f": {message}" if message else ""))

    def _unreachable(self, error: BaseException) -> Unreachable:
        return Unreachable(f"cannot reach the cluster at {self.server}: {self._reason(error)}; {FIX}")

    def _reason(self, error: BaseException) -> str:
        import urllib3

        chain, seen = [], set()
        todo: list[BaseException | None] = [error]
        while todo:
            e = todo.pop(0)
            if e is None or id(e) in seen:
                continue
            seen.add(id(e))
            chain.append(e)
            todo += [e.__cause__, e.__context__, getattr(e, "reason", None) if isinstance(getattr(e, "reason", None), BaseException) else None]
        for e in chain:
            if isinstance(e, ConnectionRefusedError):
                return "connection refused"
            if isinstance(e, (socket.gaierror, urllib3.exceptions.NameResolutionError)):
                return "cannot resolve the host name"
            if isinstance(e, (ssl.SSLError, urllib3.exceptions.SSLError)):
                return f"TLS error: {str(e).splitlines()[0]}"
            if getattr(e, "status", None) == 0 and "SSLError" in str(getattr(e, "reason", "")):
                return f"TLS error: {str(e.reason).splitlines()[-1]}"
        for e in chain:
            if isinstance(e, (TimeoutError, socket.timeout, urllib3.exceptions.TimeoutError)) and \
                    not isinstance(e, urllib3.exceptions.NewConnectionError):
                return f"no answer within {self._timeout:g}s"
            if isinstance(e, (ConnectionResetError, urllib3.exceptions.ProtocolError)):
                return "the connection was closed by the server"
        return _one_line(error)
