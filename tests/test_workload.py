"""The Triton workload's guarantees (SECURITY.md 31-39), through the mock-engine harness."""

from __future__ import annotations

import math
import os
import stat
import subprocess
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pytest

from llm_infra.config import ModelConfig, MonitoringConfig
from llm_infra.contract import ClusterContract, ModelIdentityRequest, WorkloadIdentity
from llm_infra.triton import metrics
from llm_infra.triton.cache_sync import sync_env, sync_script
from llm_infra.triton.workload import TritonLlmWorkload
from llm_infra.testing import ProgramResult, run_program

from _stacks import STACKS, stack

MODEL = dict(
    name="llama",
    namespace="llm-serving",
    backend="vllm",
    weights_uri="s3://models-bucket/llama",
    weights_size_gib=16.0,
    revision="abc123",
    gpu_pool="h100",
    gpus_per_replica=2,
    min_replicas=2,
    max_replicas=4,
    clients=["frontend"],
)


def run_workload(production: bool = True, metadata_identity_egress: bool = False,
                 workload_tolerations: tuple = (), store_egress_cidrs: tuple = (), **overrides) -> ProgramResult:
    model = ModelConfig.model_validate({**MODEL, **overrides})
    bound: list[ModelIdentityRequest] = []

    def program() -> None:
        provider = k8s.Provider("cluster-k8s", kubeconfig=pulumi.Output.secret("kubeconfig"))

        def bind(request: ModelIdentityRequest, _opts: pulumi.ResourceOptions) -> WorkloadIdentity:
            bound.append(request)
            return WorkloadIdentity(service_account_annotations={"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/llama"})

        contract = ClusterContract(
            provider=provider,
            storage_class="llm-cache-encrypted",
            encryption_key="arn:aws:kms:eu-west-1:1:key/k",
            manages_device_plugin=False,
            bind_model_identity=bind,
            metadata_identity_egress=metadata_identity_egress,
            workload_tolerations=workload_tolerations,
            store_egress_cidrs=tuple(store_egress_cidrs),
        )
        TritonLlmWorkload("llama", {"model": model, "cluster": contract.workload_cluster(), "production": production,
                                    "monitoring": MonitoringConfig()}, bind_identity=contract.bind_model_identity)

    result = run_program(program)
    result.bound = bound  # type: ignore[attr-defined]
    return result


@pytest.fixture(scope="module")
def prod() -> ProgramResult:
    return run_workload()


def pod_spec(result: ProgramResult, name: str = "llama") -> dict:
    return result.k8s("StatefulSet", name)["spec"]["template"]["spec"]


def container(result: ProgramResult, name: str = "triton", model: str = "llama") -> dict:
    spec = pod_spec(result, model)
    return next(c for c in spec["containers"] + spec["initContainers"] if c["name"] == name)


def test_every_kubernetes_object_uses_the_clusters_explicit_provider(prod):
    provider = prod.one("pulumi:providers:kubernetes")
    objects = prod.kubernetes_objects()
    assert len(objects) >= 10
    for obj in objects:
        assert obj.provider and obj.provider.startswith(provider.urn + "::"), (obj.type, obj.name)
        assert any(a.type == "llm-infra:index:TritonLlmWorkload" for a in prod.ancestors(obj)), obj.name


