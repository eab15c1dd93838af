"""A local Kubernetes control plane from real binaries: etcd, kube-apiserver (RBAC, PodSecurity,
ServiceAccount tokens, NodeRestriction), kube-controller-manager, kube-scheduler and kwok
(simulated nodes whose pods become Ready without containers).

    with LocalCluster(Path("/tmp/x"), nodes=node_shapes(config)) as cluster:
        cluster.kubeconfig_path  # admin (system:masters) kubeconfig

Every program listens on a free loopback port; `stop()` ends each process it started and
waits for it. Binaries come from scripts/real-engine.sh's cache (MissingBinary otherwise).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from . import binaries, certs
from .nodes import NodeShape

SERVICE_CIDR = "10.96.0.0/16"
ADMISSION = "NodeRestriction,PodSecurity,ServiceAccount,NamespaceLifecycle,LimitRanger,ResourceQuota,DefaultStorageClass"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kubeconfig(server: str, ca: str, cert: str, key: str, user: str = "admin") -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "local",
        "clusters": [{"name": "local", "cluster": {"server": server, "certificate-authority": ca}}],
        "users": [{"name": user, "user": {"client-certificate": cert, "client-key": key}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
    }


def inline_kubeconfig(server: str, pki_dir: Path, name: str = "admin") -> str:
    """A kubeconfig with the certificates inline (what a stack's `kubeconfig` secret holds)."""
    import base64

    def b64(file: str) -> str:
        return base64.b64encode((pki_dir / file).read_bytes()).decode()

    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "local",
        "clusters": [{"name": "local", "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")}}],
        "users": [{"name": name, "user": {"client-certificate-data": b64(f"{name}.crt"),
                                          "client-key-data": b64(f"{name}.key")}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": name}}],
    })


# kwok's own stages (copied from its module by scripts/real-engine.sh): nodes become Ready and
# keep a heartbeat, pods on them become Ready, claims of the provisioning class get volumes.
KWOK_STAGES = ("node/fast/node-initialize.yaml", "node/heartbeat/node-heartbeat.yaml",
               "pod/fast/pod-ready.yaml", "pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml",
               "volume/fast/pvc-provision.yaml", "volume/fast/pv-bind.yaml", "volume/fast/pv-delete.yaml",
               "volume/fast/pvc-delete.yaml")
KWOK_STORAGE_CLASS = "kwok-volume"


def kwok_config(kwok_binary: str, storage_classes: list[str]) -> str:
    """kwok's stages as one config document stream; volume stages serve each of `storage_classes`."""
    stages = Path(kwok_binary).parent / "kwok-stages"
    if not stages.is_dir():
        raise binaries.MissingBinary(f"{stages}: kwok's stages not installed; run `scripts/real-engine.sh kwok`")
    docs = []
    classes = " || ".join(f"self.spec.storageClassName == '{c}'" for c in storage_classes or [KWOK_STORAGE_CLASS])
    for rel in KWOK_STAGES:
        text = (stages / rel).read_text()
        docs.append(text.replace(f"self.spec.storageClassName == '{KWOK_STORAGE_CLASS}'", f"({classes})"))
    return "\n---\n".join(docs)


# The CRDs the workload's objects need (KEDA's ScaledObject, the Prometheus operator's monitors and
# rules), from the engine cache's `crds` build.
WORKLOAD_CRDS = ("keda.sh_scaledobjects.yaml", "keda.sh_triggerauthentications.yaml",
                 "monitoring.coreos.com_servicemonitors.yaml", "monitoring.coreos.com_podmonitors.yaml",
                 "monitoring.coreos.com_prometheusrules.yaml",
                 "cert-manager.io_certificates.yaml", "cert-manager.io_issuers.yaml", "cert-manager.io_clusterissuers.yaml")


def workload_crd_files() -> list[Path]:
    directory = Path(binaries.find_dir("crds"), "crds")
    return [directory / name for name in WORKLOAD_CRDS]


