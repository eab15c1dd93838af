"""TritonLlmWorkload: one model served by Triton Inference Server on any conformant cluster.

What it builds, all in the model's tenant namespace and through the cluster's explicit
provider: a service account bound to the model's cloud identity, the generated model
repository, a StatefulSet whose replicas each own a model cache on the encrypted storage
class, a ClusterIP Service and a headless one, a NetworkPolicy, a PodDisruptionBudget, KEDA
autoscaling on a saturation signal the pinned image exports (llm_infra.triton.metrics), and
the ServiceMonitor, PrometheusRule and dashboard to watch it.
"""

import hashlib
import ipaddress
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NotRequired, TypeAlias, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .. import versions
from ..checkov import checkov_skips
from ..config import ConfigError, ModelConfig, MonitoringConfig, TlsConfig, schema_type, validate_spec
from ..contract import (
    DEFAULT_GPU_POOL_LABEL,
    DEFAULT_ZONE_LABEL,
    PRIVATE_RANGES,
    IdentityBinder,
    ModelIdentityRequest,
    WorkloadCluster,
    WorkloadIdentity,
)
from ..ordering import waits_like_component
from . import metrics, tls as tls_proxy
from ..kubernetes.cert_manager import CERT_MANAGER_API, STACK_CA_ISSUER, certificate_spec
from .args import ADMIN_KEY_ENV, GRPC_PORT, HTTP_PORT, METRICS_PORT, tritonserver_args
from .await_timeouts import await_budget
from .cache_sync import CACHE_MOUNT, WEIGHTS_DIR, sync_env, sync_script
from .model_repository import companion_models, render_model_repository
from .openai import OPENAI_PORT, frontend_command, openai_base_url

MODEL_REPOSITORY_MOUNT = "/models"
STARTUP_PROBE_PERIOD_SECONDS = 10
GPU_RESOURCE = "nvidia.com/gpu"
# A UID no host account uses; Triton and the CLI images run as any UID (HOME=/tmp).
RUN_AS_UID = 10001
# Link-local addresses hold every cloud's instance metadata service (node credentials).
LINK_LOCAL = "169.254.0.0/16"
# Tells the model's two Services apart: `clients` (ClusterIP) and `pods` (headless, scraped).
SERVICE_ROLE_LABEL = "llm-infra.io/service"
TMP_BASE_GIB = 4
# Ray (vLLM's executor for TP > 1) keeps its session, logs and spilled objects under /tmp.
TMP_PER_RAY_WORKER_GIB = 2


if TYPE_CHECKING:
    # What type checkers and IDEs see: the fields written in source (config/specs.py), or the validated model.
    from ..config.specs import ModelConfigFields, MonitoringConfigFields, TlsConfigFields

    ModelSpec: TypeAlias = ModelConfigFields | ModelConfig
    MonitoringSpec: TypeAlias = MonitoringConfigFields | MonitoringConfig
    TlsSpec: TypeAlias = TlsConfigFields | TlsConfig
else:  # the schema types other Pulumi languages see, built from the models
    ModelSpec = schema_type(ModelConfig)
    MonitoringSpec = schema_type(MonitoringConfig)
    TlsSpec = schema_type(TlsConfig)

# The cache-sync init container's resources (the pod's /tmp: tmp_size_gib).
SYNC_REQUESTS = {"cpu": "1", "memory": "1Gi"}
SYNC_LIMITS = {"cpu": "2", "memory": "2Gi"}


def triton_resources(model: ModelConfig) -> dict[str, dict[str, str]]:
    """Requests and limits of the Triton container (guaranteed: requests = limits).

    Ephemeral storage covers the /tmp emptyDir (the image's layers are the node's, not the pod's);
    /dev/shm is memory-backed and is charged to the memory limit.
    """
    gpus = str(model.gpus_per_replica)
    amounts = {"cpu": str(model.cpu), "memory": f"{model.effective_memory_gib}Gi",
               "ephemeral-storage": f"{tmp_size_gib(model)}Gi", GPU_RESOURCE: gpus}
    return {"requests": dict(amounts), "limits": dict(amounts)}


class TritonLlmWorkloadArgs(TypedDict):
    model: ModelSpec
    """The model: backend, weights, GPUs, replicas, batching, clients (the fields of a stack's `models` entry).
    Python programs may pass a validated `ModelConfig`."""
    cluster: WorkloadCluster
    """The cluster to run on: its explicit Kubernetes provider, encrypted storage class and node labels
    (`ClusterContract.workload_cluster()` in Python)."""
    service_account_annotations: NotRequired[Mapping[str, pulumi.Input[str]]]
    """Annotations that bind the model's service account to the cloud identity that may read its weights
    (e.g. `eks.amazonaws.com/role-arn`). Defaults to none; a Python program may instead pass the cluster
    contract's `bind_identity`, which creates that identity."""
    pod_labels: NotRequired[Mapping[str, str]]
    """Labels the model's pods need for workload identity (e.g. `azure.workload.identity/use: "true"`).
    Defaults to none."""
    production: NotRequired[bool]
    """Production spreads replicas strictly across zones. Defaults to `True`."""
    monitoring: NotRequired[MonitoringSpec]
    """Where Prometheus and Grafana live and whether to create monitoring objects. Defaults to enabled, namespace `monitoring`."""
    tls: NotRequired[TlsSpec]
    """TLS on every port the pod serves, from a cert-manager ClusterIssuer (the fields of a stack's `tls`).
    Defaults to on, signed by the stack's CA ClusterIssuer `llm-infra-ca`."""
    tls_proxy_image: NotRequired[str]
    """Image of the TLS terminator beside Triton. Defaults to `llm_infra.versions.TLS_PROXY_IMAGE`."""
    image: NotRequired[str]
    """Triton image. Defaults to the pinned image for the model's backend in `llm_infra.versions`."""
    sync_image: NotRequired[str]
    """Image of the init container that syncs weights into the cache. Defaults to the pinned CLI image for the URI's scheme."""
    cache_write_mib_s: NotRequired[float]
    """Rate the model cache volume takes the weights at (MiB/s), for how long `pulumi up` waits for a replica's first
    start. Defaults to the copy rate assumed in `llm_infra.triton.await_timeouts` (100 MiB/s)."""


