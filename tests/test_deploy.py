"""deploy/: the manifests, the kustomization, the Dockerfile and the README's commands, checked for real.

Schemas: every manifest (and what kustomize builds from them, and the README's snippets) against the official
Kubernetes JSON schemas bundled by kubernetes-validate, strict (an unknown field fails), offline. kubectl: the
kustomization builds, `kubectl apply -k deploy/ --dry-run=client` runs against a loopback discovery stub, and the
README's `create secret` command makes the Secret the Deployment reads. Semantics: the ClusterRole grants exactly
the reads copilot makes (derived from copilot/sources KINDS) and nothing on Secrets, the Deployment is hardened
and its args parse with the real CLI (once `watch` exists), and the Dockerfile builds what the package needs,
runs as non-root and bakes in no secret. Without kubectl those tests skip; without kubernetes-validate or a
setuptools that can build the wheel they skip, except under CI, where they fail.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from copilot.sources import KINDS

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
MANIFESTS = ["namespace.yaml", "serviceaccount.yaml", "clusterrole.yaml", "clusterrolebinding.yaml", "deployment.yaml"]
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")

READ_VERBS = {"get", "list", "watch"}
ALL_VERBS = READ_VERBS | {"create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate",
                          "approve", "sign", "use", "proxy"}
# `copilot watch`'s interface (the options a Deployment may pass).
WATCH_OPTIONS = {"-n", "--namespace", "-A", "--all-namespaces", "--context", "--kubeconfig", "--slack-webhook", "--webhook",
                 "--once", "--state", "--min-restarts", "--cooldown", "--no-llm", "--health-port"}
WATCH_FLAGS = {"-A", "--all-namespaces", "--once", "--no-llm"}
SENSITIVE_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|WEBHOOK|CREDENTIAL|AUTH|PRIVATE", re.I)
SENSITIVE_VALUE = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}|hooks\.slack\.com/services/[A-Z0-9]|\bxox[abpors]-|\bghp_[A-Za-z0-9]{10,}"
                             r"|\bAKIA[0-9A-Z]{12,}|-----BEGIN [A-Z ]*PRIVATE KEY")


def _need(reason: str):
    (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)


def _kubernetes_validate():
    try:
        import kubernetes_validate
    except ImportError:
        _need("kubernetes-validate is not installed (pip install kubernetes-validate)")
    return kubernetes_validate


# --- loading ----------------------------------------------------------------------------------------------------


def load_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return [d for name in MANIFESTS for d in load_docs(DEPLOY / name)]


def one(docs: list[dict], kind: str) -> dict:
    found = [d for d in docs if d.get("kind") == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def deployment(docs) -> dict:
    return one(docs, "Deployment")


@pytest.fixture(scope="module")
def pod_spec(deployment) -> dict:
    return deployment["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def container(pod_spec) -> dict:
    assert len(pod_spec["containers"]) == 1
    return pod_spec["containers"][0]


def kubeconfig(tmp_path: Path, server: str = "https://127.0.0.1:1") -> Path:
    """A kubeconfig of its own, so kubectl never reaches the user's cluster (port 1: nothing listens)."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "stub",
        "clusters": [{"name": "stub", "cluster": {"server": server}}],
        "users": [{"name": "stub", "user": {"token": "stub"}}],
        "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub", "namespace": "default"}}]}))
    return path


def kubectl(*args: str, kubeconfig_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig_path)}
    return subprocess.run([KUBECTL, *args], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT,
                          stdin=subprocess.DEVNULL)


def kustomize_build(tmp_path: Path) -> list[dict]:
    out = kubectl("kustomize", str(DEPLOY), kubeconfig_path=kubeconfig(tmp_path))
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d is not None]


# --- the kustomization ------------------------------------------------------------------------------------------


