"""`pulumi up` for real: the Pulumi CLI and the pulumi-kubernetes provider built by
scripts/real-engine.sh, against a local control plane (etcd, kube-apiserver with RBAC and
PodSecurity, controller-manager, scheduler, kwok nodes shaped like the stack's pools).

`existing` runs its own stack program; each cloud stack runs its Kubernetes layer (the
cloud's cluster contract with its cloud-side values fixed) on nodes shaped like its pools.
These tests fail, never skip, when a program is missing: run scripts/real-engine.sh.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_infra.config import StackConfig, parse_stack_config
from llm_infra.contract import DEFAULT_GPU_POOL_LABEL
from llm_infra.config.gateway import issues_certificates
from llm_infra.kubernetes.inference_gateway import GATEWAY_CERT_SECRET, GATEWAY_NAME, crd_urls, installs_crds
from llm_infra.local.cluster import LocalCluster, gateway_crd_files, inline_kubeconfig, workload_crd_files
from llm_infra.local.engine import PROGRAMS, PulumiError, PulumiWorkspace, Run, python_project
from llm_infra.local.nodes import node_shapes

pytestmark = pytest.mark.real_engine

REPO = Path(__file__).resolve().parents[1]
STACKS_DIR = REPO / "stacks"
# `existing` runs stacks/__main__.py; a cloud stack runs its Kubernetes layer.
STACKS = ["existing", "dev", "gcp-dev", "azure-dev"]


def _config(stack: str) -> tuple[dict[str, Any], StackConfig]:
    doc = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())
    raw = {k.split(":", 1)[1]: v for k, v in (doc.get("config") or {}).items() if k.startswith("llm-infra:")}
    return doc, parse_stack_config(raw)


def _storage_class(config: StackConfig) -> str:
    if config.cloud == "existing":
        assert config.existing is not None
        return config.existing.storage_class
    module = {"aws": "llm_infra.aws.cluster", "gcp": "llm_infra.gcp.cluster", "azure": "llm_infra.azure.cluster"}
    import importlib

    return importlib.import_module(module[config.cloud]).STORAGE_CLASS


@dataclass
class Deployment:
    stack: str
    config: StackConfig
    cluster: LocalCluster
    workspace: PulumiWorkspace
    up: Run | None
    up_error: str | None
    timings: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module", params=STACKS)
def deployment(request, tmp_path_factory):
    stack = request.param
    doc, config = _config(stack)
    tmp = tmp_path_factory.mktemp(f"real-{stack}")
    cluster = LocalCluster(tmp / "cluster", nodes=node_shapes(config), storage_classes=[_storage_class(config)])
    started = time.monotonic()
    with cluster:
        timings = {"control_plane_s": time.monotonic() - started}
        # What an existing cluster has before `pulumi up` (README): the operators' CRDs and namespace.
        for crd in workload_crd_files():
            cluster.apply_crd(yaml.safe_load(crd.read_text()))
        if config.inference_gateway.enabled:
            # GKE installs the Gateway API and InferencePool CRDs itself (inference_gateway.GKE_CRDS_PREINSTALLED);
            # a stack that installs them fetches the pinned release manifests, which cannot be reached here.
            assert not installs_crds(config), f"{stack}: the stack would fetch {crd_urls()}"
            for crd in gateway_crd_files():
                cluster.apply_crd(yaml.safe_load(crd.read_text()))
        if config.monitoring.enabled and not config.monitoring.install_operators:
            cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": config.monitoring.namespace}})
        if issues_certificates(config) and not config.tls.install_cert_manager:
            # ... and cert-manager, whose namespace holds the stack CA's key pair.
            cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": config.tls.cert_manager_namespace}})
        program = STACKS_DIR if config.cloud == "existing" else PROGRAMS / "kubernetes_layer"
        project = python_project(tmp / "project", program)
        config_file = tmp / "stack-config.yaml"
        config_file.write_text(yaml.safe_dump({"config": doc.get("config") or {}}))
        workspace = PulumiWorkspace(tmp / "pulumi", project, project / "config")
        workspace.init_stack(stack, config_file,
                             secrets={"llm-infra:kubeconfig": inline_kubeconfig(cluster.server, tmp / "cluster" / "pki")})
        up, error = None, None
        try:
            up = workspace.up(watch=cluster.stuck)
            timings["up_s"] = up.seconds
        except PulumiError as exc:
            error = str(exc)
        deployment = Deployment(stack, config, cluster, workspace, up, error, timings)
        yield deployment
        report = os.environ.get("LLM_INFRA_REAL_ENGINE_TIMINGS")  # docs/benchmarks.md's numbers
        if report:
            with open(report, "a") as out:
                out.write(json.dumps({"stack": stack, **timings}) + "\n")
        if workspace.stack:
            workspace.run("destroy", "--yes", "--skip-preview", "--stack", workspace.stack, check=False)


def _deployed(deployment: Deployment) -> Deployment:
    """Every test of a stack needs its `pulumi up` to have finished."""
    if deployment.up_error:
        pytest.fail(f"{deployment.stack}: {deployment.up_error[:3000]}")
    return deployment


def test_every_object_is_accepted(deployment: Deployment) -> None:
    _deployed(deployment)
    resources = deployment.workspace.resources()
    kinds = {r["type"] for r in resources}
    assert "kubernetes:apps/v1:StatefulSet" in kinds, sorted(kinds)
    # The GPU admission policy was in force while the models' pods were created (docs/gpu-admission.md).
    assert "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding" in kinds, sorted(kinds)
    assert "kubernetes:monitoring.coreos.com/v1:ServiceMonitor" in kinds or not deployment.config.monitoring.enabled
    # The TLS objects, accepted by the API server against cert-manager's pinned CRDs (gcp-dev takes the
    # named TLS opt-out for its model pods; its Gateway's listener still has a certificate from the stack CA).
    tls_kinds = {"kubernetes:cert-manager.io/v1:Certificate", "kubernetes:cert-manager.io/v1:ClusterIssuer"}
    if issues_certificates(deployment.config):
        assert tls_kinds <= kinds
    else:
        assert not tls_kinds & kinds


def test_tenant_namespaces_enforce_restricted(deployment: Deployment) -> None:
    _deployed(deployment)
    for ns in {m.namespace for m in deployment.config.models}:
        labels = deployment.cluster.get(f"/api/v1/namespaces/{ns}")["metadata"].get("labels", {})
        assert labels.get("pod-security.kubernetes.io/enforce") == "restricted", (ns, labels)


def test_triton_pods_run_ready_on_their_pool(deployment: Deployment) -> None:
    _deployed(deployment)
    nodes = {n["metadata"]["name"]: n for n in deployment.cluster.get("/api/v1/nodes")["items"]}
    for model in deployment.config.models:
        pods = [p for p in deployment.cluster.pods(model.namespace)
                if p["metadata"].get("labels", {}).get("llm-infra.io/model") == model.name]
        assert pods, f"{model.name}: no pods"
        for pod in pods:
            node = pod["spec"].get("nodeName")
            assert node, f"{pod['metadata']['name']}: not scheduled ({pod['status'].get('conditions')})"
            assert nodes[node]["metadata"]["labels"].get(DEFAULT_GPU_POOL_LABEL) == model.gpu_pool, (node, model.gpu_pool)
            ready = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
            assert ready.get("Ready") == "True", (pod["metadata"]["name"], pod["status"])


def test_inference_routing_is_accepted_by_the_api_server(deployment: Deployment) -> None:
    """With `inference_gateway` on, the API server holds per model an InferencePool whose picker runs ready under
    Pod Security `restricted`, and an HTTPRoute to it on the stack's Gateway; off, a ClusterIP Service only."""
    _deployed(deployment)
    cluster, gw = deployment.cluster, deployment.config.inference_gateway
    for model in deployment.config.models:
        ns = model.namespace
        service = cluster.get(f"/api/v1/namespaces/{ns}/services/{model.name}")
        assert service["spec"]["type"] == "ClusterIP"
        if not gw.enabled:
            assert not [d for d in cluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments")["items"]
                        if d["metadata"]["name"] == f"{model.name}-epp"]
            continue
        pool = cluster.get(f"/apis/inference.networking.k8s.io/v1/namespaces/{ns}/inferencepools/{model.name}")
        assert pool["spec"]["selector"]["matchLabels"] == service["spec"]["selector"], pool["spec"]
        assert pool["spec"]["endpointPickerRef"]["name"] == f"{model.name}-epp"
        route = cluster.get(f"/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes/{model.name}")
        (rule,) = route["spec"]["rules"]
        assert rule["backendRefs"][0]["kind"] == "InferencePool" and rule["backendRefs"][0]["name"] == model.name
        assert route["spec"]["parentRefs"][0] == {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                                  "name": GATEWAY_NAME, "namespace": gw.namespace}
        epp = cluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{model.name}-epp")
        assert epp["status"].get("readyReplicas") == 1, epp["status"]
        role = cluster.get(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/{model.name}-epp")
        assert {r for rule in role["rules"] for r in rule["resources"]} == {"pods", "inferencepools"}
    if gw.enabled:
        gateway = cluster.get(f"/apis/gateway.networking.k8s.io/v1/namespaces/{gw.namespace}/gateways/{GATEWAY_NAME}")
        assert gateway["spec"]["gatewayClassName"] == (gw.gateway_class or "gke-l7-rilb")
        # HTTPS on 443 with the Secret a Certificate in the Gateway's namespace writes, both accepted by the
        # API server against the pinned Gateway API and cert-manager CRDs.
        (listener,) = gateway["spec"]["listeners"]
        assert (listener["protocol"], listener["port"]) == ("HTTPS", 443), listener
        assert listener["tls"]["certificateRefs"][0]["name"] == GATEWAY_CERT_SECRET
        cert = cluster.get(f"/apis/cert-manager.io/v1/namespaces/{gw.namespace}/certificates/{GATEWAY_CERT_SECRET}")
        assert cert["spec"]["secretName"] == GATEWAY_CERT_SECRET


def test_second_up_changes_nothing(deployment: Deployment) -> None:
    _deployed(deployment)
    again = deployment.workspace.run("up", "--yes", "--expect-no-changes", "--stack", deployment.stack, check=False)
    deployment.timings["noop_up_s"] = again.seconds
    assert again.returncode == 0, again.output[-6000:]


def test_destroy_removes_everything(deployment: Deployment) -> None:
    _deployed(deployment)
    destroyed = deployment.workspace.destroy()
    deployment.timings["destroy_s"] = destroyed.seconds
    assert destroyed.returncode == 0
    assert deployment.workspace.resources() == []
    for ns in {m.namespace for m in deployment.config.models}:
        try:
            phase = deployment.cluster.get(f"/api/v1/namespaces/{ns}")["status"]["phase"]
        except Exception as exc:  # 404: gone
            assert "404" in str(exc), exc
        else:
            assert phase == "Terminating", (ns, phase)
    deployment.workspace.stack = ""


# --- fit: the node shapes against the real scheduler -------------------------------------------

def _pod(name: str, node_pool: str, requests: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeSelector": {DEFAULT_GPU_POOL_LABEL: node_pool},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{"name": "c", "image": "registry.invalid/none:0",
                            "resources": {"requests": requests, "limits": {"nvidia.com/gpu": requests["nvidia.com/gpu"]}}}],
        },
    }


