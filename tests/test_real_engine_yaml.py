"""The YAML example (examples/yaml-consumer) under the real pulumi-yaml language host and the real
Pulumi CLI, against a local control plane: the package is the one this repository serves
(`PulumiPlugin.yaml`, `python -m llm_infra`), started by the engine through the Python language
host's RunPlugin. Fails, never skips, when a program is missing (run scripts/real-engine.sh).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from llm_infra import fit
from llm_infra.config import parse_stack_config
from llm_infra.contract import DEFAULT_GPU_POOL_LABEL
from llm_infra.local.cluster import LocalCluster, inline_kubeconfig, workload_crd_files
from llm_infra.local.engine import PulumiWorkspace
from llm_infra.local.nodes import node_shapes

pytestmark = pytest.mark.real_engine

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "yaml-consumer" / "Pulumi.yaml"
ROLE = "arn:aws:iam::123456789012:role/mistral-weights-reader"


def _example_as_stack() -> tuple[dict, object]:
    """The example's model as an `existing` stack config whose `l4` pool declares its nodes (as
    g6.2xlarge: 8 vCPU, 32 GiB), so the kwok nodes have that shape and fit checks the replica."""
    program = yaml.safe_load(EXAMPLE.read_text())
    props = program["resources"]["mistral"]["properties"]["model"]
    model = {"name": props["name"], "backend": props["backend"], "weights_uri": props["weightsUri"],
             "weights_size_gib": props["weightsSizeGib"], "revision": props["revision"],
             "gpu_pool": props["gpuPool"], "min_replicas": props["minReplicas"],
             "max_replicas": props["maxReplicas"], "clients": props["clients"], "namespace": "llm-serving"}
    config = parse_stack_config({
        "cloud": "existing", "environment": "lab", "production": False, "models": [model],
        "gpu_pools": [{"name": props["gpuPool"], "gpu": "nvidia-l4", "max_nodes": 2}],
        "existing": {"storage_class": "encrypted-ssd",
                     "model_identities": {props["name"]: {"eks.amazonaws.com/role-arn": ROLE}},
                     "gpu_nodes": {props["gpuPool"]: {"cpu": "7910m", "memory": "29317Mi",
                                                      "ephemeral_storage": "100Gi"}}},
    })
    return program, config


def test_yaml_example_up_noop_destroy_under_the_real_pulumi_yaml(tmp_path: Path) -> None:
    program, config = _example_as_stack()
    assert fit.fit_problems(config) == []
    with LocalCluster(tmp_path / "cluster", nodes=node_shapes(config), storage_classes=["encrypted-ssd"]) as cluster:
        # What an existing cluster has before `pulumi up` (README): the operators' CRDs and namespace.
        for crd in workload_crd_files():
            cluster.apply_crd(yaml.safe_load(crd.read_text()))
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": config.monitoring.namespace}})
        project = tmp_path / "project"
        project.mkdir()
        # The example as shipped, its package pointing at this checkout (it says `../..`).
        text = EXAMPLE.read_text()
        assert "llm-infra: ../..\n" in text
        (project / "Pulumi.yaml").write_text(text.replace("llm-infra: ../..\n", f"llm-infra: {REPO}\n"))
        workspace = PulumiWorkspace(tmp_path / "pulumi", project)
        workspace.init_stack("dev", secrets={"kubeconfig": inline_kubeconfig(cluster.server, tmp_path / "cluster" / "pki")})
        workspace.run("config", "set", "--stack", "dev", "roleArn", ROLE)

        started = time.monotonic()
        up = workspace.up(watch=cluster.stuck)
        assert up.returncode == 0
        print(f"yaml-consumer: pulumi up {time.monotonic() - started:.0f}s")
        assert "pulumi-language-yaml" in up.output  # the real YAML host ran the program

        # Every object accepted; the model's pods scheduled onto the l4 pool and Ready.
        types = {r["type"] for r in workspace.resources()}
        assert {"llm-infra:index:TritonLlmWorkload", "llm-infra:index:TenantNamespace",
                "llm-infra:index:GpuSoftwareLayer", "kubernetes:apps/v1:StatefulSet"} <= types, sorted(types)
        namespace = cluster.get("/api/v1/namespaces/llm-serving")["metadata"]["labels"]
        assert namespace.get("pod-security.kubernetes.io/enforce") == "restricted", namespace
        assert cluster.get("/api/v1/namespaces/llm-serving/resourcequotas/gpu-quota")["spec"]["hard"] == {
            "requests.nvidia.com/gpu": "4"}
        nodes = {n["metadata"]["name"]: n for n in cluster.get("/api/v1/nodes")["items"]}
        pods = [p for p in cluster.pods("llm-serving")
                if p["metadata"].get("labels", {}).get("llm-infra.io/model") == "mistral-7b"]
        assert pods, "no mistral-7b pods"
        for pod in pods:
            node = pod["spec"].get("nodeName")
            assert node and nodes[node]["metadata"]["labels"][DEFAULT_GPU_POOL_LABEL] == "l4", pod["status"]
            ready = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
            assert ready.get("Ready") == "True", pod["status"]

        outputs = workspace.outputs()
        # TLS is on by default: the terminator beside Triton serves the endpoint (docs/tls.md).
        assert outputs["httpEndpoint"] == "https://mistral-7b.llm-serving.svc.cluster.local:8000", outputs
        assert outputs["servingNamespace"] == "llm-serving"

        again = workspace.run("up", "--yes", "--expect-no-changes", "--stack", "dev", check=False)
        assert again.returncode == 0, again.output[-6000:]
        print(f"yaml-consumer: no-op up {again.seconds:.0f}s")

        destroyed = workspace.destroy()
        assert destroyed.returncode == 0
        assert workspace.resources() == []
        print(f"yaml-consumer: destroy {destroyed.seconds:.0f}s")