# The CRDs inference routing needs (`inference_gateway`): the Gateway API's standard ones and the
# InferencePool, at the versions pinned in llm_infra.versions (what GKE installs itself, what the
# stack installs elsewhere), from the same `crds` build.
GATEWAY_CRDS = ("gateway.networking.k8s.io_gatewayclasses.yaml", "gateway.networking.k8s.io_gateways.yaml",
                "gateway.networking.k8s.io_httproutes.yaml", "gateway.networking.k8s.io_referencegrants.yaml",
                "inference.networking.k8s.io_inferencepools.yaml")


def gateway_crd_files() -> list[Path]:
    directory = Path(binaries.find_dir("crds"), "crds")
    return [directory / name for name in GATEWAY_CRDS]


class LocalCluster:
    def __init__(self, directory: Path, nodes: list[NodeShape] | None = None,
                 storage_classes: list[str] | None = None) -> None:
        self.directory = Path(directory)
        self.nodes = nodes or []
        self.storage_classes = storage_classes or []
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self.server = ""

    # --- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 180) -> None:
        bins = {p: binaries.find(p) for p in ("etcd", "kube-apiserver", "kube-controller-manager",
                                               "kube-scheduler", "kwok")}
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        pki = d / "pki"
        certs.generate(pki, {
            "admin": ("llm-infra-admin", "system:masters"),
            "controller-manager": ("system:kube-controller-manager", None),
            "scheduler": ("system:kube-scheduler", None),
            "kwok": ("kwok-controller", "system:masters"),
        })
        for name in ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok"):
            self.ports[name] = free_port()
        self.server = f"https://127.0.0.1:{self.ports['apiserver']}"
        configs = {}
        for user in ("admin", "controller-manager", "scheduler", "kwok"):
            path = d / f"{user}.kubeconfig"
            path.write_text(json.dumps(kubeconfig(self.server, str(pki / "ca.crt"), str(pki / f"{user}.crt"),
                                                  str(pki / f"{user}.key"), user)))
            configs[user] = str(path)
        self.kubeconfig_path = configs["admin"]

        etcd_url = f"http://127.0.0.1:{self.ports['etcd']}"
        self._spawn("etcd", [
            bins["etcd"], "--data-dir", str(d / "etcd"), "--name", "local",
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", f"http://127.0.0.1:{self.ports['etcd-peer']}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.ports['etcd-peer']}",
            "--initial-cluster", f"local=http://127.0.0.1:{self.ports['etcd-peer']}",
            "--unsafe-no-fsync", "--quota-backend-bytes", str(2 * 1024**3),
        ])
        self._wait_http(f"{etcd_url}/health", timeout)
        self._spawn("kube-apiserver", [
            bins["kube-apiserver"], "--etcd-servers", etcd_url,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", str(self.ports["apiserver"]),
            "--tls-cert-file", str(pki / "apiserver.crt"), "--tls-private-key-file", str(pki / "apiserver.key"),
            "--client-ca-file", str(pki / "ca.crt"),
            "--service-account-key-file", str(pki / "sa.pub"),
            "--service-account-signing-key-file", str(pki / "sa.key"),
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--api-audiences", "https://kubernetes.default.svc.cluster.local",
            "--authorization-mode", "Node,RBAC",
            "--enable-admission-plugins", ADMISSION,
            "--service-cluster-ip-range", SERVICE_CIDR,
            "--endpoint-reconciler-type", "none",
            "--allow-privileged=true",
            "--profiling=false",
        ])
        self._wait_ready(timeout)
        common = ["--leader-elect=false", "--bind-address", "127.0.0.1", "--profiling=false"]
        self._spawn("kube-controller-manager", [
            bins["kube-controller-manager"], "--kubeconfig", configs["controller-manager"],
            "--authentication-kubeconfig", configs["controller-manager"],
            "--authorization-kubeconfig", configs["controller-manager"],
            "--secure-port", str(self.ports["controller-manager"]), *common,
            "--service-account-private-key-file", str(pki / "sa.key"),
            "--root-ca-file", str(pki / "ca.crt"),
            "--use-service-account-credentials=true",
            "--service-cluster-ip-range", SERVICE_CIDR,
            "--controllers", "*",
        ])
        self._spawn("kube-scheduler", [
            bins["kube-scheduler"], "--kubeconfig", configs["scheduler"],
            "--authentication-kubeconfig", configs["scheduler"], "--authorization-kubeconfig", configs["scheduler"],
            "--secure-port", str(self.ports["scheduler"]), *common,
        ])
        (d / "kwok.yaml").write_text(kwok_config(bins["kwok"], self.storage_classes))
        self._spawn("kwok", [
            bins["kwok"], "--kubeconfig", configs["kwok"], "--config", str(d / "kwok.yaml"),
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--node-ip=10.0.0.1", "--cidr=10.0.1.0/24",
            "--server-address", f"127.0.0.1:{self.ports['kwok']}",
        ])
        for node in self.nodes:
            self.apply(node.manifest())
        for name in self.storage_classes:
            self.apply({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
                        "provisioner": "kwok.x-k8s.io/volume", "reclaimPolicy": "Delete",
                        "volumeBindingMode": "Immediate", "allowVolumeExpansion": True})
        self.wait_nodes_ready(timeout)
        self._wait_for(lambda: self._exists("/api/v1/namespaces/default/serviceaccounts/default"), timeout,
                       "the controller-manager's default service account")

    def _exists(self, path: str) -> bool:
        try:
            self.get(path)
            return True
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise

    def _wait_for(self, check, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not there after {timeout}s")
            time.sleep(0.5)

    def stop(self) -> None:
        """End each process started, newest first (kwok ... etcd), waiting for each."""
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()

    # --- helpers ---------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.directory / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.processes[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                start_new_session=True)

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.directory / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    def _wait_http(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} not up after {timeout}s") from None
                time.sleep(0.3)

    def _ssl(self) -> ssl.SSLContext:
        pki = self.directory / "pki"
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        return context

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method,
                                     headers={"Content-Type": content_type, "Accept": "application/json"})
        with urllib.request.urlopen(req, context=self._ssl(), timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            try:
                req = urllib.request.Request(self.server + "/readyz")
                with urllib.request.urlopen(req, context=self._ssl(), timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"kube-apiserver not ready after {timeout}s")
            time.sleep(0.5)

    def apply(self, manifest: dict[str, Any]) -> Any:
        """Server-side apply of one object (core/v1 Nodes, apiextensions CRDs, anything with a known path)."""
        kind, api = manifest["kind"], manifest["apiVersion"]
        plural = {"Node": "nodes", "CustomResourceDefinition": "customresourcedefinitions",
                  "Namespace": "namespaces", "StorageClass": "storageclasses",
                  "PersistentVolume": "persistentvolumes"}[kind]
        base = f"/api/{api}" if "/" not in api else f"/apis/{api}"
        name = manifest["metadata"]["name"]
        result = self.request("PATCH", f"{base}/{plural}/{name}?fieldManager=llm-infra-local&force=true", manifest,
                              content_type="application/apply-patch+yaml")
        if kind == "Node" and "status" in manifest:
            self.request("PATCH", f"{base}/nodes/{name}/status?fieldManager=llm-infra-local&force=true",
                         {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                          "status": manifest["status"]},
                         content_type="application/apply-patch+yaml")
        return result

    def apply_crd(self, crd: dict[str, Any], timeout: float = 60) -> None:
        """Install a CustomResourceDefinition and wait until it is Established."""
        self.apply(crd)
        name = crd["metadata"]["name"]
        deadline = time.monotonic() + timeout
        while True:
            got = self.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            conditions = (got.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} not Established after {timeout}s")
            time.sleep(0.3)

    def wait_nodes_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        want = {n.name for n in self.nodes}
        while want:
            self._check_alive()
            ready = set()
            for node in self.get("/api/v1/nodes")["items"]:
                conditions = node["status"].get("conditions", [])
                taints = {t["key"] for t in node["spec"].get("taints") or []}
                # Ready, and the node lifecycle controller has lifted the not-ready taint.
                if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) and \
                        "node.kubernetes.io/not-ready" not in taints:
                    ready.add(node["metadata"]["name"])
            if want <= ready:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"nodes not Ready after {timeout}s: {sorted(want - ready)}")
            time.sleep(0.5)

    def stuck(self, grace: float = 60) -> str | None:
        """Why the cluster cannot converge, if it can't: a pod the scheduler has found no node for
        since `grace` seconds, or a controller refused creating pods (e.g. by PodSecurity admission)."""
        now = time.time()
        for event in self.get("/api/v1/events")["items"]:
            if event.get("reason") == "FailedCreate":
                obj = event["involvedObject"]
                return f"{obj['kind']} {obj.get('namespace')}/{obj['name']}: {event.get('message')}"
        for pod in self.pods():
            for condition in pod["status"].get("conditions", []):
                if condition["type"] == "PodScheduled" and condition.get("reason") == "Unschedulable":
                    since = condition.get("lastTransitionTime")
                    started = time.mktime(time.strptime(since, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone if since else now
                    if now - started >= grace:
                        meta = pod["metadata"]
                        return f"pod {meta['namespace']}/{meta['name']} unschedulable: {condition.get('message')}"
        return None

    def pods(self, namespace: str | None = None) -> list[dict[str, Any]]:
        path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
        return self.get(path)["items"]


def env_path() -> str:
    """PATH with the engine cache first (for running the real pulumi)."""
    return binaries.search_path() + os.pathsep + os.environ.get("PATH", "")


# --- `llm-infra cluster up/down`: a control plane that outlives the command ------------------

def up(directory: Path, stack_config: Path | None, crd_files: list[Path]) -> LocalCluster:
    """Start a control plane shaped by a stack config file (Pulumi.<stack>.yaml) and leave it running;
    `down(directory)` stops it. Writes `state.json` with each process's pid and binary."""
    import yaml

    from ..config import parse_stack_config
    from .nodes import node_shapes

    nodes: list[NodeShape] = []
    classes: list[str] = []
    if stack_config is not None:
        doc = yaml.safe_load(Path(stack_config).read_text()) or {}
        raw = {k.split(":", 1)[1]: v for k, v in (doc.get("config") or {}).items() if k.startswith("llm-infra:")}
        config = parse_stack_config(raw)
        nodes = node_shapes(config)
        if config.cloud == "existing" and config.existing is not None:
            classes = [config.existing.storage_class]
        else:
            import importlib

            classes = [importlib.import_module(f"llm_infra.{config.cloud}.cluster").STORAGE_CLASS]
    cluster = LocalCluster(Path(directory), nodes=nodes, storage_classes=classes)
    try:
        cluster.start()
        for crd in crd_files:
            cluster.apply_crd(yaml.safe_load(Path(crd).read_text()))
    except BaseException:
        cluster.stop()
        raise
    state = {"server": cluster.server, "kubeconfig": cluster.kubeconfig_path,
             "processes": {n: {"pid": p.pid, "binary": p.args[0] if isinstance(p.args, list) else p.args} for n, p in cluster.processes.items()}}
    (Path(directory) / "state.json").write_text(json.dumps(state, indent=2))
    return cluster


def down(directory: Path, timeout: float = 20) -> list[str]:
    """Stop the processes `up` started in `directory` (each checked against its recorded binary)."""
    state_file = Path(directory) / "state.json"
    if not state_file.exists():
        return []
    state = json.loads(state_file.read_text())
    stopped = []
    for name, proc in reversed(list(state["processes"].items())):
        pid = proc["pid"]
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue  # already gone
        if os.path.realpath(proc["binary"]) != exe:
            continue  # the pid now belongs to another program
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.2)
        if os.path.exists(f"/proc/{pid}"):
            os.kill(pid, signal.SIGKILL)
        stopped.append(name)
    state_file.unlink()
    return stopped