def _scheduled(cluster: LocalCluster, name: str, timeout: float = 60) -> tuple[bool, str]:
    deadline = time.monotonic() + timeout
    while True:
        pod = cluster.get(f"/api/v1/namespaces/default/pods/{name}")
        if pod["spec"].get("nodeName"):
            return True, pod["spec"]["nodeName"]
        for condition in pod["status"].get("conditions", []):
            if condition["type"] == "PodScheduled" and condition.get("reason") == "Unschedulable":
                return False, condition.get("message", "")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: neither scheduled nor unschedulable after {timeout}s")
        time.sleep(0.5)


def test_allocatable_is_what_the_scheduler_places(tmp_path: Path) -> None:
    """A pod asking for exactly a GPU node's allocatable (the cloud's reservation formula) is placed;
    one millicore or one MiB more is left Pending by the real scheduler."""
    _, config = _config("dev")
    pool = config.gpu_pools[0]
    nodes = [n for n in node_shapes(config, max_nodes_per_pool=1) if n.labels.get(DEFAULT_GPU_POOL_LABEL) == pool.name]
    alloc = nodes[0].allocatable
    cpu, memory = int(alloc["cpu"].rstrip("m")), int(alloc["memory"].rstrip("Mi"))
    with LocalCluster(tmp_path / "cluster", nodes=nodes) as cluster:
        cluster.request("POST", "/api/v1/namespaces/default/pods",
                        _pod("over-cpu", pool.name, {"cpu": f"{cpu + 1}m", "memory": "1Gi", "nvidia.com/gpu": "1"}))
        cluster.request("POST", "/api/v1/namespaces/default/pods",
                        _pod("over-memory", pool.name, {"cpu": "1", "memory": f"{memory + 1}Mi", "nvidia.com/gpu": "1"}))
        placed, why = _scheduled(cluster, "over-cpu")
        assert not placed and "Insufficient cpu" in why, why
        placed, why = _scheduled(cluster, "over-memory")
        assert not placed and "Insufficient memory" in why, why
        cluster.request("DELETE", "/api/v1/namespaces/default/pods/over-cpu?gracePeriodSeconds=0")
        cluster.request("DELETE", "/api/v1/namespaces/default/pods/over-memory?gracePeriodSeconds=0")
        cluster.request("POST", "/api/v1/namespaces/default/pods",
                        _pod("exact", pool.name, {"cpu": f"{cpu}m", "memory": f"{memory}Mi", "nvidia.com/gpu": "1"}))
        placed, node = _scheduled(cluster, "exact")
        assert placed and node == nodes[0].name, node


