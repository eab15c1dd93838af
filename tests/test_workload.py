"""The Triton workload's guarantees (SECURITY.md 31-39), through the mock-engine harness."""

from __future__ import annotations

import math

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
    revision="6ca13d52ca70c883e0f0bb101e425a89e8624de51db2d2392593af6a84118090",
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


@pytest.fixture(scope="module")
def kserve() -> ProgramResult:
    """The model with `openai_api: false`: clients get the locked-down tritonserver's KServe v2 endpoints."""
    return run_workload(openai_api=False)


def exit_timeout(triton: dict) -> int:
    """Seconds Triton drains after SIGTERM: the flag, or the OpenAI frontend's in-process default."""
    flag = next((a for a in triton["args"] if a.startswith("--exit-timeout-secs=")), None)
    return int(flag.split("=")[1]) if flag else 30  # tritonserver.Server exit_timeout (core _server.py@r26.01:302)


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


def test_triton_is_locked_down(kserve):
    prod = kserve
    args = container(prod)["args"]
    # vLLM: explicit mode so the engine health check can unload a dead engine's model; exactly
    # this model loads and the model-repository API demands the pod's own key.
    assert "--model-control-mode=explicit" in args and "--load-model=llama" in args
    assert [a for a in args if a.startswith("--load-model=")] == ["--load-model=llama"]
    assert any(a.startswith("--http-restricted-api=model-repository,") and a.endswith("=$(TRITON_ADMIN_KEY)")
               for a in args)
    assert any(a.startswith("--grpc-restricted-protocol=model-repository,") for a in args)
    key = next(e for e in container(prod)["env"] if e["name"] == "TRITON_ADMIN_KEY")
    assert key["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.uid"}}
    python_args = container(run_workload(backend="python", python_model="builtin:toy_llm", openai_api=False))["args"]
    assert "--model-control-mode=none" in python_args and not any(a.startswith("--load-model") for a in python_args)
    assert "--strict-readiness=true" in args
    assert "--model-repository=/models" in args
    assert any(a.startswith("--exit-timeout-secs=") for a in args)