def _cluster(cluster: object) -> WorkloadCluster:
    """The `cluster` input, checked before anything is registered."""
    if not isinstance(cluster, Mapping):
        raise ConfigError(f"cluster: expected the cluster's provider and storage class (`ClusterContract."
                          f"workload_cluster()` in Python), got {type(cluster).__name__}")
    for key in ("provider", "storage_class"):
        if cluster.get(key) is None:
            raise ConfigError(f"cluster.{key}: required, got nothing")
    if not isinstance(cluster["provider"], k8s.Provider):
        raise ConfigError(f"cluster.provider: expected an explicit pulumi_kubernetes.Provider, "
                          f"got {type(cluster['provider']).__name__}")
    unknown = sorted(set(cluster) - set(WorkloadCluster.__annotations__))
    if unknown:
        raise ConfigError(f"cluster.{unknown[0]}: unknown key (expected one of {sorted(WorkloadCluster.__annotations__)})")
    for i, cidr in enumerate(cluster.get("store_egress_cidrs") or ()):
        try:
            network = ipaddress.ip_network(cidr)
        except (TypeError, ValueError):
            raise ConfigError(f"cluster.store_egress_cidrs[{i}]: expected a CIDR, got {str(cidr)[:64]!r}") from None
        if not network.is_private or network.is_link_local:
            raise ConfigError(f"cluster.store_egress_cidrs[{i}]: expected a private endpoint's range (RFC 1918), "
                              f"got {cidr!r}")
    public = cluster.get("public_egress_cidrs")
    for i, cidr in enumerate(public or ()):
        try:
            network = ipaddress.ip_network(cidr)
        except (TypeError, ValueError):
            raise ConfigError(f"cluster.public_egress_cidrs[{i}]: expected a CIDR, got {str(cidr)[:64]!r}") from None
        if not network.is_global or network.prefixlen < 16:
            raise ConfigError(f"cluster.public_egress_cidrs[{i}]: expected a public API range no wider than a /16, "
                              f"got {cidr!r}")
    return cluster  # type: ignore[return-value]


def backend_env(model: ModelConfig) -> list[dict]:
    """Environment the backend needs beyond the common one."""
    env: list[dict] = []
    if model.backend == "tensorrtllm" and model.gpus_per_replica > 1:
        # One Triton process, no mpirun: the backend spawns one trtllmExecutorWorker per
        # tensor-parallel rank (orchestrator mode, model_instance_state.cc@v0.19.0:247).
        env.append({"name": "TRTLLM_ORCHESTRATOR", "value": "1"})
    if model.backend == "vllm" and model.gpus_per_replica > 1:
        env.append({"name": "RAY_USAGE_STATS_ENABLED", "value": "0"})
    return env


def tmp_size_gib(model: ModelConfig) -> int:
    """Size of the pod's /tmp: room for Ray's session when vLLM runs tensor-parallel."""
    if model.backend == "vllm" and model.gpus_per_replica > 1:
        return TMP_BASE_GIB + TMP_PER_RAY_WORKER_GIB * model.gpus_per_replica
    return TMP_BASE_GIB


def unloadable(model: ModelConfig) -> bool:
    """Whether a dead engine unloads the model (the vLLM backend's engine health check).

    Not under the OpenAI frontend: its in-process server loads in model control mode NONE
    (llm_infra.triton.openai.REPLACED)."""
    return model.backend == "vllm" and not model.openai_api


def readiness_path(model: ModelConfig) -> str:
    """What the startup, readiness and liveness probes ask.

    vLLM: the model's own ready endpoint, which fails once the engine health check unloaded
    the model (the server itself stays up). Others: the server's strict readiness.
    """
    return f"/v2/models/{model.name}/ready" if unloadable(model) else "/v2/health/ready"


def _labels(model: ModelConfig) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "triton",
        "app.kubernetes.io/instance": model.name,
        "app.kubernetes.io/component": "llm-server",
        "app.kubernetes.io/managed-by": "llm-infra",
        "llm-infra.io/model": model.name,
    }


def pod_selector(model: ModelConfig) -> dict[str, str]:
    """The labels that select a model's Triton pods (its Services, policies, and an InferencePool)."""
    return {"llm-infra.io/model": model.name, "app.kubernetes.io/name": "triton"}


def _config_map_key(path: str) -> str:
    # ConfigMap keys cannot contain '/', the volume's items restore the layout.
    return path.replace("/", "_")


def _hardened_container_security() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_UID,
        "runAsGroup": RUN_AS_UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