def _replica_placed(tmp: Path, config: StackConfig) -> tuple[bool, str]:
    """Whether the real scheduler places the first model's replica on a node of its pool shaped by
    `config`, with the stack's GPU-node DaemonSets' requests already on that node."""
    from llm_infra import fit

    model = config.models[0]
    nodes = [n for n in node_shapes(config, max_nodes_per_pool=1)
             if n.labels.get(DEFAULT_GPU_POOL_LABEL) == model.gpu_pool]
    cpu, memory, ephemeral = fit.replica_requests(model, tls=config.tls.enabled)
    with LocalCluster(tmp, nodes=nodes) as cluster:
        for name, requests in fit.gpu_node_daemonsets(config.cloud, config).items():
            pod = _pod(name, model.gpu_pool, {**requests, "nvidia.com/gpu": "0"})
            pod["spec"]["nodeName"] = nodes[0].name  # a DaemonSet pod is bound to its node
            cluster.request("POST", "/api/v1/namespaces/default/pods", pod)
        cluster.request("POST", "/api/v1/namespaces/default/pods", _pod("replica", model.gpu_pool, {
            "cpu": f"{cpu}m", "memory": f"{int(memory)}Mi", "ephemeral-storage": f"{int(ephemeral * 1024)}Mi",
            "nvidia.com/gpu": str(model.gpus_per_replica)}))
        return _scheduled(cluster, "replica")


