"""The shared stack config models (pools, models, monitoring, access, teardown) and `StackConfig`,
with the checks that span the whole stack. Each cloud's settings live in config/<cloud>.py."""

from __future__ import annotations

import ipaddress
import math
import re
from contextvars import ContextVar
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field, PrivateAttr, ValidationError, field_validator, model_validator

from ..planning.catalog import GPUS as _GPU_SPECS
from .aws import AwsConfig
from .azure import AzureConfig
from .base import DnsLabel, NamespaceName, _DNS_LABEL, _FieldError, _Problems, _Strict, parse_weights_uri, shown
from .base import _allowlisted_network
from .cost import CostConfig, cost_problems
from .gcp import GcpConfig

if TYPE_CHECKING:
    from ..cloud_plugin import Cloud


CONFIG_NAMESPACE = "llm-infra"

# The model cache's sequential read rate the startup budget assumes, in MiB/s. Volumes whose
# throughput is provisioned (EBS gp3, Azure Premium SSD v2) are provisioned at this rate;
# elsewhere the platform computes the budget from the volume's documented rate.
CACHE_READ_MIB_S = 200


# Secret keys: never read by the offline plan; the CLI stores them encrypted.
SECRET_KEYS = frozenset({"kubeconfig"})

# GPU models the library knows how to schedule and size, with the memory the driver
# reports in GiB (the smallest variant's), from the planning catalog.
GPU_MEMORY_GIB: dict[str, float] = {
    model: min(spec.memory_gib for spec in _GPU_SPECS.values() if spec.model == model)
    for model in sorted({spec.model for spec in _GPU_SPECS.values()})
}

# Which object-store URI the workload identity of a cluster the user runs can read (a cloud's own: `Cloud.uri_schemes`).
EXISTING_URI_SCHEMES: tuple[str, ...] = ("s3", "gs", "azureblob")


def cloud_plugin(name: object) -> Cloud | None:
    """The registered cloud plug-in of that name (`llm_infra.clouds.CLOUDS`), None for `existing` or an unknown name.
    Imported on use: the registry imports each cloud's settings from this package."""
    from ..clouds import CLOUDS

    return CLOUDS.get(name) if isinstance(name, str) else None


def cloud_names() -> list[str]:
    """What stack config's `cloud` accepts: every registered cloud plug-in, and `existing`."""
    from ..clouds import CLOUDS

    return [*CLOUDS, "existing"]


def uri_schemes(cloud: str) -> tuple[str, ...]:
    """Which object-store URI schemes the workload identity of a stack on `cloud` can read."""
    plugin = cloud_plugin(cloud)
    return plugin.uri_schemes if plugin is not None else EXISTING_URI_SCHEMES


# The settings block of a plug-in cloud that StackConfig declares no field for, while the stack is validated.
_PLUGIN_BLOCK: ContextVar[BaseModel | None] = ContextVar("llm_infra_plugin_settings", default=None)


# Keys of the backend engine arguments that the library derives itself.
_OWNED_ENGINE_ARGS: dict[str, frozenset[str]] = {
    "vllm": frozenset({"model", "tensor_parallel_size", "max_num_seqs"}),
    "tensorrtllm": frozenset({"gpt_model_path", "gpt_model_type", "max_beam_width"}),
    "python": frozenset(),
}


def _driver_problems(config: StackConfig, where: str, model: ModelConfig) -> list[str]:
    """What the stack's cloud says about one model (AWS: the GPU nodes' driver runs its image)."""
    settings = config.cloud_settings
    return settings.model_problems(config, where, model) if settings is not None else []


class GpuPoolConfig(_Strict):
    """A pool of identical GPU nodes."""

    name: DnsLabel
    """Pool name (a DNS label): the value of the `llm-infra.io/gpu-pool` node label that models select."""
    gpu: str
    """GPU model, e.g. `nvidia-h100-80gb` (one of `llm_infra.config.GPU_MEMORY_GIB`)."""
    instance_type: str | None = None
    """Instance type, machine type or VM size. Defaults to the cloud's first type with `gpus_per_node` GPUs of `gpu`."""
    gpus_per_node: int = Field(default=1, ge=1, le=8)
    """GPUs per node, 1-8. Defaults to 1."""
    min_nodes: int = Field(default=0, ge=0, le=1000)
    """Minimum nodes (0 lets the pool scale to zero). Defaults to 0."""
    max_nodes: int = Field(default=2, ge=1, le=1000)
    """Maximum nodes, at least `min_nodes`. Defaults to 2."""
    spot: bool = False
    """Spot/preemptible capacity (never in production). Defaults to false."""
    zones: list[str] | None = None
    """Zones of the pool. Defaults to the cluster's zones."""

    @field_validator("gpu")
    @classmethod
    def _known_gpu(cls, v: str) -> str:
        if v not in GPU_MEMORY_GIB:
            raise ValueError(f"expected one of {sorted(GPU_MEMORY_GIB)}, got {shown(v)}")
        return v

    @model_validator(mode="after")
    def _min_le_max(self) -> GpuPoolConfig:
        if self.max_nodes < self.min_nodes:
            raise _FieldError("max_nodes", f"expected >= min_nodes ({self.min_nodes}), got {self.max_nodes}")
        return self

    @property
    def gpu_memory_gib(self) -> float:
        return GPU_MEMORY_GIB[self.gpu]