def test_kustomization_lists_every_manifest_and_nothing_else():
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    on_disk = {p.name for p in DEPLOY.glob("*.y*ml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(on_disk) == sorted(MANIFESTS)


def test_every_manifest_is_named_and_namespaced_as_intended(docs):
    for d in docs:
        assert d["metadata"]["name"], d
        cluster_scoped = d["kind"] in ("Namespace", "ClusterRole", "ClusterRoleBinding")
        assert d["metadata"].get("namespace") == (None if cluster_scoped else "copilot"), d["metadata"]
    assert one(docs, "Namespace")["metadata"]["name"] == "copilot"


@needs_kubectl
def test_kustomize_builds_the_same_objects_with_the_image(tmp_path, docs):
    built = kustomize_build(tmp_path)
    ids = lambda objs: sorted((d["kind"], d["metadata"]["name"], d["metadata"].get("namespace") or "") for d in objs)  # noqa: E731
    assert ids(built) == ids(docs)
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    images = {i["name"]: f"{i.get('newName', i['name'])}:{i['newTag']}" for i in kustomization.get("images") or []}
    image = one(built, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == images.get("ghcr.io/copilot/copilot", "ghcr.io/copilot/copilot:0.1.0") == "ghcr.io/copilot/copilot:0.1.0"


# --- schemas ----------------------------------------------------------------------------------------------------

# The oldest Kubernetes still widely run, and the newest the bundled schemas know.
SCHEMA_VERSIONS = ["1.28", "latest"]


def validate(doc: dict, version: str) -> None:
    kv = _kubernetes_validate()
    if version == "latest":
        from kubernetes_validate.utils import latest_version
        version = latest_version()
    try:
        kv.validate(doc, version, strict=True)
    except kv.ValidationError as e:
        where = ".".join(str(p) for p in e.absolute_path)
        pytest.fail(f"{doc.get('kind')} {doc['metadata'].get('name')}: {where}: {e.message} (Kubernetes {e.version})")


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_matches_the_kubernetes_schema(name, version):
    for doc in load_docs(DEPLOY / name):
        validate(doc, version)


@needs_kubectl
def test_kustomize_output_matches_the_kubernetes_schema(tmp_path):
    for doc in kustomize_build(tmp_path):
        validate(doc, "latest")


def test_the_schema_check_can_fail(deployment):
    """A misspelt field, a wrong type and a missing required field are each caught."""
    kv = _kubernetes_validate()
    typo, wrong_type, missing = (copy.deepcopy(deployment) for _ in range(3))
    typo["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesytem"] = True
    wrong_type["spec"]["replicas"] = "one"
    del missing["spec"]["template"]["spec"]["containers"][0]["name"]
    for broken in (typo, wrong_type, missing):
        with pytest.raises(kv.ValidationError):
            kv.validate(broken, "1.28", strict=True)


# --- kubectl apply --dry-run=client against a loopback discovery stub -------------------------------------------

# What the stub's discovery serves: (group, version) -> [(kind, plural, namespaced)], as a real API server has them.
STUB_API = {
    ("", "v1"): [("Namespace", "namespaces", False), ("ServiceAccount", "serviceaccounts", True),
                 ("ConfigMap", "configmaps", True), ("Secret", "secrets", True),
                 ("PersistentVolumeClaim", "persistentvolumeclaims", True)],
    ("apps", "v1"): [("Deployment", "deployments", True)],
    ("rbac.authorization.k8s.io", "v1"): [("ClusterRole", "clusterroles", False), ("ClusterRoleBinding", "clusterrolebindings", False),
                                          ("Role", "roles", True), ("RoleBinding", "rolebindings", True)],
}


class _Stub(BaseHTTPRequestHandler):
    """Discovery for STUB_API; every object is NotFound, so `apply` would create it; writes are refused."""

    requests: list[tuple[str, str]]

    def do_GET(self):
        self.requests.append(("GET", self.path))
        path = self.path.split("?")[0]
        if path == "/api":
            return self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if path == "/apis":
            return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                 "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}} for g, v in STUB_API if g]})
        for (group, version), resources in STUB_API.items():
            group_version = f"{group}/{version}" if group else version
            if path == ("/api/v1" if not group else f"/apis/{group_version}"):
                return self._send(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": [
                    {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                     "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]} for kind, plural, namespaced in resources]})
        self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                         "message": f"{path} not found"})

    def _refuse(self):
        self.requests.append((self.command, self.path))
        self._send(405, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 405, "message": "read-only stub"})

    do_POST = do_PUT = do_PATCH = do_DELETE = _refuse

    def _send(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def discovery_stub():
    handler = type("Stub", (_Stub,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()


def _object_path(doc: dict) -> str:
    group_version = doc["apiVersion"]
    for (group, version), resources in STUB_API.items():
        if group_version == (f"{group}/{version}" if group else version):
            for kind, plural, namespaced in resources:
                if kind == doc["kind"]:
                    base = "/api/v1" if not group else f"/apis/{group_version}"
                    ns = f"/namespaces/{doc['metadata']['namespace']}" if namespaced else ""
                    return f"{base}{ns}/{plural}/{doc['metadata']['name']}"
    raise AssertionError(f"the stub does not serve {doc['kind']} {group_version}")


@needs_kubectl
def test_kubectl_apply_k_dry_run_client(tmp_path, discovery_stub, docs):
    """The README's `kubectl apply -k deploy/`, client-side dry run: kubectl maps every kind, looks each object up
    at its namespaced or cluster-scoped path, and would create them all (openapi validation needs a real server:
    --validate=false; the schemas are checked above)."""
    server, requests = discovery_stub
    out = kubectl("apply", "-k", "deploy/", "--dry-run=client", "--validate=false", "-o", "json",
                  kubeconfig_path=kubeconfig(tmp_path, server))
    assert out.returncode == 0, out.stderr
    items = json.loads(out.stdout)["items"]
    assert sorted((i["kind"], i["metadata"]["name"]) for i in items) == sorted((d["kind"], d["metadata"]["name"]) for d in docs)
    assert {m for m, _ in requests} == {"GET"}
    looked_up = {p.split("?")[0] for _, p in requests}
    assert {_object_path(d) for d in docs} <= looked_up


# --- RBAC -------------------------------------------------------------------------------------------------------


def _group(group_version: str) -> str:
    return group_version.rpartition("/")[0]


def needed_reads() -> set[tuple[str, str]]:
    """(apiGroup, resource) copilot reads: every KINDS entry but Secret, and pods/log."""
    return {(_group(gv), plural) for kind, (gv, plural, _) in KINDS.items() if kind != "Secret"} | {("", "pods/log")}


def allows(rules: list[dict], group: str, resource: str, verb: str) -> bool:
    """RBAC's own matching, wildcards included (resourceNames ignored: a named grant is still a grant)."""
    for rule in rules:
        groups, resources, verbs = rule.get("apiGroups") or [], rule.get("resources") or [], rule.get("verbs") or []
        base, _, sub = resource.partition("/")
        resource_ok = resource in resources or "*" in resources or (sub and f"{base}/*" in resources) or (sub and f"*/{sub}" in resources)
        if (group in groups or "*" in groups) and resource_ok and (verb in verbs or "*" in verbs):
            return True
    return False


@pytest.fixture(scope="module")
def roles(docs) -> list[dict]:
    found = [d for d in docs if d["kind"] in ("ClusterRole", "Role")]
    assert found
    return found


def test_roles_are_read_only_without_wildcards(roles):
    for role in roles:
        assert "aggregationRule" not in role, "an aggregated role takes in whatever other roles grant"
        for rule in role["rules"]:
            assert set(rule["verbs"]) <= READ_VERBS, rule
            assert "nonResourceURLs" not in rule, rule
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert not any("*" in v for v in rule.get(field) or []), f"wildcard in {field}: {rule}"


def test_roles_grant_nothing_on_secrets(roles):
    for role in roles:
        for rule in role["rules"]:
            assert not any(r == "secrets" or r.startswith("secrets/") for r in rule.get("resources") or []), rule
        for verb in ALL_VERBS:
            for resource in ("secrets", "secrets/status"):
                assert not allows(role["rules"], "", resource, verb), f"{role['metadata']['name']} allows {verb} {resource}"


def test_clusterrole_grants_exactly_the_reads_copilot_makes(docs):
    rules = one(docs, "ClusterRole")["rules"]
    assert "Secret" in KINDS and ("", "secrets") not in needed_reads()
    for group, resource in sorted(needed_reads()):
        verbs = {"get"} if "/" in resource else READ_VERBS
        missing = {v for v in verbs if not allows(rules, group, resource, v)}
        assert not missing, f"copilot reads {resource} in group {group or 'core'!r} but the role lacks {sorted(missing)}"
    granted = {(g, r) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]}
    assert granted == needed_reads(), f"granted beyond what copilot reads: {sorted(granted - needed_reads())}"
    for group, resource in granted:
        for verb in ALL_VERBS - READ_VERBS:
            assert not allows(rules, group, resource, verb)


def test_the_rbac_checks_can_fail(docs):
    rules = one(docs, "ClusterRole")["rules"]
    assert allows(rules + [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}], "", "secrets", "get")
    assert allows(rules + [{"apiGroups": ["*"], "resources": ["secrets"], "verbs": ["*"]}], "", "secrets", "delete")
    assert not allows([r for r in rules if "pods/log" not in r["resources"]], "", "pods/log", "get")


def test_binding_ties_the_role_to_the_deployments_serviceaccount(docs, pod_spec):
    binding, role, sa = one(docs, "ClusterRoleBinding"), one(docs, "ClusterRole"), one(docs, "ServiceAccount")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": sa["metadata"]["namespace"]}]
    assert pod_spec["serviceAccountName"] == sa["metadata"]["name"]
    assert sa["metadata"]["namespace"] == one(docs, "Deployment")["metadata"]["namespace"]


# --- the Deployment ---------------------------------------------------------------------------------------------


def test_one_replica_recreated_with_its_token(deployment, pod_spec):
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert pod_spec["automountServiceAccountToken"] is True
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def _option(args: list[str], name: str) -> str:
    assert args.count(name) == 1, f"{name} in {args}"
    return args[args.index(name) + 1]


def test_args_are_watch_all_namespaces_with_state_and_health(container):
    args = container["args"]
    assert "command" not in container, "the image's ENTRYPOINT is copilot"
    assert all(isinstance(a, str) for a in args), "YAML numbers in args must be quoted"
    assert args[0] == "watch" and "-A" in args
    options = [a for a in args[1:] if a.startswith("-")]
    assert set(options) <= WATCH_OPTIONS, f"not a `copilot watch` option: {sorted(set(options) - WATCH_OPTIONS)}"
    values = [args[i + 1] for i, a in enumerate(args[:-1]) if a.startswith("-") and a not in WATCH_FLAGS]
    assert not any(v.startswith("-") for v in values), args
    assert _option(args, "--state") == "/var/lib/copilot/state.json"
    assert _option(args, "--health-port") == "8080"


def _watch_command():
    import click

    from copilot.cli import main

    with click.Context(main) as ctx:
        command = main.get_command(ctx, "watch")
    if command is None:
        pytest.skip("`copilot watch` does not exist yet")
    return main, command


def _parse_watch(args: list[str]) -> dict:
    import click

    main, command = _watch_command()
    assert args[0] == "watch"
    with click.Context(main, info_name="copilot") as parent:
        try:
            ctx = command.make_context("watch", list(args[1:]), parent=parent)
        except click.ClickException as e:
            pytest.fail(f"copilot {' '.join(args)}: {e.format_message()}")
    by_opt = {opt: p.name for p in command.params for opt in getattr(p, "opts", [])}
    return {opt: ctx.params[name] for opt, name in by_opt.items()}


def test_args_parse_with_the_real_cli(container):
    parsed = _parse_watch(container["args"])
    assert str(parsed["--health-port"]) == "8080"
    assert str(parsed["--state"]) == "/var/lib/copilot/state.json"
    assert parsed["-A"] is True


def test_the_images_default_cmd_parses_with_the_real_cli(dockerfile):
    parsed = _parse_watch(json.loads(dockerfile.last("CMD")))
    assert parsed["-A"] is True


def _port(container: dict, port) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container.get("ports") or [] if "name" in p}
    assert port in named, f"probe port {port!r} names no container port"
    return named[port]


def test_probes_hit_the_health_port(container):
    health_port = int(_option(container["args"], "--health-port"))
    assert health_port in {p["containerPort"] for p in container["ports"]}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path and _port(container, get["port"]) == health_port, probe
        assert get.get("scheme", "HTTP") == "HTTP"
    if "startupProbe" in container:
        assert _port(container, container["startupProbe"]["httpGet"]["port"]) == health_port


def _effective_security(pod_spec: dict, container: dict) -> dict:
    pod, own = pod_spec.get("securityContext") or {}, container.get("securityContext") or {}
    shared = ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile")
    return {**{k: pod[k] for k in shared if k in pod}, **own}


def test_security_context_is_hardened_and_meets_restricted(docs, pod_spec, container):
    security = _effective_security(pod_spec, container)
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 10001
    assert security.get("runAsGroup", 10001) != 0
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security.get("privileged", False) is False
    assert security["capabilities"]["drop"] == ["ALL"] and not security["capabilities"].get("add")
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    # the rest of the "restricted" Pod Security Standard the namespace enforces
    namespace = one(docs, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert not any(pod_spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC", "hostUsers"))
    assert not any(p.get("hostPort") for p in container.get("ports") or [])
    allowed = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
    for volume in pod_spec.get("volumes") or []:
        assert set(volume) - {"name"} <= allowed, volume


def _quantity(value) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    assert match and match.group(2) in units.keys() | {""}, value
    return float(match.group(1)) * units.get(match.group(2), 1)


def test_resources_request_and_limit_memory(container):
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]
    for kind in resources["limits"]:
        assert _quantity(resources["requests"].get(kind, resources["limits"][kind])) <= _quantity(resources["limits"][kind])
    assert _quantity(resources["limits"]["memory"]) >= 256 * 2**20


def test_notify_settings_come_from_the_optional_secret(container, pod_spec):
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "secretKeyRef" in (e.get("valueFrom") or {})}
    assert refs["COPILOT_SLACK_WEBHOOK"]["key"] == "slack-webhook"
    assert refs["OPENAI_API_KEY"]["key"] == "openai-api-key"
    for name, ref in refs.items():
        assert ref["name"] == "copilot-notify" and ref["optional"] is True, name
    for env in container["env"]:
        if SENSITIVE_NAME.search(env["name"]):
            assert "value" not in env, f"{env['name']} is a literal in the manifest"
    for source in container.get("envFrom") or []:
        ref = source.get("secretRef") or source.get("configMapRef")
        assert ref["optional"] is True, source
    assert not any("secret" in v for v in pod_spec.get("volumes") or []), "no Secret is mounted"
    text = "\n".join((DEPLOY / n).read_text() for n in MANIFESTS)
    assert not SENSITIVE_VALUE.search(text)


def test_writable_paths_are_volumes(container, pod_spec):
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec["volumes"]}
    state_dir = str(Path(_option(container["args"], "--state")).parent)
    assert state_dir in mounts and "/tmp" in mounts
    for path in (state_dir, "/tmp"):
        assert "emptyDir" in volumes[mounts[path]] or "persistentVolumeClaim" in volumes[mounts[path]]
        assert not any(m.get("readOnly") for m in container["volumeMounts"] if m["mountPath"] == path)


# --- the README -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def readme() -> str:
    return (DEPLOY / "README.md").read_text(encoding="utf-8")


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def _secret_command(readme: str) -> list[str]:
    for block in _blocks(readme, "sh"):
        for line in block.replace("\\\n", " ").splitlines():
            if "create secret generic copilot-notify" in line:
                return shlex.split(line.split("#")[0])
    raise AssertionError("the README shows no `kubectl create secret generic copilot-notify`")


def test_readme_documents_build_secret_apply_and_state(readme, container):
    assert "docker build -f deploy/Dockerfile" in readme and "kubectl apply -k deploy/" in readme
    assert "ghcr.io/copilot/copilot:0.1.0" in readme and "placeholder" in readme
    for env in container["env"]:
        ref = (env.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            assert f"`{ref['key']}`" in readme, f"the README does not mention the Secret key {ref['key']}"
    assert "emptyDir" in readme and "PersistentVolumeClaim" in readme and "rescheduled" in readme


@needs_kubectl
def test_readmes_secret_command_makes_the_secret_the_deployment_reads(tmp_path, readme, deployment, container):
    command = _secret_command(readme)
    assert command[0] == "kubectl"
    out = kubectl(*command[1:], "--dry-run=client", "-o", "json", kubeconfig_path=kubeconfig(tmp_path))
    assert out.returncode == 0, out.stderr
    secret = json.loads(out.stdout)
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "copilot-notify"
    assert secret["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    keys = {(e.get("valueFrom") or {}).get("secretKeyRef", {}).get("key") for e in container["env"]} - {None}
    assert {"slack-webhook", "openai-api-key"} <= set(secret["data"]) <= keys


def test_readmes_pvc_snippet_is_valid(readme, pod_spec):
    snippets = [d for block in _blocks(readme, "yaml") for d in yaml.safe_load_all(block) if d]
    pvc = one(snippets, "PersistentVolumeClaim")
    assert pvc["metadata"]["namespace"] == "copilot"
    validate(pvc, "latest")
    assert f"claimName: {pvc['metadata']['name']}" in readme
    assert "state" in {v["name"] for v in pod_spec["volumes"]} and "`state` volume" in readme


# --- the Dockerfile ---------------------------------------------------------------------------------------------


class Dockerfile:
    """Instructions as (KEYWORD, rest), continuations joined, comments and parser directives dropped."""

    def __init__(self, text: str):
        self.instructions: list[tuple[str, str]] = []
        pending = ""
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            pending += line.rstrip()
            if pending.endswith("\\"):
                pending = pending[:-1] + " "
                continue
            keyword, _, rest = pending.strip().partition(" ")
            self.instructions.append((keyword.upper(), rest.strip()))
            pending = ""
        assert not pending, "the Dockerfile ends in a line continuation"

    def all(self, keyword: str) -> list[str]:
        return [rest for k, rest in self.instructions if k == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"no {keyword}"
        return found[-1]

    def stages(self) -> list[list[tuple[str, str]]]:
        stages: list[list[tuple[str, str]]] = []
        for k, rest in self.instructions:
            if k == "FROM":
                stages.append([])
            assert stages, f"{k} before the first FROM"
            stages[-1].append((k, rest))
        return stages

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for rest in self.all("ENV"):
            words = shlex.split(rest)
            if "=" in words[0]:
                values.update(w.split("=", 1) for w in words)
            else:
                values[words[0]] = " ".join(words[1:])
        return values

    def args(self) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for rest in self.all("ARG"):
            for word in shlex.split(rest):
                name, eq, default = word.partition("=")
                found[name] = default if eq else None
        return found

    @staticmethod
    def copy(rest: str) -> tuple[dict[str, str], list[str], str]:
        """(flags, sources, destination) of a COPY or ADD."""
        words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
        flags = {}
        while words and words[0].startswith("--"):
            name, _, value = words.pop(0)[2:].partition("=")
            flags[name] = value
        return flags, words[:-1], words[-1]


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return Dockerfile((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))


def test_dockerfile_is_multistage_on_python_311_slim(dockerfile):
    stages = dockerfile.stages()
    assert len(stages) >= 2
    for stage in stages:
        image = stage[0][1].split()[0]
        assert re.fullmatch(r"python:3\.11-slim(@sha256:[0-9a-f]{64})?", image), image
    assert not dockerfile.all("ADD"), "COPY, not ADD (no remote URLs or auto-extraction)"
    from packaging.specifiers import SpecifierSet

    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert "3.11" in SpecifierSet(requires), f"python:3.11 does not satisfy requires-python {requires}"


def test_dockerfile_runs_copilot_as_non_root(dockerfile, pod_spec):
    final = dockerfile.stages()[-1]
    users = [rest for k, rest in final if k == "USER"]
    assert users, "the final stage sets no USER (it would run as root)"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0, "a numeric non-root USER lets the kubelet verify runAsNonRoot"
    assert group == "" or (group.isdigit() and int(group) != 0)
    assert int(user) == _effective_security(pod_spec, pod_spec["containers"][0])["runAsUser"]
    assert json.loads(dockerfile.last("ENTRYPOINT")) == ["copilot"]
    assert json.loads(dockerfile.last("CMD"))[:1] == ["watch"] and "-A" in json.loads(dockerfile.last("CMD"))


def test_dockerfile_bakes_in_no_secret(dockerfile):
    for name, value in {**dockerfile.env(), **{k: v or "" for k, v in dockerfile.args().items()}}.items():
        assert not SENSITIVE_NAME.search(name), f"ENV/ARG {name} looks like a secret"
        assert not SENSITIVE_VALUE.search(value), f"ENV/ARG {name} holds what looks like a secret"
    assert not SENSITIVE_VALUE.search((DEPLOY / "Dockerfile").read_text())


def test_dockerfile_copies_only_what_exists_named_one_by_one(dockerfile):
    stage_names = [rest.split()[-1] for k, rest in dockerfile.instructions if k == "FROM" and " as " in rest.lower()]
    for rest in dockerfile.all("COPY"):
        flags, sources, _ = Dockerfile.copy(rest)
        assert sources, rest
        if "from" in flags:
            assert flags["from"] in stage_names, f"COPY --from={flags['from']} names no earlier stage"
            continue
        for source in sources:
            assert source.strip("./") and source not in ("*", "."), "no COPY of the whole context (there is no .dockerignore)"
            matches = list(ROOT.glob(source.rstrip("/"))) if any(c in source for c in "*?[") else [ROOT / source.rstrip("/")]
            assert matches and all(m.exists() for m in matches), f"COPY {source}: not in the repository"
            assert not any(fnmatch.fnmatch(m.name, p) for m in matches for p in (".env*", "*.kubeconfig", "kubeconfig", ".git")), source


def _copied(dockerfile: Dockerfile, stage: int) -> dict[str, str]:
    """source -> destination of a stage's COPYs from the context (destinations resolved against WORKDIR)."""
    copied, workdir = {}, "/"
    for k, rest in dockerfile.stages()[stage]:
        if k == "WORKDIR":
            workdir = str(Path(workdir) / rest)
        if k == "COPY":
            flags, sources, dest = Dockerfile.copy(rest)
            if "from" not in flags:
                for source in sources:
                    target = dest if dest.startswith("/") else str(Path(workdir) / dest)
                    copied[source.rstrip("/")] = target.rstrip("/") + ("/" + Path(source).name if dest.endswith("/") and not source.endswith("/") else "")
    return copied


def test_dockerfile_copies_what_pyproject_needs(dockerfile):
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    build = _copied(dockerfile, 0)
    assert "pyproject.toml" in build
    assert pyproject["project"]["readme"] in build
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        top = pattern.split(".")[0].rstrip("*")
        assert top in build, f"packages {pattern!r}: {top}/ is not copied"
    assert any("pip install --no-cache-dir ." in rest for k, rest in dockerfile.stages()[0] if k == "RUN")


def _place(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        shutil.copy2(source, dest)


def test_image_layout_finds_the_prompts(dockerfile, tmp_path):
    """Build the wheel from exactly what the build stage copies, install it as the image does, and load every
    prompt the way the image will: from site-packages, with the image's ENV."""
    try:
        import setuptools
        from packaging.version import Version
    except ImportError:
        setuptools = None
    if setuptools is None or Version(setuptools.__version__) < Version("70.1"):
        _need("building the wheel offline needs setuptools>=70.1 (bdist_wheel built in) in this environment")
    src, target = tmp_path / "src", tmp_path / "site-packages"
    workdir = [rest for k, rest in dockerfile.stages()[0] if k == "WORKDIR"][-1]
    for source, dest in _copied(dockerfile, 0).items():
        _place(ROOT / source, src / Path(dest).relative_to(workdir))
    out = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                          "--target", str(target), str(src)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (target / "bin" / "copilot").exists(), "the wheel installs no `copilot` script"

    env = dockerfile.env()
    runtime = _copied(dockerfile, -1)
    image_root = tmp_path / "image"
    for source, dest in runtime.items():
        _place(ROOT / source, image_root / dest.lstrip("/"))
    run_env = {k: v for k, v in os.environ.items() if k != "COPILOT_PROMPTS_DIR"}
    run_env["PYTHONPATH"] = str(target)
    probe = ("import copilot, copilot.prompts as p, sys; d = p.prompts_dir(); "
             "print(copilot.__file__); print(d); [p.load_prompt(f.stem) for f in sorted(d.glob('*.md'))] if d.is_dir() else sys.exit(9)")
    bare = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=run_env, cwd=tmp_path)
    assert bare.stdout.startswith(str(target)), "the probe must import the installed copy, not the repository"
    if bare.returncode == 0:
        return  # the package carries its prompts; nothing else is needed
    assert bare.returncode == 9, bare.stderr
    # Installed, prompts_dir() points beside site-packages: the image must say where it put them.
    assert "COPILOT_PROMPTS_DIR" in env, "the installed package cannot find prompts/; set COPILOT_PROMPTS_DIR"
    assert runtime.get("prompts") == env["COPILOT_PROMPTS_DIR"].rstrip("/"), "COPILOT_PROMPTS_DIR is not where prompts/ is copied"
    run_env["COPILOT_PROMPTS_DIR"] = str(image_root / env["COPILOT_PROMPTS_DIR"].lstrip("/"))
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=run_env, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    names = sorted(f.stem for f in (ROOT / "prompts").glob("*.md"))
    assert names and all((image_root / env["COPILOT_PROMPTS_DIR"].lstrip("/") / f"{n}.md").exists() for n in names)