class TritonLlmWorkload(pulumi.ComponentResource):
    """A production-grade Triton LLM server for one model: hardened, cached, autoscaled, observed."""

    namespace: pulumi.Output[str]
    """Namespace the model runs in."""
    service_name: pulumi.Output[str]
    """Name of the model's ClusterIP Service."""
    http_endpoint: pulumi.Output[str]
    """In-cluster HTTP/REST endpoint (KServe v2 protocol)."""
    grpc_endpoint: pulumi.Output[str]
    """In-cluster gRPC endpoint."""
    openai_base_url: pulumi.Output[str | None]
    """In-cluster base URL of the OpenAI-compatible API (`http://<model>.<namespace>.svc.cluster.local:9000/v1`).
    Defaults to none when the model sets `openai_api: false`."""
    service_account: pulumi.Output[str]
    """Kubernetes service account bound to the model's cloud identity."""

    def __init__(self, name: str, args: TritonLlmWorkloadArgs, opts: pulumi.ResourceOptions | None = None, *,
                 bind_identity: IdentityBinder | None = None) -> None:
        """`bind_identity` (Python only, e.g. `contract.bind_model_identity`) creates the cloud identity that
        may read this model's weights, under this component, instead of `service_account_annotations`."""
        model = validate_spec(ModelConfig, args.get("model"), field="model")
        monitoring = validate_spec(MonitoringConfig, args.get("monitoring", {}), field="monitoring")
        tls = validate_spec(TlsConfig, args.get("tls", {}), field="tls")
        cluster = _cluster(args.get("cluster"))
        if bind_identity is not None and ("service_account_annotations" in args or "pod_labels" in args):
            given = "service_account_annotations" if "service_account_annotations" in args else "pod_labels"
            raise ConfigError(f"{given}: expected to be left out when bind_identity creates the model's identity, "
                              f"got {args[given]!r}")  # type: ignore[literal-required]
        production = args.get("production", True)
        super().__init__("llm-infra:index:TritonLlmWorkload", name, None, opts)
        # Its custom resources wait for what the workload waits for (the operators' CRDs).
        self._component_opts = opts
        ns = model.namespace
        labels = _labels(model)
        selector = pod_selector(model)
        # Every child waits for what the component waits for (its namespace, the GPU layer, the
        # operators): Pulumi does not pass a component's `depends_on` down to its children.
        child = waits_like_component(pulumi.ResourceOptions(parent=self, provider=cluster["provider"]), opts)
        sa_name = f"triton-{model.name}"

        if bind_identity is not None:
            identity = bind_identity(
                ModelIdentityRequest(model=model.name, namespace=ns, service_account=sa_name,
                                     weights_uri=model.weights_uri),
                pulumi.ResourceOptions(parent=self),
            )
        else:
            identity = WorkloadIdentity(service_account_annotations=dict(args.get("service_account_annotations", {})),
                                        pod_labels=dict(args.get("pod_labels", {})))

        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={"name": sa_name, "namespace": ns, "labels": labels,
                      "annotations": dict(identity.service_account_annotations)},
            # Workload-identity webhooks project their own audience-bound token; the
            # Kubernetes API token is never needed by Triton or the sync container.
            automount_service_account_token=False,
            opts=child,
        )

        files = render_model_repository(model, weights_dir=WEIGHTS_DIR)
        # TensorRT-LLM: the tokenizer models and the text ensemble, each its own directory.
        companions = companion_models(model, weights_dir=WEIGHTS_DIR)
        repo_digest = hashlib.sha256(json.dumps([files, companions], sort_keys=True).encode()).hexdigest()[:16]
        repo_cm_name = f"{model.name}-model-repository"
        k8s.core.v1.ConfigMap(
            f"{name}-model-repository",
            metadata={"name": repo_cm_name, "namespace": ns, "labels": labels},
            data={**{_config_map_key(p): content for p, content in files.items()},
                  **{_config_map_key(f"{d}/{p}"): content for d, fs in companions.items() for p, content in fs.items()}},
            immutable=False,
            opts=child,
        )

        tls_secret = f"{model.name}-tls"
        proxy_cm_name = f"{model.name}-tls-proxy"
        self._tls_secret = tls_secret if tls.enabled else None
        tls_objects: list[pulumi.Resource] = []
        if tls.enabled:
            tls_objects = self._tls(name, model, tls, ns, labels, proxy_cm_name, tls_secret, child)

        replicas_fixed = model.min_replicas == model.max_replicas
        grace = model.termination_grace_seconds
        startup_failures = math.ceil(model.effective_max_load_seconds / STARTUP_PROBE_PERIOD_SECONDS)
        scheme = model.uri_scheme
        env_sync = [{"name": k, "value": v} for k, v in sync_env(model.weights_uri, model.revision).items()]
        env_sync += [{"name": "HOME", "value": "/tmp"}, {"name": "CLOUDSDK_CONFIG", "value": "/tmp/gcloud"},
                     {"name": "AZURE_CONFIG_DIR", "value": "/tmp/azure"}]

        pod_labels = {**labels, **dict(identity.pod_labels)}
        pod_annotations = {
            "llm-infra.io/model-repository-sha256": repo_digest,
            "llm-infra.io/weights-revision": model.revision or "unpinned",
            # The worst-case load time the startup probe must cover (checked by llm_infra.policies).
            "llm-infra.io/max-load-seconds": str(model.effective_max_load_seconds),
        }
        if not tls.enabled:
            # The stack's named opt-out (tls.enabled: false), read by llm_infra.policies.tls.
            pod_annotations["llm-infra.io/tls"] = "disabled"
        zone_skew = "DoNotSchedule" if production else "ScheduleAnyway"

        http_probe: dict[str, str | int] = {"path": readiness_path(model), "port": "http"}
        live_probe: dict[str, str | int] = {
            "path": readiness_path(model) if unloadable(model) else "/v2/health/live", "port": "http"}
        listeners = tls_proxy.listeners_for(model.openai_api)
        internal = {listener.name: listener.upstream_port for listener in listeners}
        if tls.enabled:
            # Triton listens on loopback only; the kubelet probes through the terminator's HTTPS port.
            http_probe = {**http_probe, "port": HTTP_PORT, "scheme": "HTTPS"}
            live_probe = {**live_probe, "port": HTTP_PORT, "scheme": "HTTPS"}
        triton = {
            "name": "triton",
            "image": args.get("image") or model.image or versions.TRITON_IMAGES[model.backend],
            "imagePullPolicy": "Always",  # re-checks registry authorization; cached layers are reused
            # No `command`: the image's entrypoint (/opt/nvidia/nvidia_entrypoint.sh) sets up CUDA
            # forward compatibility for older data-center drivers, then runs these arguments.
            "args": _triton_command(model, internal if tls.enabled else None),
            # With TLS the terminator declares the pod's ports; Triton's are on loopback.
            "ports": [] if tls.enabled else [
                {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
                {"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"},
                # The frontend serves Triton's metrics on the OpenAI port (llm_infra.triton.openai.REPLACED).
                {"name": "openai", "containerPort": OPENAI_PORT, "protocol": "TCP"} if model.openai_api else
                {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
            ],
            "env": [
                # Unlocks Triton's restricted APIs (see triton.args): the pod's own UID, never stored.
                *([] if model.openai_api else
                  [{"name": ADMIN_KEY_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}]),
                {"name": "HOME", "value": "/tmp"},
                {"name": "HF_HOME", "value": f"{CACHE_MOUNT}/hf"},
                # Weights come only from the cache; never from a public hub at run time.
                {"name": "HF_HUB_OFFLINE", "value": "1"},
                {"name": "TRANSFORMERS_OFFLINE", "value": "1"},
                {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
                {"name": "DO_NOT_TRACK", "value": "1"},
                *backend_env(model),
            ],
            "resources": triton_resources(model),
            "startupProbe": {"httpGet": http_probe, "periodSeconds": STARTUP_PROBE_PERIOD_SECONDS,
                             "timeoutSeconds": 5, "failureThreshold": startup_failures},
            "readinessProbe": {"httpGet": http_probe, "periodSeconds": 5, "timeoutSeconds": 3,
                               "failureThreshold": 3},
            # vLLM: a model unloaded by the engine health check restarts the container (the engine reloads).
            "livenessProbe": {"httpGet": live_probe, "periodSeconds": 10,
                              "timeoutSeconds": 5, "failureThreshold": 6},
            # Endpoints controllers and load balancers stop sending traffic before Triton
            # starts draining; Triton then finishes in-flight requests within exit_timeout.
            "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(model.pre_stop_seconds)]}}},
            "securityContext": _hardened_container_security(),
            "volumeMounts": [
                {"name": "model-repository", "mountPath": f"{MODEL_REPOSITORY_MOUNT}/{model.name}", "readOnly": True},
                *({"name": f"model-repository-{i + 1}", "mountPath": f"{MODEL_REPOSITORY_MOUNT}/{d}", "readOnly": True}
                  for i, d in enumerate(sorted(companions))),
                {"name": "model-cache", "mountPath": CACHE_MOUNT},
                {"name": "dshm", "mountPath": "/dev/shm"},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }
        sync = {
            "name": "cache-sync",
            "image": args.get("sync_image") or versions.MODEL_SYNC_IMAGES[scheme],
            "imagePullPolicy": "Always",  # re-checks registry authorization; cached layers are reused
            "command": ["/bin/sh", "-c", sync_script(model.weights_uri)],
            "env": env_sync,
            "resources": {"requests": dict(SYNC_REQUESTS), "limits": dict(SYNC_LIMITS)},
            "securityContext": _hardened_container_security(),
            "volumeMounts": [{"name": "model-cache", "mountPath": CACHE_MOUNT},
                             {"name": "tmp", "mountPath": "/tmp"}],
        }
        pod_spec = {
            "serviceAccountName": sa_name,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": grace,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS_UID,
                "runAsGroup": RUN_AS_UID,
                "fsGroup": RUN_AS_UID,
                "fsGroupChangePolicy": "OnRootMismatch",
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "nodeSelector": {cluster.get("gpu_pool_label", DEFAULT_GPU_POOL_LABEL): model.gpu_pool},
            "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
                            *(dict(t) for t in cluster.get("workload_tolerations", ()))],
            "topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": cluster.get("zone_label", DEFAULT_ZONE_LABEL),
                 "whenUnsatisfiable": zone_skew,
                 "labelSelector": {"matchLabels": selector}},
                {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
                 "labelSelector": {"matchLabels": selector}},
            ],
            "initContainers": [sync],
            "containers": [triton, *([tls_proxy.proxy_container(
                listeners, image=args.get("tls_proxy_image") or versions.TLS_PROXY_IMAGE,
                security_context=_hardened_container_security(), pre_stop_seconds=model.pre_stop_seconds)]
                if tls.enabled else [])],
            "volumes": [
                {"name": "model-repository", "configMap": {
                    "name": repo_cm_name,
                    "items": [{"key": _config_map_key(p), "path": p} for p in sorted(files)],
                }},
                *({"name": f"model-repository-{i + 1}", "configMap": {
                    "name": repo_cm_name,
                    "items": [{"key": _config_map_key(f"{d}/{p}"), "path": p} for p in sorted(companions[d])],
                }} for i, d in enumerate(sorted(companions))),
                {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{model.shm_size_gib}Gi"}},
                {"name": "tmp", "emptyDir": {"sizeLimit": f"{tmp_size_gib(model)}Gi"}},
                *(tls_proxy.proxy_volumes(proxy_cm_name, tls_secret) if tls.enabled else []),
            ],
        }
        statefulset_spec: dict = {
            "serviceName": f"{model.name}-headless",
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector},
            "updateStrategy": {"type": "RollingUpdate"},
            # Scale-down keeps each replica's cache, so scaling up again starts from disk.
            "persistentVolumeClaimRetentionPolicy": {"whenScaled": "Retain", "whenDeleted": "Delete"},
            "template": {"metadata": {"labels": pod_labels, "annotations": pod_annotations}, "spec": pod_spec},
            "volumeClaimTemplates": [{
                "metadata": {"name": "model-cache", "labels": labels},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": cluster["storage_class"],
                    "resources": {"requests": {"storage": f"{model.effective_cache_size_gib}Gi"}},
                },
            }],
        }
        if replicas_fixed:
            # With autoscaling, KEDA owns the replica count; Pulumi must not fight it.
            statefulset_spec["replicas"] = model.min_replicas
        statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={"name": model.name, "namespace": ns, "labels": labels, "annotations": checkov_skips({
                # Image tags are pinned in llm_infra.versions; digests differ per mirror.
                "CKV_K8S_43": "images are pinned to release tags in llm_infra.versions; "
                              "mirrors of a dedicated cluster re-digest them",
            })},
            spec=statefulset_spec,
            # Pulumi waits for every replica to be ready: as long as a new node, the weight
            # copy and the startup probe's budget take (llm_infra.triton.await_timeouts).
            opts=child.merge(pulumi.ResourceOptions(
                depends_on=[service_account, *tls_objects],
                custom_timeouts=pulumi.CustomTimeouts(**await_budget(
                    weights_size_gib=model.weights_size_gib,
                    startup_probe_period_s=STARTUP_PROBE_PERIOD_SECONDS,
                    startup_probe_failures=startup_failures,
                    termination_grace_s=grace,
                    max_replicas=model.max_replicas,
                    volume_mib_s=args.get("cache_write_mib_s"),
                ).custom_timeouts()))),
        )

        ports = [
            {"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"},
            {"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "protocol": "TCP"},
            {"name": "metrics", "port": METRICS_PORT, "targetPort": "openai" if model.openai_api else "metrics",
             "protocol": "TCP"},
            *([{"name": "openai", "port": OPENAI_PORT, "targetPort": "openai", "protocol": "TCP"}]
              if model.openai_api else []),
        ]
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": model.name, "namespace": ns, "labels": {**labels, SERVICE_ROLE_LABEL: "clients"}},
            spec={"type": "ClusterIP", "selector": selector, "ports": ports},
            opts=child,
        )
        k8s.core.v1.Service(
            f"{name}-headless",
            metadata={"name": f"{model.name}-headless", "namespace": ns,
                      "labels": {**labels, SERVICE_ROLE_LABEL: "pods"}},
            spec={"clusterIP": "None", "selector": selector, "ports": ports},
            opts=child,
        )

        # Weights and token exchange: HTTPS to the object store and the cloud's identity endpoint,
        # never to the link-local metadata service that holds the node's credentials, nor to any
        # private address (the VPC, other pods and services) but the store's private endpoint.
        # A NetworkPolicy selects pods, not containers, and names no hostnames: the sync init
        # container and Triton share this rule, and public endpoints are reached by address range.
        # Where the cloud's APIs answer at a fixed public range (public_egress_cidrs), only that range.
        public = cluster.get("public_egress_cidrs")
        public_peers = ([{"ipBlock": {"cidr": c}} for c in public] if public is not None
                        else [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [LINK_LOCAL, *PRIVATE_RANGES]}}])
        egress = [{
            "to": [*public_peers,
                   *({"ipBlock": {"cidr": cidr}} for cidr in cluster.get("store_egress_cidrs", ()))],
            "ports": [{"protocol": "TCP", "port": 443}],
        }]
        if cluster.get("metadata_identity_egress", False):
            egress.append({"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}],
                           "ports": [{"protocol": "TCP", "port": 80}]})
        ingress = []
        # Under the OpenAI frontend clients reach the OpenAI port only: its KServe frontends have no
        # restricted APIs (llm_infra.triton.openai.REPLACED), so they stay inside the pod.
        client_ports = [OPENAI_PORT] if model.openai_api else [HTTP_PORT, GRPC_PORT]
        if model.clients:
            ingress.append({
                "from": [{"namespaceSelector": {"matchExpressions": [{
                    "key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(model.clients)}]}}],
                "ports": [{"protocol": "TCP", "port": p} for p in client_ports],
            })
        if monitoring.enabled:
            ingress.append({
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": monitoring.namespace}}}],
                "ports": [{"protocol": "TCP", "port": OPENAI_PORT if model.openai_api else METRICS_PORT}],
            })
        policy_meta: dict = {"name": f"{model.name}-triton", "namespace": ns, "labels": labels}
        if cluster.get("metadata_identity_egress", False):
            # Read by llm_infra.policies: this /32 is GKE's metadata server (pods see their own identity).
            policy_meta["annotations"] = {"llm-infra.io/metadata-egress": "gke-metadata-server"}
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=policy_meta,
            spec={"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress", "Egress"],
                  "ingress": ingress, "egress": egress},
            opts=child,
        )

        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": model.name, "namespace": ns, "labels": labels},
            spec={"maxUnavailable": 1, "selector": {"matchLabels": selector},
                  "unhealthyPodEvictionPolicy": "AlwaysAllow"},
            opts=child,
        )

        if not replicas_fixed:
            self._scaled_object(name, model, monitoring, ns, labels, child)
        if monitoring.enabled:
            self._monitoring(name, model, monitoring, ns, labels, selector, child)

        self.namespace = pulumi.Output.from_input(ns)
        self.service_name = service.metadata.apply(lambda m: m["name"] if isinstance(m, dict) else m.name)
        url_scheme = "https" if tls.enabled else "http"
        self.http_endpoint = pulumi.Output.from_input(f"{url_scheme}://{model.name}.{ns}.svc.cluster.local:{HTTP_PORT}")
        self.grpc_endpoint = pulumi.Output.from_input(f"{model.name}.{ns}.svc.cluster.local:{GRPC_PORT}")
        self.openai_base_url = pulumi.Output.from_input(openai_base_url(model, tls=tls.enabled) if model.openai_api else None)
        self.service_account = pulumi.Output.from_input(sa_name)
        self.statefulset = statefulset
        self.register_outputs({
            "namespace": self.namespace,
            "service_name": self.service_name,
            "http_endpoint": self.http_endpoint,
            "grpc_endpoint": self.grpc_endpoint,
            "openai_base_url": self.openai_base_url,
            "service_account": self.service_account,
        })

    def _tls(self, name, model: ModelConfig, tls: TlsConfig, ns, labels, proxy_cm_name, tls_secret,
             child) -> list[pulumi.Resource]:
        """The Service's certificate (its DNS names) and the terminator's configuration."""
        names = [*tls_proxy.certificate_dns_names(model.name, ns),
                 *tls_proxy.certificate_dns_names(f"{model.name}-headless", ns)]
        certificate = k8s.apiextensions.CustomResource(
            f"{name}-certificate",
            api_version=CERT_MANAGER_API,
            kind="Certificate",
            metadata={"name": tls_secret, "namespace": ns, "labels": labels},
            spec=certificate_spec(tls_secret, names, tls.cluster_issuer or STACK_CA_ISSUER),
            opts=waits_like_component(child, self._component_opts),
        )
        open_paths = sorted({readiness_path(model), "/v2/health/live", "/v2/health/ready",
                             # Under the OpenAI frontend the metrics share its port: Prometheus scrapes without a certificate.
                             *(["/metrics"] if model.openai_api else [])})
        config = k8s.core.v1.ConfigMap(
            f"{name}-tls-proxy",
            metadata={"name": proxy_cm_name, "namespace": ns, "labels": labels},
            data={tls_proxy.CONFIG_FILE: tls_proxy.nginx_conf(tls_proxy.listeners_for(model.openai_api), mutual=tls.mutual,
                                                              open_paths=open_paths)},
            opts=child,
        )
        return [certificate, config]

    def _scrape_endpoint(self, model: ModelConfig, ns: str) -> dict:
        """Prometheus scrapes each pod's metrics port, over TLS verified against the CA when TLS is on."""
        endpoint = {"port": "metrics", "path": "/metrics", "interval": "15s", "scheme": "http"}
        if self._tls_secret is None:
            return endpoint
        return {**endpoint, "scheme": "https", "tlsConfig": {
            # Pods are scraped by address; the certificate names the Service.
            "serverName": f"{model.name}.{ns}.svc",
            "ca": {"secret": {"name": self._tls_secret, "key": "ca.crt"}},
        }}

    def _scaled_object(self, name, model: ModelConfig, monitoring: MonitoringConfig, ns, labels, child) -> None:
        in_flight = metrics.engine_in_flight(model.backend, ns, model.name)
        if in_flight is None:
            triggers: list[dict[str, Any]] = [{
                "type": "prometheus",
                "name": "queue-compute-ratio",
                "metricType": "Value",
                "metadata": {
                    "serverAddress": monitoring.prometheus_url,
                    "query": metrics.queue_compute_ratio(ns, model.name),
                    "threshold": f"{model.target_queue_compute_ratio:g}",
                },
            }]
        else:
            # Decoupled: Triton's queue/compute ratio times the hand-off to the engine, not
            # generation; scale on the requests inside the engines against their capacity.
            per_replica = model.target_engine_utilization * model.batching.max_batch_size
            triggers = [{
                "type": "prometheus",
                "name": "engine-requests-in-flight",
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": monitoring.prometheus_url,
                    "query": in_flight,
                    "threshold": f"{per_replica:g}",
                },
            }]
        if model.max_queue_ms is not None:
            triggers.append({
                "type": "prometheus",
                "name": "queue-ms-per-request",
                "metricType": "Value",
                "metadata": {
                    "serverAddress": monitoring.prometheus_url,
                    "query": metrics.queue_ms_per_request(ns, model.name),
                    "threshold": f"{model.max_queue_ms:g}",
                },
            })
        if self._tls_secret is not None and monitoring.prometheus_url.startswith("https://"):
            # KEDA verifies Prometheus against the stack's CA and presents the model's certificate.
            k8s.apiextensions.CustomResource(
                f"{name}-prometheus-auth",
                api_version="keda.sh/v1alpha1",
                kind="TriggerAuthentication",
                metadata={"name": f"{model.name}-prometheus", "namespace": ns, "labels": labels},
                spec={"secretTargetRef": [
                    {"parameter": parameter, "name": self._tls_secret, "key": key}
                    for parameter, key in (("ca", "ca.crt"), ("cert", "tls.crt"), ("key", "tls.key"))]},
                opts=waits_like_component(child, self._component_opts),
            )
            for trigger in triggers:
                if trigger["type"] == "prometheus":
                    trigger["metadata"]["authModes"] = "tls"
                    trigger["authenticationRef"] = {"name": f"{model.name}-prometheus"}
        spec: dict = {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": model.name},
            "pollingInterval": 15,
            "cooldownPeriod": model.scale_down_stabilization_seconds,
            "minReplicaCount": max(model.min_replicas, 1),
            "maxReplicaCount": model.max_replicas,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {
                "scaleDown": {"stabilizationWindowSeconds": model.scale_down_stabilization_seconds,
                              "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}]},
                "scaleUp": {"stabilizationWindowSeconds": 0,
                            "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]},
            }}},
            "triggers": triggers,
        }
        if model.min_replicas == 0:
            hours = model.active_hours
            assert hours is not None  # config guarantees a wake-up schedule for scale to zero
            spec["idleReplicaCount"] = 0
            triggers.append({
                "type": "cron",
                "name": "active-hours",
                "metadata": {"timezone": hours.timezone, "start": hours.start, "end": hours.end,
                             "desiredReplicas": "1"},
            })
        k8s.apiextensions.CustomResource(
            f"{name}-scaled-object",
            api_version="keda.sh/v1alpha1",
            kind="ScaledObject",
            metadata={"name": model.name, "namespace": ns, "labels": labels},
            spec=spec,
            opts=waits_like_component(child, self._component_opts),
        )

    def _monitoring(self, name, model: ModelConfig, monitoring: MonitoringConfig, ns, labels, selector, child) -> None:
        watched = {**labels, **monitoring.selector_labels}
        k8s.apiextensions.CustomResource(
            f"{name}-service-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata={"name": model.name, "namespace": ns, "labels": watched},
            spec={
                # Only the headless Service: the ClusterIP one has the same pods, and matching
                # both scrapes every pod twice.
                "selector": {"matchLabels": {**selector, SERVICE_ROLE_LABEL: "pods"}},
                "namespaceSelector": {"matchNames": [ns]},
                "endpoints": [self._scrape_endpoint(model, ns)],
            },
            opts=waits_like_component(child, self._component_opts),
        )
        rules = _rules(model, ns)
        k8s.apiextensions.CustomResource(
            f"{name}-prometheus-rule",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": f"{model.name}-triton", "namespace": ns, "labels": watched},
            spec={"groups": [{"name": f"llm-infra-{model.name}", "interval": "30s", "rules": rules}]},
            opts=waits_like_component(child, self._component_opts),
        )
        k8s.core.v1.ConfigMap(
            f"{name}-dashboard",
            metadata={"name": f"llm-infra-{model.name}-dashboard", "namespace": monitoring.namespace,
                      "labels": {**labels, "grafana_dashboard": "1"}},
            data={f"llm-infra-{model.name}.json": json.dumps(_dashboard(model, ns), indent=1, sort_keys=True)},
            opts=child,
        )


def _triton_command(model: ModelConfig, loopback_ports: dict[str, int] | None = None) -> list[str]:
    """The Triton container's arguments: Triton's OpenAI frontend, or with `openai_api: false` tritonserver.
    With `loopback_ports` (TLS on: listener name -> port) every listener binds to loopback on those ports."""
    if model.openai_api:
        if loopback_ports is None:
            return frontend_command(model, model_repository=MODEL_REPOSITORY_MOUNT, weights_dir=WEIGHTS_DIR)
        return frontend_command(model, model_repository=MODEL_REPOSITORY_MOUNT, weights_dir=WEIGHTS_DIR,
                                openai_port=loopback_ports["openai"], http_port=loopback_ports["http"],
                                grpc_port=loopback_ports["grpc"], host=tls_proxy.LOOPBACK)
    if loopback_ports is None:
        return ["tritonserver", *tritonserver_args(
            model_repository=MODEL_REPOSITORY_MOUNT, exit_timeout_seconds=model.exit_timeout_seconds,
            unloadable_models=[model.name] if unloadable(model) else [])]
    return ["tritonserver", *tritonserver_args(
        model_repository=MODEL_REPOSITORY_MOUNT, exit_timeout_seconds=model.exit_timeout_seconds,
        unloadable_models=[model.name] if unloadable(model) else [],
        http_port=loopback_ports["http"], grpc_port=loopback_ports["grpc"], metrics_port=loopback_ports["metrics"]),
        *tls_proxy.triton_loopback_args()]


def _rules(model: ModelConfig, ns: str) -> list[dict]:
    """Recording rules and alerts on signals that move for the model's backend."""
    sel = metrics.selector(ns, model.name)
    keep = {"namespace": ns, "model": model.name}
    rules: list[dict] = [
        {"record": metrics.QUEUE_MS_RECORD, "expr": metrics.queue_ms_per_request(ns, model.name), "labels": keep},
        {"record": metrics.FAILURE_RATIO_RECORD, "expr": metrics.failure_ratio(ns, model.name), "labels": keep},
        {
            # Triton counts a failed request here for every backend; for the decoupled ones it
            # sees only errors before the hand-off, so the backend-specific rules below add theirs.
            "alert": "TritonInferenceFailures",
            "expr": f"{metrics.FAILURE_RATIO_RECORD}{{{sel}}} > 0.05",
            "for": "5m",
            "labels": {"severity": "critical"},
            "annotations": {"summary": f"More than 5% of {model.name} inferences fail in Triton."},
        },
    ]
    in_flight = metrics.engine_in_flight(model.backend, ns, model.name)
    if in_flight is None:
        rules += [
            {"record": metrics.RATIO_RECORD, "expr": metrics.queue_compute_ratio(ns, model.name), "labels": keep},
            {
                "alert": "TritonQueueSaturated",
                "expr": f"{metrics.RATIO_RECORD}{{{sel}}} > {model.target_queue_compute_ratio:g}",
                "for": "10m",
                "labels": {"severity": "warning"},
                "annotations": {
                    "summary": f"Requests to {model.name} wait longer in Triton's queue than they compute.",
                    "description": "Autoscaling has not caught up: check max_replicas and GPU pool capacity.",
                },
            },
        ]
    else:
        capacity = model.max_replicas * model.batching.max_batch_size
        rules += [
            {"record": metrics.IN_FLIGHT_RECORD, "expr": in_flight, "labels": keep},
            {
                "alert": "LlmEngineSaturated",
                "expr": f"{metrics.IN_FLIGHT_RECORD}{{{sel}}} > {0.95 * capacity:g}",
                "for": "10m",
                "labels": {"severity": "warning"},
                "annotations": {
                    "summary": f"{model.name} runs near max_replicas x max_batch_size ({capacity}) requests.",
                    "description": "Requests queue inside the engines: raise max_replicas or GPU pool capacity.",
                },
            },
        ]
    if model.backend == "vllm":
        rules += [
            {"record": metrics.UNFINISHED_RATIO_RECORD, "expr": metrics.vllm_unfinished_ratio(ns, model.name),
             "labels": keep},
            {
                "alert": "VllmRequestsFailing",
                "expr": f"{metrics.UNFINISHED_RATIO_RECORD}{{{sel}}} > 0.05",
                "for": "15m",
                "labels": {"severity": "critical"},
                "annotations": {
                    "summary": f"More than 5% of the requests Triton hands {model.name}'s vLLM engine never finish.",
                    "description": "Triton counts these as successes; the engine rejected them, failed or hangs.",
                },
            },
            {
                "alert": "VllmEngineStalled",
                "expr": metrics.vllm_stalled(ns, model.name),
                "for": "10m",
                "labels": {"severity": "critical"},
                "annotations": {"summary": f"{model.name} accepts requests but its vLLM engine finishes none."},
            },
        ]
    else:
        rules.append({
            "alert": "TritonPendingRequestsStuck",
            "expr": metrics.triton_stalled(ns, model.name),
            "for": "10m",
            "labels": {"severity": "critical"},
            "annotations": {"summary": f"{model.name} has pending requests but completes none."},
        })
    return rules


def _dashboard(model: ModelConfig, ns: str) -> dict:
    """A Grafana dashboard of the signals the autoscaler and alerts use."""
    sel = metrics.selector(ns, model.name)
    panels = [
        ("Successful inferences / s (Triton)", f"sum(rate({metrics.REQUEST_SUCCESS}{{{sel}}}[1m]))"),
        ("Failure ratio (Triton)", f"{metrics.FAILURE_RATIO_RECORD}{{{sel}}}"),
        ("Queue time per request (ms)", f"{metrics.QUEUE_MS_RECORD}{{{sel}}}"),
    ]
    if model.backend == "vllm":
        panels += [
            ("Requests in flight in the engines (autoscaling signal)", f"{metrics.IN_FLIGHT_RECORD}{{{sel}}}"),
            ("Requests the engine never finished (share)", f"{metrics.UNFINISHED_RATIO_RECORD}{{{sel}}}"),
            ("Time to first token p95 (s)",
             f"histogram_quantile(0.95, sum by (le) (rate({metrics.VLLM_TTFT}_bucket{{{sel}}}[5m])))"),
            ("Generated tokens / s", f"sum(rate({metrics.VLLM_GENERATION_TOKENS}{{{sel}}}[1m]))"),
        ]
    elif model.backend == "tensorrtllm":
        panels += [
            ("Active requests (autoscaling signal)", f"{metrics.IN_FLIGHT_RECORD}{{{sel}}}"),
            ("Max active requests", f'sum({metrics.TRTLLM_REQUESTS}{{{sel},request_type="max"}})'),
            ("KV-cache blocks used (fraction)",
             f'max({metrics.TRTLLM_KV_BLOCKS}{{{sel},kv_cache_block_type="fraction"}})'),
        ]
    else:
        panels += [
            ("Queue / compute ratio (autoscaling signal)", f"{metrics.RATIO_RECORD}{{{sel}}}"),
            ("Pending requests", f"sum({metrics.PENDING_REQUESTS}{{{sel}}})"),
            ("Batch size (inferences per execution)",
             f"sum(rate({metrics.INFERENCE_COUNT}{{{sel}}}[1m])) / "
             f"clamp_min(sum(rate({metrics.EXEC_COUNT}{{{sel}}}[1m])), 0.001)"),
        ]
    ns_model = f"{ns}/{model.name}"
    return {
        "title": f"llm-infra / {ns} / {model.name}",
        "uid": hashlib.sha1(ns_model.encode()).hexdigest()[:12],
        "schemaVersion": 39,
        "time": {"from": "now-3h", "to": "now"},
        "panels": [
            {"id": i + 1, "type": "timeseries", "title": title,
             "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
             "targets": [{"expr": expr, "refId": "A"}]}
            for i, (title, expr) in enumerate(panels)
        ],
    }