class BatchingConfig(_Strict):
    """Request batching. vLLM and TensorRT-LLM batch in flight; python models use Triton's dynamic batcher."""

    max_batch_size: int = Field(default=64, ge=1, le=4096)
    """Largest batch (vLLM: concurrent sequences, `max_num_seqs`). Defaults to 64."""
    max_queue_delay_us: int = Field(default=1000, ge=0, le=1_000_000)
    """Python models: how long the dynamic batcher waits to fill a batch, in microseconds. Defaults to 1000."""
    preferred_batch_sizes: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list)
    """Python models: batch sizes the dynamic batcher prefers, each <= `max_batch_size`. Defaults to none."""
    instance_count: int = Field(default=1, ge=1, le=16)
    """Python models: model instances per GPU. Defaults to 1."""

    @model_validator(mode="after")
    def _preferred_within_max(self) -> BatchingConfig:
        for i, size in enumerate(self.preferred_batch_sizes):
            if size > self.max_batch_size:
                raise _FieldError(
                    f"preferred_batch_sizes[{i}]",
                    f"expected <= max_batch_size ({self.max_batch_size}), got {size}",
                )
        return self


class ActiveHours(_Strict):
    """A window in which a scale-to-zero model keeps its minimum replicas (KEDA cron trigger)."""

    timezone: str = "UTC"
    """IANA time zone of the cron expressions. Defaults to UTC."""
    start: str = "0 8 * * 1-5"
    """5-field cron expression that opens the window. Defaults to 08:00 Monday to Friday."""
    end: str = "0 20 * * 1-5"
    """5-field cron expression that closes the window. Defaults to 20:00 Monday to Friday."""

    @field_validator("start", "end")
    @classmethod
    def _cron(cls, v: str) -> str:
        if len(v.split()) != 5:
            raise ValueError(f"expected a 5-field cron expression, got {shown(v)}")
        return v


EngineArgValue = str | int | float | bool