def test_fit_rule_agrees_with_the_scheduler(tmp_path: Path) -> None:
    """What config validation's fit rule accepts (dev: the 8B replica on g6.2xlarge) the real scheduler
    places; the same stack on g6.xlarge, which the rule refuses, the scheduler leaves Pending."""
    from llm_infra import fit

    _, config = _config("dev")
    assert fit.fit_problems(config) == []
    placed, where = _replica_placed(tmp_path / "accepted", config)
    assert placed, where

    pool = config.gpu_pools[0].model_copy(update={"instance_type": "g6.xlarge"})
    smaller = config.model_copy(update={"gpu_pools": [pool, *config.gpu_pools[1:]]})
    assert fit.fit_problems(smaller), "the rule should refuse the 8B replica on g6.xlarge"
    placed, why = _replica_placed(tmp_path / "refused", smaller)
    assert not placed and "Insufficient" in why, why


def test_cluster_command_starts_and_stops_everything(tmp_path: Path) -> None:
    """`llm-infra cluster up` leaves a control plane shaped like the stack running; `down` ends every process."""
    import subprocess
    import sys

    directory = tmp_path / "cp"
    cli = [sys.executable, "-m", "llm_infra.cli", "cluster"]
    up = subprocess.run([*cli, "up", "--dir", str(directory), "--stack", "gcp-dev", "--crds"], cwd=REPO,
                        capture_output=True, text=True, timeout=300)
    state = json.loads((directory / "state.json").read_text()) if (directory / "state.json").exists() else {}
    pids = [p["pid"] for p in state.get("processes", {}).values()]
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        cluster = LocalCluster(directory)
        cluster.server = state["server"]
        nodes = {n["metadata"]["name"] for n in cluster.get("/api/v1/nodes")["items"]}
        assert nodes == {n.name for n in node_shapes(_config("gcp-dev")[1])}
        assert cluster.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/scaledobjects.keda.sh")
    finally:
        down = subprocess.run([*cli, "down", "--dir", str(directory)], cwd=REPO, capture_output=True, text=True,
                              timeout=120)
    assert down.returncode == 0, down.stderr
    assert len(pids) == 5 and not [p for p in pids if os.path.exists(f"/proc/{p}")]