def test_triton_and_sync_containers_are_hardened(prod):
    pod = pod_spec(prod)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for name in ("triton", "cache-sync"):
        sc = container(prod, name)["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["privileged"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not any("hostPath" in v for v in pod["volumes"])


def test_triton_requests_and_limits_its_gpus_and_lands_on_its_pool(prod):
    resources = container(prod)["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"] == "2"
    assert resources["requests"]["memory"] == resources["limits"]["memory"]
    pod = pod_spec(prod)
    assert pod["nodeSelector"] == {"llm-infra.io/gpu-pool": "h100"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]


def test_triton_is_locked_down(prod):
    args = container(prod)["args"]
    assert "--model-control-mode=none" in args
    assert "--strict-readiness=true" in args
    assert "--model-repository=/models" in args
    assert any(a.startswith("--exit-timeout-secs=") for a in args)


def test_grace_period_covers_pre_stop_and_triton_exit_timeout(prod):
    triton = container(prod)
    exit_timeout = int(next(a for a in triton["args"] if a.startswith("--exit-timeout-secs=")).split("=")[1])
    pre_stop = int(triton["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod_spec(prod)["terminationGracePeriodSeconds"] >= pre_stop + exit_timeout + 10


def test_probes_use_triton_health_endpoints_and_startup_budget_covers_the_load(prod):
    triton = container(prod)
    assert triton["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert triton["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert triton["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    budget = triton["startupProbe"]["periodSeconds"] * triton["startupProbe"]["failureThreshold"]
    # 16 GiB read at 200 MiB/s plus start-up, with margin.
    assert budget >= 16 * 1024 / 200 + 180


def test_startup_budget_grows_with_weights_and_honours_an_explicit_budget():
    small = ModelConfig.model_validate({**MODEL, "weights_size_gib": 1.0})
    large = ModelConfig.model_validate({**MODEL, "weights_size_gib": 400.0})
    assert large.effective_max_load_seconds > small.effective_max_load_seconds
    result = run_workload(max_load_seconds=1800)
    probe = container(result)["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] == 1800


def test_pods_tolerate_the_extra_taints_the_cloud_puts_on_gpu_nodes():
    spot = {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot",
            "effect": "NoSchedule"}
    tolerations = pod_spec(run_workload(workload_tolerations=(spot,)))["tolerations"]
    assert tolerations == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, spot]


def test_dev_shm_is_a_bounded_memory_volume(prod):
    dshm = next(v for v in pod_spec(prod)["volumes"] if v["name"] == "dshm")
    assert dshm["emptyDir"]["medium"] == "Memory"
    assert dshm["emptyDir"]["sizeLimit"] == "2Gi"


def test_each_replica_caches_weights_on_the_encrypted_storage_class(prod):
    spec = prod.k8s("StatefulSet", "llama")["spec"]
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["storageClassName"] == "llm-cache-encrypted"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # Scaling down keeps the caches, so scaling up again does not download.
    assert spec["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Retain"
    mounts = {m["name"]: m["mountPath"] for m in container(prod)["volumeMounts"]}
    assert mounts["model-cache"] == "/cache"


def test_model_service_account_is_bound_to_the_models_identity_only(prod):
    sa = prod.k8s("ServiceAccount", "triton-llama", "llm-serving")
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/llama"}
    assert pod_spec(prod)["serviceAccountName"] == "triton-llama"
    assert [(r.model, r.namespace, r.service_account, r.weights_uri) for r in prod.bound] == [
        ("llama", "llm-serving", "triton-llama", "s3://models-bucket/llama")
    ]


def test_service_is_cluster_ip_only(prod):
    for svc in prod.kubernetes_objects("Service"):
        assert svc.inputs["spec"].get("type", "ClusterIP") == "ClusterIP"
        assert all("nodePort" not in p for p in svc.inputs["spec"]["ports"])


def test_network_policy_admits_only_clients_and_monitoring_and_blocks_node_identity(prod):
    policy = prod.k8s("NetworkPolicy", "llama-triton", "llm-serving")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    sources = []
    for rule in policy["ingress"]:
        for peer in rule["from"]:
            sel = peer["namespaceSelector"]
            names = sel.get("matchLabels", {}).get("kubernetes.io/metadata.name")
            names = [names] if names else sel["matchExpressions"][0]["values"]
            sources.append((tuple(names), tuple(sorted(p["port"] for p in rule["ports"]))))
    assert sources == [(("frontend",), (8000, 8001)), (("monitoring",), (8002,))]
    for rule in policy["egress"]:
        for peer in rule["to"]:
            block = peer["ipBlock"]
            assert block["cidr"] != "169.254.169.254/32"
            if block["cidr"] == "0.0.0.0/0":
                assert "169.254.0.0/16" in block["except"]


def test_metadata_server_is_reachable_only_where_it_serves_workload_identity():
    gke_like = run_workload(metadata_identity_egress=True)
    egress = gke_like.k8s("NetworkPolicy", "llama-triton")["spec"]["egress"]
    assert {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"protocol": "TCP", "port": 80}]} in egress


def test_pdb_allows_one_replica_down_at_a_time(prod):
    pdb = prod.k8s("PodDisruptionBudget", "llama", "llm-serving")["spec"]
    assert pdb["maxUnavailable"] == 1
    assert pdb["selector"]["matchLabels"]["llm-infra.io/model"] == "llama"


def test_production_spreads_replicas_strictly_across_zones(prod):
    zone = next(c for c in pod_spec(prod)["topologySpreadConstraints"]
                if c["topologyKey"] == "topology.kubernetes.io/zone")
    assert zone["whenUnsatisfiable"] == "DoNotSchedule"
    dev = run_workload(production=False)
    zone = next(c for c in pod_spec(dev)["topologySpreadConstraints"]
                if c["topologyKey"] == "topology.kubernetes.io/zone")
    assert zone["whenUnsatisfiable"] == "ScheduleAnyway"


def test_autoscaling_uses_tritons_queue_metrics_never_cpu(prod):
    so = prod.k8s("ScaledObject", "llama", "llm-serving")["spec"]
    assert so["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "llama"}
    assert (so["minReplicaCount"], so["maxReplicaCount"]) == (2, 4)
    assert "idleReplicaCount" not in so
    kinds = {t["type"] for t in so["triggers"]}
    assert kinds == {"prometheus"}  # never cpu or memory
    ratio = next(t for t in so["triggers"] if t["name"] == "queue-compute-ratio")
    assert ratio["metadata"]["query"] == metrics.queue_compute_ratio("llm-serving", "llama")
    assert metrics.QUEUE_DURATION_US in ratio["metadata"]["query"]
    assert metrics.COMPUTE_INFER_DURATION_US in ratio["metadata"]["query"]
    # KEDA owns the replica count; Pulumi does not set it.
    assert "replicas" not in prod.k8s("StatefulSet", "llama")["spec"]
    assert not prod.kubernetes_objects("HorizontalPodAutoscaler")


def test_vllm_models_also_scale_on_the_engines_waiting_queue(prod):
    waiting = next(t for t in prod.k8s("ScaledObject", "llama")["spec"]["triggers"]
                   if t["name"] == "vllm-requests-waiting")
    assert waiting["metricType"] == "AverageValue" and waiting["metadata"]["threshold"] == "4"
    assert waiting["metadata"]["query"] == 'sum(vllm:num_requests_waiting{namespace="llm-serving",model="llama"})'
    python = run_workload(backend="python", python_model="builtin:toy_llm")
    assert "vllm-requests-waiting" not in {t["name"] for t in python.k8s("ScaledObject", "llama")["spec"]["triggers"]}


def test_queue_time_trigger_only_when_the_owner_sets_a_threshold(prod):
    names = {t["name"] for t in prod.k8s("ScaledObject", "llama")["spec"]["triggers"]}
    assert names == {"queue-compute-ratio", "vllm-requests-waiting"}
    timed = run_workload(max_queue_ms=1500)
    trigger = next(t for t in timed.k8s("ScaledObject", "llama")["spec"]["triggers"] if t["name"] == "queue-ms-per-request")
    assert trigger["metadata"]["threshold"] == "1500"
    assert trigger["metadata"]["query"] == metrics.queue_ms_per_request("llm-serving", "llama")


def test_scale_to_zero_wakes_on_a_schedule_only_outside_production():
    dev = run_workload(production=False, min_replicas=0, max_replicas=2,
                       active_hours={"timezone": "UTC", "start": "0 8 * * *", "end": "0 18 * * *"})
    so = dev.k8s("ScaledObject", "llama")["spec"]
    assert so["idleReplicaCount"] == 0 and so["minReplicaCount"] == 1
    cron = next(t for t in so["triggers"] if t["type"] == "cron")
    assert cron["metadata"]["start"] == "0 8 * * *"


def test_fixed_replicas_need_no_autoscaler():
    fixed = run_workload(min_replicas=2, max_replicas=2)
    assert not fixed.kubernetes_objects("ScaledObject")
    assert fixed.k8s("StatefulSet", "llama")["spec"]["replicas"] == 2


def test_monitoring_objects_watch_the_autoscaling_signal(prod):
    sm = prod.k8s("ServiceMonitor", "llama", "llm-serving")["spec"]
    assert sm["endpoints"][0]["port"] == "metrics"
    rules = prod.k8s("PrometheusRule", "llama-triton", "llm-serving")["spec"]["groups"][0]["rules"]
    assert {r.get("record") for r in rules} >= {metrics.RATIO_RECORD, metrics.QUEUE_MS_RECORD}
    assert {r.get("alert") for r in rules} >= {"TritonQueueSaturated", "TritonInferenceFailures"}
    dashboard = prod.k8s("ConfigMap", "llm-infra-llama-dashboard", "monitoring")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_model_repository_is_mounted_read_only_with_its_generated_files(prod):
    spec = pod_spec(prod)
    volume = next(v for v in spec["volumes"] if v["name"] == "model-repository")
    paths = {i["path"] for i in volume["configMap"]["items"]}
    assert paths == {"config.pbtxt", "1/model.json"}
    mount = next(m for m in container(prod)["volumeMounts"] if m["name"] == "model-repository")
    assert mount == {"name": "model-repository", "mountPath": "/models/llama", "readOnly": True}


# --- the cache-sync script, run for real with a stand-in for the cloud CLI -------------


def _run_sync(tmp_path: Path, revision: str | None) -> int:
    """Run the init container's script; return how many times it invoked the copy tool."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    tool = bin_dir / "aws"
    # Stand-in for `aws s3 sync`: records the call and copies one file into the target dir.
    tool.write_text(
        f'#!/bin/sh\necho "$@" >> {calls}\nfor dest; do :; done\nmkdir -p "$dest"\necho w > "$dest/model.safetensors"\n'
    )
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    env = {**sync_env("s3://bucket/llama", revision), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env = {k: v.replace("/cache", str(tmp_path / "cache")) for k, v in env.items()}
    subprocess.run(["/bin/sh", "-c", sync_script("s3://bucket/llama")], env=env, check=True, capture_output=True)
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def test_cache_sync_skips_the_download_when_the_pinned_revision_is_cached(tmp_path):
    assert _run_sync(tmp_path, "rev1") == 1
    assert (tmp_path / "cache" / "weights" / "model.safetensors").exists()
    assert _run_sync(tmp_path, "rev1") == 1  # restarted replica: no download
    assert _run_sync(tmp_path, "rev2") == 2  # new revision: sync again


def test_cache_sync_without_a_pin_always_runs_the_incremental_sync(tmp_path):
    assert _run_sync(tmp_path, None) == 1
    assert _run_sync(tmp_path, None) == 2


# --- the same guarantees on every shipped stack ---------------------------------------


@pytest.mark.parametrize("name", STACKS)
def test_every_triton_pod_in_the_stack_is_hardened_and_budgeted(name):
    result = stack(name)
    statefulsets = result.kubernetes_objects("StatefulSet")
    assert statefulsets
    for sts in statefulsets:
        pod = sts.inputs["spec"]["template"]["spec"]
        triton = next(c for c in pod["containers"] if c["name"] == "triton")
        assert triton["securityContext"]["readOnlyRootFilesystem"] is True
        assert int(triton["resources"]["limits"]["nvidia.com/gpu"]) >= 1
        exit_timeout = int(next(a for a in triton["args"] if a.startswith("--exit-timeout-secs=")).split("=")[1])
        pre_stop = int(triton["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert pod["terminationGracePeriodSeconds"] >= pre_stop + exit_timeout + 10
        probe = triton["startupProbe"]
        assert probe["periodSeconds"] * probe["failureThreshold"] >= 180
        assert math.isfinite(probe["failureThreshold"])


@pytest.mark.parametrize(("cluster", "message"), [
    ({"provider": "default", "storage_class": "encrypted"}, r"cluster\.provider: expected an explicit pulumi_kubernetes"),
    ({"storage_class": "encrypted"}, r"cluster\.provider: required"),
    ({"provider": None, "storage_class": "encrypted", "zone": "x"}, r"cluster\.provider: required"),
])
def test_a_workload_refuses_a_cluster_without_an_explicit_provider_before_registering_anything(cluster, message):
    from llm_infra.config import ConfigError

    registered: list[str] = []
    with pytest.raises(ConfigError, match=message):
        run_program(lambda: TritonLlmWorkload("llama", {"model": MODEL, "cluster": cluster}),
                    on_register=registered.append)
    assert registered == []


def test_a_workload_refuses_an_unknown_cluster_key_and_annotations_beside_an_identity_binder():
    from llm_infra.config import ConfigError

    def program(args: dict, **kwargs) -> None:
        provider = k8s.Provider("cluster-k8s", kubeconfig="kubeconfig")
        TritonLlmWorkload("llama", {"model": MODEL, **args, "cluster": {"provider": provider,
                                                                        "storage_class": "encrypted",
                                                                        **args.pop("cluster", {})}}, **kwargs)

    with pytest.raises(ConfigError, match=r"cluster\.zone: unknown key"):
        run_program(lambda: program({"cluster": {"zone": "x"}}))
    with pytest.raises(ConfigError, match=r"service_account_annotations: expected to be left out when bind_identity"):
        run_program(lambda: program({"service_account_annotations": {"a": "b"}},
                                    bind_identity=lambda request, opts: WorkloadIdentity()))