@pytest.mark.parametrize("mode", ["prod", "kserve"])
def test_grace_period_covers_pre_stop_and_triton_exit_timeout(mode, request):
    result = request.getfixturevalue(mode)
    triton = container(result)
    pre_stop = int(triton["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod_spec(result)["terminationGracePeriodSeconds"] >= pre_stop + exit_timeout(triton) + 10


def test_probes_use_triton_health_endpoints_and_startup_budget_covers_the_load(prod, kserve):
    # vLLM under tritonserver: the model's own ready endpoint, which fails once a dead engine
    # unloaded the model (tests/test_client_contract.py shows it on the real server).
    plain = container(kserve)
    assert plain["startupProbe"]["httpGet"]["path"] == "/v2/models/llama/ready"
    assert plain["readinessProbe"]["httpGet"]["path"] == "/v2/models/llama/ready"
    assert plain["livenessProbe"]["httpGet"]["path"] == "/v2/models/llama/ready"
    # Under the OpenAI frontend nothing unloads a model (model control NONE): the server's
    # strict readiness, on the KServe HTTP port of the same in-process server.
    triton = container(prod)
    # TLS is on by default: the kubelet probes through the terminator's HTTPS port.
    assert triton["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": 8000, "scheme": "HTTPS"}
    assert triton["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": 8000, "scheme": "HTTPS"}
    python = container(run_workload(backend="python", python_model="builtin:toy_llm"))
    assert python["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert python["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
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


def _ingress_sources(result: ProgramResult) -> list[tuple[tuple[str, ...], tuple[int, ...]]]:
    policy = result.k8s("NetworkPolicy", "llama-triton", "llm-serving")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    sources = []
    for rule in policy["ingress"]:
        for peer in rule["from"]:
            sel = peer["namespaceSelector"]
            names = sel.get("matchLabels", {}).get("kubernetes.io/metadata.name")
            names = [names] if names else sel["matchExpressions"][0]["values"]
            sources.append((tuple(names), tuple(sorted(p["port"] for p in rule["ports"]))))
    return sources


def test_network_policy_admits_only_clients_and_monitoring_and_blocks_node_identity(prod, kserve):
    # OpenAI frontend: clients and the scrape reach the OpenAI port only; its KServe ports
    # (no restricted admin APIs under the frontend) admit no one.
    assert _ingress_sources(prod) == [(("frontend",), (9000,)), (("monitoring",), (9000,))]
    assert _ingress_sources(kserve) == [(("frontend",), (8000, 8001)), (("monitoring",), (8002,))]
    policy = prod.k8s("NetworkPolicy", "llama-triton", "llm-serving")["spec"]
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


def test_autoscaling_uses_inference_metrics_never_cpu(prod):
    so = prod.k8s("ScaledObject", "llama", "llm-serving")["spec"]
    assert so["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "llama"}
    assert (so["minReplicaCount"], so["maxReplicaCount"]) == (2, 4)
    assert "idleReplicaCount" not in so
    kinds = {t["type"] for t in so["triggers"]}
    assert kinds == {"prometheus"}  # never cpu or memory
    python = run_workload(backend="python", python_model="builtin:toy_llm").k8s("ScaledObject", "llama")["spec"]
    ratio = next(t for t in python["triggers"] if t["name"] == "queue-compute-ratio")
    assert ratio["metadata"]["query"] == metrics.queue_compute_ratio("llm-serving", "llama")
    assert metrics.QUEUE_DURATION_US in ratio["metadata"]["query"]
    assert metrics.COMPUTE_INFER_DURATION_US in ratio["metadata"]["query"]
    # KEDA owns the replica count; Pulumi does not set it.
    assert "replicas" not in prod.k8s("StatefulSet", "llama")["spec"]
    assert not prod.kubernetes_objects("HorizontalPodAutoscaler")


def test_vllm_models_scale_on_requests_in_the_engine_not_on_tritons_queue(prod):
    # vLLM is decoupled: Triton's queue/compute ratio times the hand-off, and the backend
    # exports no waiting gauge (vllm:num_requests_waiting stays in vLLM's own registry).
    (trigger,) = prod.k8s("ScaledObject", "llama")["spec"]["triggers"]
    assert trigger["name"] == "engine-requests-in-flight" and trigger["metricType"] == "AverageValue"
    assert trigger["metadata"]["query"] == (
        'sum(rate(vllm:e2e_request_latency_seconds_sum{namespace="llm-serving",model="llama"}[2m]))')
    assert trigger["metadata"]["threshold"] == f"{0.8 * 64:g}"  # 0.8 x max_num_seqs per replica


def test_queue_time_trigger_only_when_the_owner_sets_a_threshold(prod):
    names = {t["name"] for t in prod.k8s("ScaledObject", "llama")["spec"]["triggers"]}
    assert names == {"engine-requests-in-flight"}
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
    assert {r.get("record") for r in rules} >= {metrics.IN_FLIGHT_RECORD, metrics.QUEUE_MS_RECORD}
    assert {r.get("alert") for r in rules} >= {"LlmEngineSaturated", "VllmEngineStalled", "TritonInferenceFailures"}
    dashboard = prod.k8s("ConfigMap", "llm-infra-llama-dashboard", "monitoring")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_model_repository_is_mounted_read_only_with_its_generated_files(prod):
    spec = pod_spec(prod)
    volume = next(v for v in spec["volumes"] if v["name"] == "model-repository")
    paths = {i["path"] for i in volume["configMap"]["items"]}
    assert paths == {"config.pbtxt", "1/model.json"}
    mount = next(m for m in container(prod)["volumeMounts"] if m["name"] == "model-repository")
    assert mount == {"name": "model-repository", "mountPath": "/models/llama", "readOnly": True}


# --- the cache-sync init container --------------------------------------------------------
# Its script runs for real, with the real cloud CLIs against local stores, in
# tests/test_cache_sync_real_cli.py.


def test_the_cache_sync_init_container_runs_the_generated_script_with_its_env(prod):
    sync = container(prod, "cache-sync")
    assert sync["command"] == ["/bin/sh", "-c", sync_script(MODEL["weights_uri"])]
    env = {e["name"]: e["value"] for e in sync["env"]}
    assert env.items() >= sync_env(MODEL["weights_uri"], MODEL["revision"]).items()
    assert not any("KEY" in name or "SECRET" in name for name in env)  # workload identity only


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
        pre_stop = int(triton["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert pod["terminationGracePeriodSeconds"] >= pre_stop + exit_timeout(triton) + 10
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


# -- issue 15: entrypoint, scraping, tensor parallelism ------------------------------------


def test_the_image_entrypoint_runs_first(prod):
    # `command` would replace /opt/nvidia/nvidia_entrypoint.sh, which sets up CUDA forward
    # compatibility on older data-center drivers; Triton's command line goes in `args`.
    for result, program in ((prod, "python3"), (run_workload(openai_api=False), "tritonserver")):
        triton = container(result)
        assert "command" not in triton
        assert triton["args"][0] == program


def test_the_pinned_image_is_the_release_of_the_version_matrix(prod):
    from llm_infra.triton import upstream

    assert container(prod)["image"] == upstream.RELEASES["vllm"].image == "nvcr.io/nvidia/tritonserver:26.01-vllm-python-py3"
    trt = container(run_workload(backend="tensorrtllm"))
    assert trt["image"] == upstream.RELEASES["tensorrtllm"].image


def test_the_service_monitor_scrapes_each_pod_once_and_carries_the_prometheus_release_label(prod):
    monitor = prod.k8s("ServiceMonitor", "llama")
    services = [s for s in prod.kubernetes_objects() if s.kind == "Service"]
    assert len(services) == 2
    selected = [s for s in services
                if all(s.inputs["metadata"]["labels"].get(k) == v
                       for k, v in monitor["spec"]["selector"]["matchLabels"].items())]
    assert [s.inputs["metadata"]["name"] for s in selected] == ["llama-headless"]
    # A stock kube-prometheus-stack release named kube-prometheus-stack selects `release: <name>`.
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rule = prod.k8s("PrometheusRule", "llama-triton")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_prometheus_selector_labels_are_configurable():
    model = ModelConfig.model_validate(MODEL)

    def program() -> None:
        provider = k8s.Provider("cluster-k8s", kubeconfig=pulumi.Output.secret("kubeconfig"))
        TritonLlmWorkload("llama", {"model": model, "cluster": {"provider": provider, "storage_class": "sc"},
                                    "monitoring": {"selector_labels": {"prometheus": "ops"}}})

    result = run_program(program)
    labels = result.k8s("ServiceMonitor", "llama")["metadata"]["labels"]
    assert labels["prometheus"] == "ops" and "release" not in labels


def test_vllm_tensor_parallel_runs_ray_with_room_in_tmp_and_shm(prod):
    import json as _json

    repo = prod.k8s("ConfigMap", "llama-model-repository")["data"]
    engine = _json.loads(repo["1_model.json"])
    assert engine["tensor_parallel_size"] == 2
    assert engine["distributed_executor_backend"] == "ray"
    volumes = {v["name"]: v for v in pod_spec(prod)["volumes"]}
    assert volumes["tmp"]["emptyDir"]["sizeLimit"] == "8Gi"  # 4 + 2 per rank for Ray's session
    assert volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    single = run_workload(gpus_per_replica=1, min_replicas=1, max_replicas=1, production=False)
    engine = _json.loads(single.k8s("ConfigMap", "llama-model-repository")["data"]["1_model.json"])
    assert "distributed_executor_backend" not in engine
    assert {v["name"]: v for v in pod_spec(single)["volumes"]}["tmp"]["emptyDir"]["sizeLimit"] == "4Gi"


def test_tensorrtllm_tensor_parallel_runs_in_orchestrator_mode():
    from llm_infra.triton import upstream

    result = run_workload(backend="tensorrtllm")
    env = {e["name"]: e.get("value") for e in container(result)["env"]}
    assert env["TRTLLM_ORCHESTRATOR"] == "1"
    config = result.k8s("ConfigMap", "llama-model-repository")["data"]["config.pbtxt"]
    worker = upstream.parameter_on_value("tensorrtllm", "executor_worker_path")
    assert f'key: "executor_worker_path"\n  value {{\n    string_value: "{worker}"' in config
    single = run_workload(backend="tensorrtllm", gpus_per_replica=1, min_replicas=1, max_replicas=1, production=False)
    assert "TRTLLM_ORCHESTRATOR" not in {e["name"] for e in container(single)["env"]}


def test_tensorrtllm_serves_its_tokenizer_models_and_text_ensemble_beside_the_engine():
    from llm_infra.plan import model_repositories

    result = run_workload(backend="tensorrtllm")
    repos = model_repositories(result)
    assert set(repos) == {"llama", "llama-preprocessing", "llama-postprocessing", "llama-text"}
    mounts = {m["mountPath"] for m in container(result)["volumeMounts"] if m["name"].startswith("model-repository")}
    assert mounts == {f"/models/{d}" for d in repos}
    assert 'platform: "ensemble"' in repos["llama-text"]["config.pbtxt"]
    assert 'string_value: "2"' in repos["llama-preprocessing"]["config.pbtxt"]  # expected_tp_size