class ModelConfig(_Strict):
    """One model served by its own Triton workload."""

    name: DnsLabel
    """Model name (a DNS label): names the Triton model, its Service and its workload."""
    namespace: NamespaceName = "llm-serving"
    """Tenant namespace of the model. Defaults to `llm-serving`."""
    backend: Literal["vllm", "tensorrtllm", "python"]
    """Triton backend: `vllm`, `tensorrtllm` or `python`."""
    weights_uri: str
    """Where the weights live: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX."""
    weights_size_gib: float = Field(gt=0, le=4096)
    """Size of the weights in GiB (sizes the cache, memory and probe budget)."""
    revision: str | None = None
    """Pinned revision of the weights: the SHA-256 of the `SHA256SUMS` checksum list stored with them
    (`llm-infra weights-revision DIR` prints it), so it pins their content. The init container refuses
    weights that do not match it, and a replica whose cache holds it skips the download. Defaults to
    none: every start checks the store's checksum list, and the weights follow whatever it says."""
    gpu_pool: DnsLabel
    """Name of the GPU pool the model runs on."""
    gpus_per_replica: int = Field(default=1, ge=1, le=8)
    """GPUs per replica (tensor parallelism). Defaults to 1."""
    min_replicas: int = Field(default=1, ge=0, le=100)
    """Minimum replicas (0 scales to zero outside `active_hours`; production needs 2). Defaults to 1."""
    max_replicas: int = Field(default=1, ge=1, le=100)
    """Maximum replicas, at least `min_replicas`. Defaults to 1."""
    batching: BatchingConfig = Field(default_factory=BatchingConfig)
    """Request batching. Defaults to batches of up to 64."""
    engine_args: dict[str, EngineArgValue] = Field(default_factory=dict)
    """Extra engine arguments (vLLM `model.json`, TensorRT-LLM parameters), besides those llm-infra derives. Defaults to none."""
    python_model: str | None = None
    """Path of the `model.py` of a python-backend model (required for `python`, refused otherwise). Defaults to none."""
    clients: list[NamespaceName] = Field(default_factory=list)
    """Namespaces whose pods may call the model; nothing else may. Defaults to none."""
    openai_api: bool = True
    """Serve the model through Triton's OpenAI-compatible frontend: clients call the OpenAI API (port 9000), and the
    KServe v2 endpoints of the same server stay inside the pod (the pinned frontend cannot restrict their admin APIs).
    `false` serves clients the KServe v2 protocol from a locked-down `tritonserver` instead. Defaults to `true`."""
    cpu: int = Field(default=4, ge=1, le=256)
    """CPU cores per replica. Defaults to 4."""
    memory_gib: int | None = Field(default=None, ge=1, le=4096)
    """Host memory per replica in GiB. Defaults to 1.25 x the weights + 8, at least 16."""
    shm_size_gib: int = Field(default=2, ge=1, le=256)
    """Shared memory (/dev/shm) per replica in GiB. Defaults to 2."""
    cache_size_gib: int | None = Field(default=None, ge=1, le=65536)
    """Size of each replica's encrypted model cache in GiB. Defaults to 1.5 x the weights, at least 10."""
    max_load_seconds: int | None = Field(default=None, ge=30, le=7200)
    """Startup probe budget in seconds. Defaults to a conservative read of the weights plus 180 s, with 50 % margin."""
    exit_timeout_seconds: int = Field(default=90, ge=5, le=3600)
    """How long Triton drains in-flight requests after SIGTERM. Defaults to 90."""
    pre_stop_seconds: int = Field(default=10, ge=0, le=120)
    """preStop sleep while endpoints stop routing to a terminating pod. Defaults to 10."""
    target_queue_compute_ratio: float = Field(default=1.5, gt=0, le=100)
    """Scale out above this queue-to-compute ratio. Defaults to 1.5, not 1: a batching replica that is
    merely busy sits at ~1, since a request waits for the running batch (docs/benchmarks.md)."""
    max_queue_ms: float | None = Field(default=None, gt=0, le=60_000)
    """Also scale out when a request waits longer than this in Triton's queue. Defaults to
    off: a useful value must exceed one batch's compute time, which only the model's owner knows."""
    target_engine_utilization: float = Field(default=0.8, gt=0, le=1)
    """vLLM and TensorRT-LLM models: scale out when requests in flight per replica exceed this share of
    `batching.max_batch_size` (vLLM `max_num_seqs`, TensorRT-LLM's max active requests). Defaults to 0.8."""
    scale_down_stabilization_seconds: int = Field(default=300, ge=0, le=3600)
    """How long load must stay low before replicas are removed. Defaults to 300."""
    active_hours: ActiveHours | None = None
    """The window in which a scale-to-zero model (`min_replicas: 0`) is up. Defaults to none (required with 0)."""
    image: str | None = None
    """Triton image. Defaults to the pinned image for the backend in `llm_infra.versions`."""
    shape: str | None = None
    """A known model shape (`llm_infra.planning.KNOWN_SHAPES`, e.g. `Llama-3.1-8B`) for the capacity check,
    the GPU fit and the cost per million tokens. Defaults to none (no capacity check)."""
    weight_dtype: Literal["bf16", "fp16", "fp8", "int8", "int4"] = "bf16"
    """Data type of the served weights for the capacity check: bf16, fp16, fp8, int8 or int4. Defaults to bf16."""
    max_context: int | None = Field(default=None, ge=256, le=1_048_576)
    """Longest sequence served (vLLM max_model_len). Defaults to the shape's full context."""
    acknowledge_remote_code: bool = False
    """Allow `engine_args.trust_remote_code` in a production stack: the engine then runs Python shipped
    with the weights. Defaults to false (refused in production)."""

    @field_validator("weights_uri")
    @classmethod
    def _uri(cls, v: str) -> str:
        parse_weights_uri(v)
        return v

    @field_validator("revision")
    @classmethod
    def _revision_pins_content(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[0-9a-f]{64}", v):
            raise ValueError("expected the SHA-256 of the weights' SHA256SUMS checksum list (64 lowercase hex "
                             f"digits, printed by `llm-infra weights-revision DIR`), got {v!r}")
        return v

    @field_validator("shape")
    @classmethod
    def _known_shape(cls, v: str | None) -> str | None:
        from ..planning.capacity import KNOWN_SHAPES

        if v is not None and v not in KNOWN_SHAPES:
            raise ValueError(f"expected one of {sorted(KNOWN_SHAPES)}, got {shown(v)}")
        return v

    @property
    def model_shape(self):  # -> llm_infra.planning.ModelShape | None
        """The served shape: the known architecture with this model's context, concurrency and dtype."""
        if self.shape is None:
            return None
        from ..planning.capacity import KNOWN_SHAPES

        return KNOWN_SHAPES[self.shape].serving(
            max_context=self.max_context, max_concurrent_seqs=self.batching.max_batch_size,
            weight_dtype=self.weight_dtype,
        )

    @model_validator(mode="after")
    def _cross_fields(self) -> ModelConfig:
        if self.max_replicas < self.min_replicas:
            raise _FieldError("max_replicas", f"expected >= min_replicas ({self.min_replicas}), got {self.max_replicas}")
        if self.backend == "python" and not self.python_model:
            raise _FieldError("python_model", "expected a path to the model.py of a python-backend model, got nothing")
        if self.backend != "python" and self.python_model:
            raise _FieldError("python_model", f"expected no python_model for backend {self.backend!r}, got {shown(self.python_model)}")
        owned = sorted(_OWNED_ENGINE_ARGS[self.backend] & set(self.engine_args))
        if owned:
            raise _FieldError(
                f"engine_args.{owned[0]}",
                f"expected to be left out: llm-infra derives it from the model spec, got {self.engine_args[owned[0]]!r}",
            )
        if self.max_context is not None and "max_model_len" in self.engine_args:
            raise _FieldError("engine_args.max_model_len", "expected to be left out when max_context is set "
                              f"(llm-infra passes max_context to the engine), got {self.engine_args['max_model_len']!r}")
        if self.min_replicas == 0 and self.active_hours is None:
            raise _FieldError(
                "active_hours",
                "expected a window (timezone, start, end) for a model that scales to zero: at zero replicas "
                "Triton exports no queue metrics, so only the schedule can wake it; got nothing",
            )
        if self.active_hours is not None and self.min_replicas != 0:
            raise _FieldError("active_hours", f"expected only with min_replicas 0 (scale to zero), got min_replicas {self.min_replicas}")
        return self

    @property
    def uri_scheme(self) -> str:
        return parse_weights_uri(self.weights_uri)[0]

    @property
    def effective_memory_gib(self) -> int:
        """Host memory: weights are staged through page cache while loading, plus runtime headroom."""
        return self.memory_gib or max(16, math.ceil(self.weights_size_gib * 1.25) + 8)

    @property
    def effective_cache_size_gib(self) -> int:
        return self.cache_size_gib or max(10, math.ceil(self.weights_size_gib * 1.5))

    @property
    def effective_max_load_seconds(self) -> int:
        """Worst-case time from container start to ready.

        A read of the cached weights from the persistent volume at `CACHE_READ_MIB_S` (what the
        clouds' cache volumes are provisioned for, or the platform passes the volume's real
        rate: `load_budget_seconds`), plus 180 s of CUDA context, engine and graph-capture
        start-up, with 50 % margin.
        """
        if self.max_load_seconds is not None:
            return self.max_load_seconds
        return self.load_budget_seconds(CACHE_READ_MIB_S)

    def load_budget_seconds(self, read_mib_s: float) -> int:
        """The startup budget when the model cache reads at `read_mib_s`."""
        read_s = self.weights_size_gib * 1024 / read_mib_s
        return int(math.ceil((read_s + 180) * 1.5))

    @property
    def termination_grace_seconds(self) -> int:
        """preStop sleep + Triton's exit timeout + 15 s for the process to flush and exit."""
        return self.pre_stop_seconds + self.exit_timeout_seconds + 15


class ChartSource(_Strict):
    """Where a Helm chart comes from: a chart repository and version, or a chart on disk (an offline mirror)."""

    repo: str | None = None
    """Chart repository URL (`https://...` or `oci://...`). Defaults to the upstream repository in `llm_infra.versions`."""
    version: str | None = None
    """Chart version. Defaults to the version pinned in `llm_infra.versions`."""
    path: str | None = None
    """A chart directory or `.tgz` on the deploying machine, instead of a repository. Defaults to none."""

    @model_validator(mode="after")
    def _one_source(self) -> ChartSource:
        if self.path is not None and (self.repo is not None or self.version is not None):
            raise ValueError(f"path: expected a chart path or a repo and version, not both, got path {self.path!r}")
        if self.path is not None and (not self.path.strip() or self.path.startswith(("/proc", "/sys", "/dev", "~"))):
            raise ValueError(f"path: expected a chart directory or archive, got {self.path!r}")
        if self.repo is not None and not re.match(r"^(https?|oci|file)://\S+$", self.repo):
            raise ValueError(f"repo: expected an https://, oci:// or file:// URL, got {self.repo!r}")
        return self


class MonitoringConfig(_Strict):
    """Prometheus Operator objects, Grafana dashboards and KEDA autoscaling."""

    enabled: bool = True
    """Create ServiceMonitors, alert rules, dashboards and KEDA autoscaling (needs the Prometheus Operator and KEDA). Defaults to true."""
    namespace: NamespaceName = "monitoring"
    """Namespace of Prometheus and Grafana, the only one allowed to scrape. Defaults to `monitoring`."""
    prometheus_url: str = "http://prometheus-operated.monitoring.svc:9090"
    """Prometheus URL that KEDA queries. Defaults to the Prometheus Operator's service in `monitoring`."""
    selector_labels: dict[str, str] = Field(default_factory=lambda: {"release": "kube-prometheus-stack"})
    """Labels on the ServiceMonitors and PrometheusRules that Prometheus' `serviceMonitorSelector` and
    `ruleSelector` match. Defaults to `release: kube-prometheus-stack`, what a kube-prometheus-stack Helm
    release of that name (the one `install_operators` creates) selects."""
    install_operators: bool | None = None
    """Install KEDA and kube-prometheus-stack as pinned Helm releases before any of their custom resources.
    Defaults to true on a cluster the stack creates (aws, gcp, azure) and false on `existing` (the cluster has them)."""
    keda_chart: ChartSource = Field(default_factory=ChartSource)
    """Where the KEDA chart comes from. Defaults to the repository and version pinned in `llm_infra.versions`."""
    prometheus_chart: ChartSource = Field(default_factory=ChartSource)
    """Where the kube-prometheus-stack chart comes from. Defaults to the repository and version pinned in
    `llm_infra.versions`."""
    dcgm_exporter: bool = True
    """Run the DCGM exporter for GPU metrics where the cloud does not collect them. Defaults to true."""

    @field_validator("prometheus_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+(:\d+)?(/\S*)?$", v):
            raise ValueError(f"expected an http(s) URL, got {shown(v)}")
        return v


_DNS_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class InferenceGatewayConfig(_Strict):
    """Inference routing by the Gateway API Inference Extension: per model an InferencePool and its endpoint picker,
    behind one private Gateway (llm_infra.kubernetes.inference_gateway)."""

    enabled: bool = False
    """Route each model through an InferencePool and an endpoint picker fed by the engine's own metrics.
    Defaults to false: clients reach each model through its ClusterIP Service only."""
    gateway_class: Annotated[str, Field(pattern=_DNS_LABEL, max_length=63)] | None = None
    """GatewayClass of an implementation that supports InferencePool and provisions internal load balancers.
    Defaults to `gke-l7-rilb` (GKE's regional internal Application Load Balancer) on gcp; required elsewhere."""
    namespace: NamespaceName = "llm-gateway"
    """Namespace of the Gateway. Defaults to `llm-gateway`."""
    install_crds: bool | None = None
    """Install the pinned Gateway API and InferencePool CRDs. Defaults to true on aws and azure, false on gcp
    (GKE 1.34.0-gke.1626000 and later install them) and on `existing` (the cluster has them)."""
    source_cidrs: list[Annotated[str, Field(max_length=43)]] = Field(default_factory=list)
    """Private ranges a managed load balancer's proxies connect from (GKE: the region's proxy-only subnet), let
    in to the model pods and endpoint pickers. Defaults to none: only pods of the Gateway's namespace."""
    hostname: Annotated[str, Field(pattern=_DNS_NAME, max_length=253)] | None = None
    """The name clients use for the Gateway: its HTTPS listener's `hostname` and its certificate's DNS name.
    Defaults to none: any name is routed and the certificate names `llm-inference.<namespace>` (clients
    verify it with `--resolve` or a DNS record of yours)."""
    plaintext_listener: bool = False
    """The named opt-out: the Gateway listens with plain HTTP on port 80 instead of HTTPS on 443 with a
    certificate from cert-manager. Defaults to false."""


class TlsConfig(_Strict):
    """TLS on every hop the stack owns: client to model, the metrics scrape, KEDA to Prometheus (docs/tls.md)."""

    enabled: bool = True
    """Serve every model endpoint over TLS only (no plaintext listener reachable outside the pod), scrape its
    metrics over TLS and, where the stack installs Prometheus, serve Prometheus' API over TLS. Defaults to true;
    `false` is the named opt-out."""
    mutual: bool = False
    """Require a client certificate from the stack's issuer on the inference ports (mTLS between namespaces).
    Health probes and the metrics port (reachable only from the monitoring namespace) take server TLS alone.
    Defaults to false: clients in other namespaces verify the server and the NetworkPolicy admits only
    `clients` namespaces; turn it on where every client can get a certificate from cert-manager."""
    cluster_issuer: Annotated[str, Field(pattern=_DNS_LABEL, max_length=63)] | None = None
    """A cert-manager ClusterIssuer of your own PKI that signs every certificate (its Secrets must carry
    `ca.crt`, as the CA and Vault issuers' do). Defaults to the stack's own: a self-signed root and a CA
    ClusterIssuer `llm-infra-ca` created by the stack."""
    install_cert_manager: bool | None = None
    """Install cert-manager as a pinned Helm release before any certificate. Defaults to true on a cluster the
    stack creates (aws, gcp, azure) and false on `existing` (the cluster must run it)."""
    cert_manager_chart: ChartSource = Field(default_factory=ChartSource)
    """Where the cert-manager chart comes from. Defaults to the repository and version pinned in `llm_infra.versions`."""
    cert_manager_namespace: NamespaceName = "cert-manager"
    """cert-manager's namespace, where the stack's CA key pair lives (a ClusterIssuer reads its Secret there).
    Defaults to `cert-manager`."""


class DevicePluginConfig(_Strict):
    """The NVIDIA device plugin, where the cloud does not manage it."""

    time_slicing_replicas: int | None = Field(default=None, ge=2, le=64)
    """Advertise each GPU this many times (time-slicing, no memory isolation). Defaults to none: one per GPU."""
    device_list_strategy: Literal["volume-mounts", "envvar"] | None = None
    """How allocated GPUs reach the NVIDIA runtime. `volume-mounts`: a pod sees only the GPUs it was allocated
    (the EKS GPU nodes are configured for it at boot; other nodes need `llm_infra.kubernetes.device_plugin.
    NODE_RUNTIME_SETTINGS`). `envvar` opts out: any pod on a GPU node may claim every GPU. Defaults to the
    cloud's (`llm_infra.guardrails.device_list_strategy`): `volume-mounts`, except AKS (`envvar`, no node bootstrap)."""


class GpuAdmissionConfig(_Strict):
    """Admission control that keeps GPUs with the pods they were allocated to (llm_infra.kubernetes.gpu_admission)."""

    enabled: bool = True
    """Install a ValidatingAdmissionPolicy that refuses, outside the exempt namespaces, a container setting the
    NVIDIA toolkit's device selectors (`NVIDIA_VISIBLE_DEVICES`, ...) and a pod on GPU nodes (tolerating the GPU
    taint or requiring the pool label) without a GPU request. Defaults to true; `false` is the named opt-out."""
    exempt_namespaces: list[NamespaceName] = Field(default_factory=list)
    """Namespaces whose pods may see every GPU of a node, besides `kube-system` and the DCGM exporter's (a GPU
    Operator's namespace, e.g. `gpu-operator`). Defaults to none."""


class NodeAllocatableConfig(_Strict):
    """What one node of a GPU pool offers pods: `kubectl get node NODE -o jsonpath='{.status.allocatable}'`."""

    cpu: Annotated[str, Field(pattern=r"^\d+(\.\d+)?m?$")]
    """Allocatable CPU, e.g. `7910m` or `8`."""
    memory: Annotated[str, Field(pattern=r"^\d+(Ki|Mi|Gi|Ti)?$")]
    """Allocatable memory, e.g. `60109360Ki` or `58Gi` (bytes without a suffix)."""
    ephemeral_storage: Annotated[str, Field(pattern=r"^\d+(Ki|Mi|Gi|Ti)?$")]
    """Allocatable `ephemeral-storage`, e.g. `95491281146` or `88Gi`."""
    pods: int = Field(default=110, ge=1, le=1000)
    """Allocatable pods. Defaults to 110."""


class ExistingClusterConfig(_Strict):
    """What llm-infra needs to know about a cluster it did not create."""

    storage_class: Annotated[str, Field(pattern=_DNS_LABEL, max_length=63)]
    """Name of a StorageClass whose volumes are encrypted with a customer-managed key."""
    manages_device_plugin: bool = False
    """Whether the cluster already runs the NVIDIA device plugin (GPU Operator, GKE). Defaults to false."""
    model_identities: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Per model name, the annotations of its service account (e.g. `eks.amazonaws.com/role-arn`). Defaults to none."""
    zone_label: str = "topology.kubernetes.io/zone"
    """Node label that names the zone. Defaults to `topology.kubernetes.io/zone`."""
    gpu_nodes: dict[str, NodeAllocatableConfig] = Field(default_factory=dict)
    """Per GPU pool name, the allocatable of one of its nodes; config validation checks that each model's replica
    fits it (`llm_infra.fit`). Defaults to none: a pool without an entry is not checked."""


class AccessConfig(_Strict):
    """How the deployer (a person or a CI runner) reaches the cluster's private API endpoint (docs/access.md)."""

    deployer_cidrs: list[str] = Field(default_factory=list)
    """Networks `pulumi up` runs from, routed into the stack's network (VPC peering, Transit Gateway, VPN,
    Interconnect, ExpressRoute): the stack opens the private API endpoint to exactly these (EKS: 443 on the
    cluster security group; GKE: authorized networks and the control plane's routes; AKS: the API server's
    name resolvable outside the VNet). Defaults to none: only from inside the stack's own network."""

    @field_validator("deployer_cidrs")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for i, cidr in enumerate(v):
            _allowlisted_network(f"deployer_cidrs[{i}]", cidr, what="the API endpoint")
            if not ipaddress.IPv4Network(cidr).is_private:
                raise _FieldError(f"deployer_cidrs[{i}]", f"expected a private network routed into the stack's "
                                  f"network (the API endpoint has no public address), got {cidr!r}")
        return v


class TeardownConfig(_Strict):
    """What `pulumi destroy` may delete (docs/teardown.md). Customer keys are always protected and retained."""

    delete_model_data: bool = False
    """Let `pulumi destroy` delete the model store with the weights in it. Defaults to false: the store, its
    objects and the settings that guard it stay in the cloud (retained), still encrypted with the retained key."""
    cluster_deletion_protection: bool | None = None
    """The cloud's own deletion protection on the cluster (EKS, GKE; AKS has none): `pulumi destroy` cannot
    delete a protected cluster. Defaults to on for production stacks and on GKE, off for other EKS stacks."""


def _tls_problems(config: StackConfig) -> list[str]:
    """TLS settings that contradict each other or the monitoring settings."""
    tls, monitoring = config.tls, config.monitoring
    if not tls.enabled:
        return []
    installs_prometheus = (monitoring.install_operators if monitoring.install_operators is not None
                           else config.cloud != "existing")
    default = MonitoringConfig.model_fields["prometheus_url"].default  # the stack upgrades it to https://
    if (installs_prometheus and monitoring.enabled and monitoring.prometheus_url != default
            and monitoring.prometheus_url.startswith("http://")):
        return [f"monitoring.prometheus_url: expected https:// (the Prometheus the stack installs serves only TLS "
                f"while tls.enabled), got {shown(monitoring.prometheus_url)}"]
    return []


class StackConfig(_Strict):
    """Everything a stack needs; shared by every cloud."""

    cloud: str
    """Where the cluster comes from: a registered cloud (`aws`, `gcp`, `azure`; built by llm-infra) or `existing`."""
    environment: DnsLabel
    """Environment name (a DNS label): names the cluster and its resources."""
    production: bool = True
    """Production rules: dedicated isolation, 2+ replicas, strict zone spread, no spot. Defaults to true."""
    region: str | None = None
    """Cloud region (required on a cloud). Defaults to none (for `existing`)."""
    isolation: Literal["dedicated", "shared"] = "dedicated"
    """GPU nodes on single-tenant hardware (`dedicated`) or not (`shared`, non-production only). Defaults to dedicated."""
    gpu_pools: list[GpuPoolConfig] = Field(min_length=1)
    """The GPU node pools (at least one)."""
    models: list[ModelConfig] = Field(min_length=1)
    """The models to serve (at least one), each on one of the pools."""
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    """Monitoring and autoscaling. Defaults to enabled, in namespace `monitoring`."""
    inference_gateway: InferenceGatewayConfig = Field(default_factory=InferenceGatewayConfig)
    """Inference routing by the Gateway API Inference Extension. Defaults to off: a ClusterIP Service per model."""
    tls: TlsConfig = Field(default_factory=TlsConfig)
    """TLS on every hop the stack owns. Defaults to on, certificates from the stack's own CA through cert-manager."""
    device_plugin: DevicePluginConfig = Field(default_factory=DevicePluginConfig)
    """NVIDIA device plugin settings. Defaults to one `nvidia.com/gpu` per physical GPU."""
    gpu_admission: GpuAdmissionConfig = Field(default_factory=GpuAdmissionConfig)
    """Admission control of GPU access. Defaults to on: no pod names GPUs itself or sits on a GPU node without one."""
    access: AccessConfig = Field(default_factory=AccessConfig)
    """How the deployer reaches the private API endpoint. Defaults to only from inside the stack's network."""
    teardown: TeardownConfig = Field(default_factory=TeardownConfig)
    """What `pulumi destroy` may delete. Defaults to keeping the keys and the model data, and to the cloud's
    deletion protection on production (and GKE) clusters."""
    cost: CostConfig = Field(default_factory=CostConfig)
    """What the cost estimate does with what has no sourced price. Defaults to refusing unpriced GPU pools."""
    existing: ExistingClusterConfig | None = None
    """The cluster the user runs (only and required with `cloud: existing`). Defaults to none."""
    aws: AwsConfig | None = None
    """AWS specifics (only with `cloud: aws`). Defaults to secure AWS defaults."""
    gcp: GcpConfig | None = None
    """GCP specifics (required with `cloud: gcp`). Defaults to none."""
    azure: AzureConfig | None = None
    """Azure specifics (required with `cloud: azure`). Defaults to none."""
    image_registries: list[Annotated[str, Field(pattern=r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$", max_length=200)]] = Field(
        default_factory=list)
    """Registries (or registry/path prefixes) that model images may also come from, e.g. your cloud's mirror
    `123456789012.dkr.ecr.eu-west-1.amazonaws.com/nvidia`. Defaults to none: only the pinned images' registries."""

    _plugin_settings: BaseModel | None = PrivateAttr(default=None)

    @field_validator("cloud")
    @classmethod
    def _registered_cloud(cls, v: str) -> str:
        if v not in cloud_names():
            *others, last = [repr(name) for name in cloud_names()]
            raise ValueError(f"expected {', '.join(others)} or {last}, got {shown(v)}")
        return v

    @model_validator(mode="wrap")
    @classmethod
    def _plugin_settings_block(cls, data: Any, handler: Any) -> StackConfig:
        """A plug-in cloud that StackConfig declares no field for keeps its block under its own name too
        (`toycloud: {...}`), validated by the plug-in's settings model."""
        plugin = cloud_plugin(data.get("cloud")) if isinstance(data, dict) else None
        if plugin is None or plugin.name in cls.model_fields or plugin.name not in data:
            return handler(data)
        data = dict(data)
        raw = data.pop(plugin.name)
        if raw is None:
            return handler(data)
        try:
            block = raw if isinstance(raw, plugin.settings) else plugin.settings.model_validate(raw)
        except ValidationError as exc:
            from .loading import _problems as described

            raise _Problems(described(exc, prefix=f"{plugin.name}.")) from None
        token = _PLUGIN_BLOCK.set(block)
        try:
            config = handler(data)
        finally:
            _PLUGIN_BLOCK.reset(token)
        config._plugin_settings = block
        return config

    @model_validator(mode="after")
    def _cross_fields(self) -> StackConfig:
        problems: list[str] = []
        from ..clouds import CLOUDS

        for cloud, plugin in CLOUDS.items():
            if self.cloud != cloud and cloud in type(self).model_fields and getattr(self, cloud) is not None:
                problems.append(f"{cloud}: expected only with cloud {cloud!r}, got it with cloud {self.cloud!r}")
            if self.cloud == cloud:
                problems += plugin.problems(self)
        if self.cloud != "existing" and not self.region:
            problems.append(f"region: expected a {self.cloud} region for cloud {self.cloud!r}, got nothing")
        if self.cloud == "existing" and self.existing is None:
            problems.append("existing: expected storage_class (and model_identities) for cloud 'existing', got nothing")
        if self.cloud != "existing" and self.existing is not None:
            problems.append(f"existing: expected only with cloud 'existing', got it with cloud {self.cloud!r}")
        problems += _unique("gpu_pools", [p.name for p in self.gpu_pools])
        problems += _unique("models", [m.name for m in self.models])
        if self.production and self.isolation != "dedicated":
            problems.append(f"isolation: expected 'dedicated' in a production stack, got {shown(self.isolation)}")
        pools = {p.name: p for p in self.gpu_pools}
        schemes = uri_schemes(self.cloud)
        for i, m in enumerate(self.models):
            where = f"models[{i}]"
            pool = pools.get(m.gpu_pool)
            if pool is None:
                problems.append(f"{where}.gpu_pool: expected one of {sorted(pools)}, got {shown(m.gpu_pool)}")
            elif m.gpus_per_replica > pool.gpus_per_node:
                problems.append(
                    f"{where}.gpus_per_replica: expected <= gpus_per_node of pool {pool.name!r} "
                    f"({pool.gpus_per_node}), got {m.gpus_per_replica}"
                )
            if pool is not None and m.model_shape is not None:
                problems += _capacity_problems(where, m, pool)
            if m.uri_scheme not in schemes:
                problems.append(
                    f"{where}.weights_uri: expected a {'/'.join(s + '://' if s != 'azureblob' else 'https://ACCOUNT.blob.core.windows.net/' for s in schemes)} "
                    f"URI for cloud {self.cloud!r}, got {shown(m.weights_uri)}"
                )
            problems += _driver_problems(self, where, m)
            if self.production and m.min_replicas < 2:
                problems.append(f"{where}.min_replicas: expected >= 2 in a production stack, got {m.min_replicas}")
            if m.min_replicas != m.max_replicas and not self.monitoring.enabled:
                problems.append(
                    f"{where}.max_replicas: autoscaling needs monitoring.enabled (Triton metrics); "
                    f"expected max_replicas == min_replicas ({m.min_replicas}), got {m.max_replicas}"
                )
            if m.min_replicas == 0 and not self.monitoring.enabled:
                problems.append(f"{where}.min_replicas: scale to zero needs monitoring.enabled, got 0")
            if self.existing is not None and m.name not in self.existing.model_identities:
                problems.append(
                    f"existing.model_identities.{m.name}: expected the service-account annotations that let "
                    f"model {m.name!r} read {m.weights_uri}, got nothing"
                )
        if self.existing is not None:
            for name in sorted(set(self.existing.model_identities) - {m.name for m in self.models}):
                problems.append(f"existing.model_identities.{name}: expected the name of a model, got {shown(name)}")
        problems += _tls_problems(self)
        model_namespaces = {m.namespace for m in self.models}
        for i, ns in enumerate(self.gpu_admission.exempt_namespaces):
            if ns in model_namespaces:
                problems.append(f"gpu_admission.exempt_namespaces[{i}]: expected a namespace other than a model's "
                                f"(its pods would see GPUs they were not given), got {shown(ns)}")
        problems += cost_problems(self)
        from ..guardrails import stack_problems
        from .gateway import config_problems as gateway_problems

        problems += gateway_problems(self)
        problems += stack_problems(self)
        if problems:
            raise _Problems(problems)
        return self

    @property
    def cloud_settings(self) -> Any:
        """The settings block of the stack's cloud (its plug-in's settings model), or its defaults when it has
        them and the block is left out (AWS); None for `existing` and for a missing block that has required
        fields (reported by the checks)."""
        plugin = cloud_plugin(self.cloud)
        if plugin is None:
            return None
        if plugin.name in type(self).model_fields:
            given = getattr(self, plugin.name)
        else:
            given = self._plugin_settings or _PLUGIN_BLOCK.get()
        if given is not None or any(field.is_required() for field in plugin.settings.model_fields.values()):
            return given
        return plugin.settings.model_validate({})  # the same as calling it with no field: only defaults

    def pool(self, name: str) -> GpuPoolConfig:
        return next(p for p in self.gpu_pools if p.name == name)


def _capacity_problems(where: str, model: ModelConfig, pool: GpuPoolConfig) -> list[str]:
    """A model whose weights, KV cache and runtime do not fit its replica's GPUs fails here, with the numbers."""
    from ..planning.capacity import GPU_MEMORY_UTILIZATION, memory_per_gpu, valid_tensor_parallel

    shape = model.model_shape
    tp = model.gpus_per_replica
    if not valid_tensor_parallel(shape, tp):
        return [f"{where}.gpus_per_replica: expected a tensor-parallel degree that divides the "
                f"{shape.attention_heads} attention heads of {model.shape}, got {tp}"]
    need = memory_per_gpu(shape, tp=tp)
    usable = pool.gpu_memory_gib * GPU_MEMORY_UTILIZATION
    if need.total_gib <= usable:
        return []
    return [
        f"{where}.gpus_per_replica: {model.shape} ({model.weight_dtype}, {shape.max_context} tokens x "
        f"{shape.max_concurrent_seqs} sequences) needs {need.total_gib:.1f} GiB per GPU at {tp} GPU(s) per replica "
        f"(weights {need.weights_gib:.1f} + KV cache {need.kv_cache_gib:.1f} + runtime {need.runtime_overhead_gib:.1f}); "
        f"pool {pool.name!r} has {pool.gpu} GPUs with {usable:.1f} GiB usable: expected more GPUs per replica, "
        f"a shorter max_context, a smaller batching.max_batch_size or a larger GPU, got {tp}"
    ]


def _unique(field: str, names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for i, n in enumerate(names):
        if n in seen:
            out.append(f"{field}[{i}].name: expected a unique name, got duplicate {n!r}")
        seen.add(n)
    return out
