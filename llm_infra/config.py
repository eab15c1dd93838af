"""Stack configuration: the only pydantic boundary of the library.

A stack's `Pulumi.<stack>.yaml` holds keys in the `llm-infra` namespace
(`llm-infra:cloud`, `llm-infra:models`, ...). `load_stack_config` reads them, rejects
unknown keys and turns every validation problem into one `ConfigError` whose lines each
name the field path, what was given and what is expected. It runs before any resource
is registered, so bad config never leaves a half-built stack behind.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NotRequired, TypedDict, TypeVar

from . import versions
from .planning.catalog import GPUS as _GPU_SPECS
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

CONFIG_NAMESPACE = "llm-infra"

# The model cache's sequential read rate the startup budget assumes, in MiB/s. Volumes whose
# throughput is provisioned (EBS gp3, Azure Premium SSD v2) are provisioned at this rate;
# elsewhere the platform computes the budget from the volume's documented rate.
CACHE_READ_MIB_S = 200
M = TypeVar("M", bound=BaseModel)

# Secret keys: never read by the offline plan; the CLI stores them encrypted.
SECRET_KEYS = frozenset({"kubeconfig"})

# GPU models the library knows how to schedule and size, with the memory the driver
# reports in GiB (the smallest variant's), from the planning catalog.
GPU_MEMORY_GIB: dict[str, float] = {
    model: min(spec.memory_gib for spec in _GPU_SPECS.values() if spec.model == model)
    for model in sorted({spec.model for spec in _GPU_SPECS.values()})
}

# Which object-store URI each cloud's workload identity can read.
URI_SCHEMES_BY_CLOUD: dict[str, tuple[str, ...]] = {
    "aws": ("s3",),
    "gcp": ("gs",),
    "azure": ("azureblob",),
    "existing": ("s3", "gs", "azureblob"),
}

_DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
DnsLabel = Annotated[str, Field(pattern=_DNS_LABEL, min_length=1, max_length=40)]
NamespaceName = Annotated[str, Field(pattern=_DNS_LABEL, min_length=1, max_length=63)]

_AZURE_BLOB = re.compile(r"^https://([a-z0-9]{3,24})\.blob\.core\.windows\.net/([a-z0-9][-a-z0-9]{2,62})(/.*)?$")
_S3 = re.compile(r"^s3://([a-z0-9][-a-z0-9.]{1,61}[a-z0-9])(/.*)?$")
_GS = re.compile(r"^gs://([a-z0-9][-a-z0-9_.]{1,61}[a-z0-9])(/.*)?$")

# Keys of the backend engine arguments that the library derives itself.
_OWNED_ENGINE_ARGS: dict[str, frozenset[str]] = {
    "vllm": frozenset({"model", "tensor_parallel_size", "max_num_seqs"}),
    "tensorrtllm": frozenset({"gpt_model_path", "gpt_model_type", "max_beam_width"}),
    "python": frozenset(),
}


def shown(value: Any, limit: int = 100) -> str:
    """A short, safe echo of a value a user gave: at most `limit` characters of its repr.

    Errors echo what was given, never all of it (a megabyte string, a 5000-digit integer
    whose repr Python refuses, a structure expanded from YAML aliases).
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value).bit_length() > 128:
        return f"an integer of about {int(abs(value).bit_length() * 0.30103) + 1} digits"
    if isinstance(value, str):
        text = repr(value[: limit + 1])
    elif isinstance(value, dict | list | tuple):
        text = _short_container(value, limit)
    else:
        try:
            text = repr(value)
        except (ValueError, RecursionError):
            text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _short_container(value: dict | list | tuple, limit: int) -> str:
    parts: list[str] = []
    size = 0
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for k, v in items:
        part = (f"{shown(k, 20)}: " if isinstance(value, dict) else "") + (
            shown(v, 20) if not isinstance(v, dict | list | tuple) else ("{...}" if isinstance(v, dict) else "[...]"))
        parts.append(part)
        size += len(part) + 2
        if size > limit:
            break
    open_, close = ("{", "}") if isinstance(value, dict) else ("[", "]")
    return open_ + ", ".join(parts) + close


def _driver_problems(config: StackConfig, where: str, model: ModelConfig) -> list[str]:
    """The GPU nodes' driver must run the model's pinned Triton image (llm_infra.triton.upstream)."""
    from .triton import upstream

    if config.cloud != "aws" or model.image is not None:
        return []  # only EKS node images' drivers are tabled; a custom image is the user's to match
    aws = config.aws or AwsConfig()
    driver = upstream.node_driver("aws", aws.ami_type, aws.kubernetes_version)
    if driver is None or upstream.driver_runs(driver.branch, model.backend):
        return []
    release = upstream.RELEASES[model.backend]
    return [f"{where}.backend: the {model.backend} image (Triton {release.container}, CUDA {release.cuda}) needs "
            f"NVIDIA driver {release.min_driver}+ (or {', '.join(f'R{b}' for b in release.datacenter_compat_drivers)} "
            f"on data-center GPUs), but {aws.ami_type} nodes on Kubernetes {aws.kubernetes_version} run R{driver.branch} "
            f"({driver.source}): use a newer aws.kubernetes_version or set models[].image"]


class ConfigError(ValueError):
    """Stack configuration is invalid. Each line names a field, the value and what is expected."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [_bounded(p) for p in ([problems] if isinstance(problems, str) else list(problems))]
        # One problem is one line (what a CLI user and a CI log want); several get a line each.
        sep = " " if len(self.problems) == 1 else "\n  "
        super().__init__("invalid llm-infra stack config:" + sep + "\n  ".join(self.problems))


def _bounded(problem: str, limit: int = 600) -> str:
    """One line, of bounded length: a message never carries a whole hostile value."""
    line = " ".join(str(problem).split()) if "\n" in str(problem) or "\r" in str(problem) else str(problem)
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def parse_weights_uri(uri: str) -> tuple[str, str, str]:
    """Split a weights URI into (scheme, bucket or `account/container`, prefix without slashes).

    The scheme is `s3`, `gs` or `azureblob` (for `https://<account>.blob.core.windows.net/...`).
    """
    for scheme, pattern in (("s3", _S3), ("gs", _GS)):
        m = pattern.match(uri)
        if m:
            return scheme, m.group(1), (m.group(2) or "").strip("/")
    m = _AZURE_BLOB.match(uri)
    if m:
        return "azureblob", f"{m.group(1)}/{m.group(2)}", (m.group(3) or "").strip("/")
    raise ValueError(
        "expected s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or "
        f"https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX, got {shown(uri)}"
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


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
        from .planning.capacity import KNOWN_SHAPES

        if v is not None and v not in KNOWN_SHAPES:
            raise ValueError(f"expected one of {sorted(KNOWN_SHAPES)}, got {shown(v)}")
        return v

    @property
    def model_shape(self):  # -> llm_infra.planning.ModelShape | None
        """The served shape: the known architecture with this model's context, concurrency and dtype."""
        if self.shape is None:
            return None
        from .planning.capacity import KNOWN_SHAPES

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


class DevicePluginConfig(_Strict):
    """The NVIDIA device plugin, where the cloud does not manage it."""

    time_slicing_replicas: int | None = Field(default=None, ge=2, le=64)
    """Advertise each GPU this many times (time-slicing, no memory isolation). Defaults to none: one per GPU."""


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



# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)
_IAM_PRINCIPAL = r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:(role|user)/[A-Za-z0-9+=,.@_/-]{1,512}$"
_S3_BUCKET_NO_DOTS = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class AwsConfig(_Strict):
    """AWS specifics of a `cloud: aws` stack. Every field has a secure default."""

    account_id: str | None = Field(default=None, pattern=r"^\d{12}$")
    """The AWS account the stack deploys into; the provider refuses any other. Defaults to the caller's account."""
    vpc_id: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    """An existing VPC (default tenancy). Defaults to a new VPC."""
    private_subnet_ids: dict[str, str] | None = None
    """Existing private subnets, zone -> subnet id (with `vpc_id`). Defaults to new subnets."""
    vpc_cidr: str = "10.40.0.0/16"
    """CIDR of a new VPC, /16 to /24. Defaults to 10.40.0.0/16."""
    availability_zones: list[str] | None = None
    """Zones of a new VPC (2 or 3). Defaults to the region's zones a, b and c."""
    single_nat_gateway: bool = False
    """One NAT gateway for all zones (cheaper, not zone-redundant). Defaults to one per zone."""
    public_access_cidrs: list[str] = Field(default_factory=list)
    """CIDRs that may reach the public API endpoint. Defaults to none: the endpoint is private only."""
    admin_principal_arns: list[str] = Field(default_factory=list)
    """IAM roles/users given cluster admin through access entries; include the one that runs `pulumi up`. Defaults to none."""
    model_publisher_arns: list[str] = Field(default_factory=list)
    """IAM principals that may encrypt new weights into the model bucket with the key. Defaults to none."""
    external_admin_accounts: list[Annotated[str, Field(pattern=r"^\d{12}$")]] = Field(default_factory=list)
    """Other AWS accounts whose principals may appear in admin_principal_arns and model_publisher_arns
    (a reviewed exception). Defaults to none: only the stack's own account."""
    kubernetes_version: str = versions.EKS_KUBERNETES_VERSION
    """EKS Kubernetes minor version. Defaults to `versions.EKS_KUBERNETES_VERSION`."""
    log_retention_days: int = 365
    """Retention of the control-plane log group in days (a CloudWatch retention period). Defaults to 365."""
    ami_type: Literal["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"] = "AL2023_x86_64_NVIDIA"
    """EKS-optimized NVIDIA AMI family of the GPU nodes: `AL2023_x86_64_NVIDIA` or `BOTTLEROCKET_x86_64_NVIDIA`. Defaults to AL2023."""
    dedicated_tenancy: Literal["dedicated", "host"] = "dedicated"
    """How `isolation: dedicated` is realised: `dedicated` (Dedicated Instances) or `host` (Dedicated Hosts of a host resource group). Defaults to dedicated."""
    host_resource_group_arn: str | None = Field(default=None, pattern=r"^arn:aws(-cn|-us-gov)?:resource-groups:[a-z0-9-]+:\d{12}:group/[A-Za-z0-9_.-]+$")
    """Host resource group of the Dedicated Hosts (only and required with `dedicated_tenancy: host`). Defaults to none."""
    node_volume_size_gib: int = Field(default=200, ge=50, le=16384)
    """Size of each GPU node's (data) volume in GiB: container images and the node's ephemeral storage. Defaults to 200."""
    system_instance_type: str = Field(default="m7i.large", pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
    """Instance type of the system node group (CoreDNS, EBS CSI controller, cluster autoscaler). Defaults to m7i.large."""
    system_nodes: int = Field(default=2, ge=1, le=10)
    """Number of system nodes. Defaults to 2."""

    @field_validator("kubernetes_version")
    @classmethod
    def _k8s_version(cls, v: str) -> str:
        if v not in versions.CLUSTER_AUTOSCALER_IMAGES:
            raise ValueError(f"expected one of {sorted(versions.CLUSTER_AUTOSCALER_IMAGES)}, got {shown(v)}")
        return v

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v not in LOG_RETENTION_DAYS:
            raise ValueError(f"expected a CloudWatch Logs retention period {list(LOG_RETENTION_DAYS)}, got {shown(v)}")
        return v

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        return _cidr_sized(v, 16, 24)

    @model_validator(mode="after")
    def _cross_fields(self) -> AwsConfig:
        for i, cidr in enumerate(self.public_access_cidrs):
            _allowlisted_network(f"public_access_cidrs[{i}]", cidr,
                                 what="the API endpoint (leave the list empty for a private-only endpoint)")
        for field in ("admin_principal_arns", "model_publisher_arns"):
            for i, arn in enumerate(getattr(self, field)):
                if not re.match(_IAM_PRINCIPAL, arn) or "*" in arn:
                    raise _FieldError(f"{field}[{i}]", "expected an IAM role or user ARN without wildcards "
                                      f"(arn:aws:iam::123456789012:role/NAME), got {shown(arn)}")
        if (self.vpc_id is None) != (self.private_subnet_ids is None):
            missing = "private_subnet_ids" if self.private_subnet_ids is None else "vpc_id"
            raise _FieldError(missing, "expected vpc_id and private_subnet_ids together (an existing VPC), got only one")
        if self.private_subnet_ids is not None:
            if len(self.private_subnet_ids) < 2:
                raise _FieldError("private_subnet_ids", f"expected subnets in at least 2 zones, got {len(self.private_subnet_ids)}")
            for zone, subnet in self.private_subnet_ids.items():
                if not re.match(r"^subnet-[0-9a-f]{8,17}$", subnet):
                    raise _FieldError(f"private_subnet_ids.{zone}", f"expected a subnet id (subnet-...), got {shown(subnet)}")
            if self.availability_zones is not None:
                raise _FieldError("availability_zones", "expected to be left out with an existing VPC "
                                  "(the zones are private_subnet_ids' keys), got a list")
        if self.availability_zones is not None:
            zones = self.availability_zones
            if not 2 <= len(zones) <= 3 or len(set(zones)) != len(zones):
                raise _FieldError("availability_zones", f"expected 2 or 3 distinct zones, got {shown(zones)}")
        if self.dedicated_tenancy == "host" and self.host_resource_group_arn is None:
            raise _FieldError("host_resource_group_arn", "expected the host resource group of the Dedicated Hosts "
                              "(EC2 Auto Scaling launches onto hosts only through one) with dedicated_tenancy 'host', got nothing")
        if self.dedicated_tenancy != "host" and self.host_resource_group_arn is not None:
            raise _FieldError("host_resource_group_arn", f"expected only with dedicated_tenancy 'host', got it with {self.dedicated_tenancy!r}")
        return self

    def zones(self, region: str) -> list[str]:
        """The stack's zones: the existing subnets' zones, the configured zones, or a, b, c of the region."""
        if self.private_subnet_ids is not None:
            return list(self.private_subnet_ids)
        return list(self.availability_zones or [f"{region}{z}" for z in "abc"])


# --- GCP --------------------------------------------------------------------------------
_GCP_PROJECT_ID = r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$"
_GCP_NAME = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
_GCS_BUCKET_NO_DOTS = re.compile(r"^[a-z0-9][-a-z0-9_]{1,61}[a-z0-9]$")


class GcpAuthorizedNetwork(_Strict):
    """A network allowed to reach the GKE control plane's private endpoint."""

    cidr_block: str
    """IPv4 CIDR, e.g. a VPN or CI runner range."""
    display_name: str = Field(default="", max_length=50)
    """Label shown in the console. Defaults to the CIDR."""


class GcpConfig(_Strict):
    """GCP specifics of a `cloud: gcp` stack. Everything but the project and who may reach the control plane has a secure default."""

    project_id: str = Field(pattern=_GCP_PROJECT_ID)
    """The project the stack deploys into."""
    project_number: str = Field(pattern=r"^[1-9][0-9]{5,18}$")
    """The project's number: it names the service agents that may use the key (no lookup offline)."""
    master_authorized_networks: list[GcpAuthorizedNetwork] = Field(min_length=1)
    """Networks that may reach the private control-plane endpoint (the deployer's VPN, CI runners)."""
    network: str | None = Field(default=None, pattern=_GCP_NAME)
    """An existing VPC network (with `subnetwork`, `pods_range_name`, `services_range_name`). Defaults to a new VPC."""
    subnetwork: str | None = Field(default=None, pattern=_GCP_NAME)
    """The existing network's subnetwork in the stack's region, with Private Google Access on. Defaults to a new one."""
    pods_range_name: str | None = Field(default=None, pattern=_GCP_NAME)
    """Secondary range of the existing subnetwork for pod IPs. Defaults to a new one."""
    services_range_name: str | None = Field(default=None, pattern=_GCP_NAME)
    """Secondary range of the existing subnetwork for service IPs. Defaults to a new one."""
    subnet_cidr: str = "10.40.0.0/20"
    """Primary range of a new subnetwork (nodes). Defaults to 10.40.0.0/20."""
    pods_cidr: str = "10.48.0.0/14"
    """Secondary range of a new subnetwork for pods. Defaults to 10.48.0.0/14."""
    services_cidr: str = "10.52.0.0/20"
    """Secondary range of a new subnetwork for services. Defaults to 10.52.0.0/20."""
    master_cidr: str = "172.16.0.32/28"
    """The control plane's /28 in the VPC. Defaults to 172.16.0.32/28."""
    zones: list[str] | None = None
    """Zones of the cluster's nodes (2 or more in production). Defaults to the region's zones a, b and c."""
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    """GKE release channel: RAPID, REGULAR or STABLE. Defaults to REGULAR."""
    node_service_account_email: str | None = None
    """An existing minimal node service account. Defaults to a new one with only the logging, monitoring and Artifact Registry reader roles."""
    system_machine_type: str = "e2-standard-4"
    """Machine type of the system nodes. Defaults to e2-standard-4."""
    system_nodes_per_zone: int = Field(default=1, ge=1, le=10)
    """System nodes per zone. Defaults to 1."""
    gpu_driver_version: Literal["DEFAULT", "LATEST"] = "DEFAULT"
    """NVIDIA driver GKE installs on GPU nodes: DEFAULT or LATEST. Defaults to DEFAULT (the version tested with the node's GKE version)."""
    node_disk_size_gb: int = Field(default=200, ge=50, le=65536)
    """Boot disk of each GPU node (images, ephemeral storage). Defaults to 200."""
    key_rotation_days: int = Field(default=90, ge=1, le=3650)
    """Rotation period of the customer key. Defaults to 90 days."""
    key_protection_level: Literal["SOFTWARE", "HSM"] = "SOFTWARE"
    """Cloud KMS protection level of the key: SOFTWARE or HSM. Defaults to SOFTWARE."""
    model_bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][-a-z0-9_]{1,61}[a-z0-9]$")
    """The stack's model bucket, which it creates; every weights_uri points into it. Defaults to `<project_id>-<environment>-llm-models`."""
    cache_disk_type: Literal["pd-balanced", "pd-ssd"] = "pd-balanced"
    """Persistent disk type of the model caches: pd-balanced or pd-ssd. Defaults to pd-balanced."""

    @field_validator("project_number", mode="before")
    @classmethod
    def _number_as_text(cls, v: Any) -> Any:
        # YAML reads an unquoted project number as an integer.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _cross_fields(self) -> GcpConfig:
        for i, net in enumerate(self.master_authorized_networks):
            _allowlisted_network(f"master_authorized_networks[{i}].cidr_block", net.cidr_block,
                                 what="the control plane")
        for field in ("subnet_cidr", "pods_cidr", "services_cidr", "master_cidr"):
            value = getattr(self, field)
            try:
                net = ipaddress.IPv4Network(value, strict=True)
            except ValueError:
                raise _FieldError(field, f"expected an IPv4 CIDR, got {shown(value)}") from None
            if not net.is_private:
                raise _FieldError(field, f"expected a private (RFC 1918) range, got {shown(value)}")
        if ipaddress.IPv4Network(self.master_cidr).prefixlen != 28:
            raise _FieldError("master_cidr", f"expected a /28 (GKE's control-plane range), got {shown(self.master_cidr)}")
        existing = {f: getattr(self, f) for f in ("network", "subnetwork", "pods_range_name", "services_range_name")}
        given = [f for f, v in existing.items() if v is not None]
        if given and len(given) != len(existing):
            missing = next(f for f, v in existing.items() if v is None)
            raise _FieldError(missing, f"expected with {', '.join(given)} (an existing network needs network, "
                              "subnetwork, pods_range_name and services_range_name), got nothing")
        if self.zones is not None and (len(self.zones) < 1 or len(set(self.zones)) != len(self.zones)):
            raise _FieldError("zones", f"expected distinct zones, got {shown(self.zones)}")
        email = self.node_service_account_email
        if email is not None:
            if re.match(r"^\d+-compute@developer\.gserviceaccount\.com$", email):
                raise _FieldError("node_service_account_email",
                                  "expected a dedicated minimal service account: the default compute account has "
                                  f"Editor on the project, got {shown(email)}")
            if not re.match(rf"^[a-z][-a-z0-9]{{4,28}}[a-z0-9]@{re.escape(self.project_id)}\.iam\.gserviceaccount\.com$", email):
                raise _FieldError("node_service_account_email",
                                  f"expected NAME@{self.project_id}.iam.gserviceaccount.com, got {shown(email)}")
        return self

    def node_zones(self, region: str) -> list[str]:
        """The stack's zones: the configured zones, or a, b and c of the region."""
        return list(self.zones or [f"{region}-{z}" for z in "abc"])


_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_AZURE_SUBNET_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\w.()]{1,90}/providers/Microsoft\.Network/"
    r"virtualNetworks/[-\w.]{2,64}/subnets/[-\w.]{1,80}$")


class AzureConfig(_Strict):
    """Azure specifics of a `cloud: azure` stack. Everything but the tenancy and who administers has a secure default."""

    subscription_id: str = Field(pattern=_GUID)
    """The subscription the stack deploys into (the provider is pinned to it)."""
    tenant_id: str = Field(pattern=_GUID)
    """The Entra ID tenant of the subscription (Key Vault, workload identity)."""
    admin_group_object_ids: list[Annotated[str, Field(pattern=_GUID)]] = Field(min_length=1)
    """Entra ID groups that administer the cluster (local accounts are off); include the deployer's."""
    resource_group_name: str | None = Field(default=None, pattern=r"^[-\w.()]{1,89}[-\w()]$")
    """Resource group of the stack. Defaults to `llm-<environment>`."""
    zones: list[Literal["1", "2", "3"]] = Field(default_factory=lambda: ["1", "2", "3"])
    """Availability zones (`1`, `2`, `3`) of the system pool and, unless a pool names its own, the GPU pools. Defaults to all three."""
    authorized_ip_ranges: list[str] = Field(default_factory=list)
    """Public API server reachable only from these CIDRs. Defaults to none: a private cluster."""
    vnet_cidr: str = "10.50.0.0/16"
    """Address space of a new VNet, /16 to /22: nodes in its first half, API server and endpoints after. Defaults to 10.50.0.0/16."""
    existing_node_subnet_id: str | None = None
    """An existing subnet for the nodes (with the two below). Defaults to a new VNet."""
    existing_api_server_subnet_id: str | None = None
    """An existing subnet delegated to Microsoft.ContainerService/managedClusters for the API server. Defaults to a new VNet."""
    existing_endpoint_subnet_id: str | None = None
    """An existing subnet for the Key Vault private endpoint. Defaults to a new VNet."""
    network_policy: Literal["cilium", "azure"] = "cilium"
    """Network policy engine (Azure CNI overlay): cilium or azure. Defaults to cilium."""
    kubernetes_version: str = versions.AKS_KUBERNETES_VERSION
    """AKS Kubernetes minor version (the `patch` channel keeps it on the newest patch). Defaults to `versions.AKS_KUBERNETES_VERSION`."""
    upgrade_channel: Literal["patch", "stable", "rapid", "node-image"] = "patch"
    """AKS automatic upgrade channel: patch, stable, rapid or node-image. Defaults to patch."""
    sku_tier: Literal["Standard", "Premium"] = "Standard"
    """AKS tier, Standard or Premium (both with the uptime SLA; Free is not offered). Defaults to Standard."""
    system_vm_size: str = Field(default="Standard_D4ds_v5", pattern=r"^Standard_[A-Za-z0-9_]+$")
    """VM size of the system pool (no GPU). Defaults to Standard_D4ds_v5."""
    system_nodes: int = Field(default=3, ge=1, le=10)
    """Nodes of the system pool. Defaults to 3."""
    key_vault_sku: Literal["premium", "standard"] = "premium"
    """Key Vault SKU, premium or standard: premium keeps the key in an HSM (RSA-HSM). Defaults to premium."""
    key_rotation_days: int = Field(default=180, ge=28, le=730)
    """Key Vault rotates the key (a new version) this many days after each version is created. Defaults to 180."""
    log_retention_days: int = Field(default=365, ge=30, le=730)
    """Days the Log Analytics workspace keeps the AKS control-plane logs (kube-audit, kube-audit-admin, guard, ...), 30-730. Defaults to 365."""
    disk_sku: Literal["Premium_LRS", "Premium_ZRS", "PremiumV2_LRS"] = "Premium_LRS"
    """Managed-disk SKU of the model-cache StorageClass: Premium_LRS, Premium_ZRS or PremiumV2_LRS. Defaults to Premium_LRS."""
    shared_host_gpu_pools: list[str] = Field(default_factory=list)
    """GPU pools that run on multi-tenant hosts although `isolation` is dedicated, because Azure
    Dedicated Host runs no NC/ND size. An explicit, reviewed exception. Defaults to none."""

    @field_validator("kubernetes_version")
    @classmethod
    def _aks_version(cls, v: str) -> str:
        if v not in versions.SUPPORTED_KUBERNETES_VERSIONS:
            raise ValueError(f"expected one of {list(versions.SUPPORTED_KUBERNETES_VERSIONS)}, got {shown(v)}")
        return v

    @field_validator("vnet_cidr")
    @classmethod
    def _vnet(cls, v: str) -> str:
        return _cidr_sized(v, 16, 22)

    @model_validator(mode="after")
    def _cross_fields(self) -> AzureConfig:
        for i, cidr in enumerate(self.authorized_ip_ranges):
            _allowlisted_network(f"authorized_ip_ranges[{i}]", cidr, strict=False,
                                 what="the API server (leave the list empty for a private cluster)")
        existing = {f: getattr(self, f) for f in ("existing_node_subnet_id", "existing_api_server_subnet_id",
                                                  "existing_endpoint_subnet_id")}
        given = {f for f, v in existing.items() if v is not None}
        if given and given != set(existing):
            missing = sorted(set(existing) - given)[0]
            raise _FieldError(missing, "expected the node, API server and endpoint subnets together (an existing "
                              f"VNet), got only {sorted(given)}")
        for f in sorted(given):
            if not _AZURE_SUBNET_ID.match(existing[f]):
                raise _FieldError(f, "expected a subnet id (/subscriptions/SUB/resourceGroups/RG/providers/"
                                  f"Microsoft.Network/virtualNetworks/VNET/subnets/NAME), got {existing[f]!r}")
        if len(set(self.zones)) != len(self.zones) or not self.zones:
            raise _FieldError("zones", f"expected distinct zones among '1', '2', '3', got {shown(self.zones)}")
        from .azure.vm_sizes import GPU_VM_SIZES

        if self.system_vm_size in GPU_VM_SIZES:
            raise _FieldError("system_vm_size", f"expected a VM size without GPUs for the system pool, got {shown(self.system_vm_size)}")
        return self

    def resource_group(self, environment: str) -> str:
        return self.resource_group_name or f"llm-{environment}"


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


class StackConfig(_Strict):
    """Everything a stack needs; shared by every cloud."""

    cloud: Literal["aws", "gcp", "azure", "existing"]
    """Where the cluster comes from: `aws`, `gcp`, `azure` (built by llm-infra) or `existing`."""
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
    device_plugin: DevicePluginConfig = Field(default_factory=DevicePluginConfig)
    """NVIDIA device plugin settings. Defaults to one `nvidia.com/gpu` per physical GPU."""
    access: AccessConfig = Field(default_factory=AccessConfig)
    """How the deployer reaches the private API endpoint. Defaults to only from inside the stack's network."""
    teardown: TeardownConfig = Field(default_factory=TeardownConfig)
    """What `pulumi destroy` may delete. Defaults to keeping the keys and the model data, and to the cloud's
    deletion protection on production (and GKE) clusters."""
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

    @model_validator(mode="after")
    def _cross_fields(self) -> StackConfig:
        problems: list[str] = []
        if self.cloud != "aws" and self.aws is not None:
            problems.append(f"aws: expected only with cloud 'aws', got it with cloud {self.cloud!r}")
        if self.cloud == "aws":
            problems += _aws_problems(self)
        if self.cloud != "gcp" and self.gcp is not None:
            problems.append(f"gcp: expected only with cloud 'gcp', got it with cloud {self.cloud!r}")
        if self.cloud == "gcp":
            problems += _gcp_problems(self)
            if self.gcp is not None:
                authorized = [ipaddress.IPv4Network(n.cidr_block, strict=False) for n in self.gcp.master_authorized_networks]
                for i, cidr in enumerate(self.access.deployer_cidrs):
                    if not any(ipaddress.IPv4Network(cidr).subnet_of(a) for a in authorized):
                        problems.append(f"access.deployer_cidrs[{i}]: expected inside one of gcp.master_authorized_networks "
                                        f"(GKE admits only those to the API endpoint), got {cidr!r}")
        if self.cloud != "azure" and self.azure is not None:
            problems.append(f"azure: expected only with cloud 'azure', got it with cloud {self.cloud!r}")
        if self.cloud == "azure":
            problems += _azure_problems(self)
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
        schemes = URI_SCHEMES_BY_CLOUD[self.cloud]
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
        from .guardrails import stack_problems

        problems += stack_problems(self)
        if problems:
            raise _Problems(problems)
        return self

    def pool(self, name: str) -> GpuPoolConfig:
        return next(p for p in self.gpu_pools if p.name == name)


def _aws_problems(config: StackConfig) -> list[str]:
    """What AWS cannot build from this config (checked before anything is registered)."""
    from .aws.facts import tenancy_problem
    from .aws.instance_types import check_instance_type, default_instance_type

    aws = config.aws or AwsConfig()
    problems: list[str] = []
    region = config.region or ""
    zones = aws.zones(region)
    if region and aws.availability_zones is not None:
        for i, zone in enumerate(aws.availability_zones):
            if not zone.startswith(region):
                problems.append(f"aws.availability_zones[{i}]: expected a zone of region {region!r}, got {shown(zone)}")
    if config.isolation == "shared" and aws.dedicated_tenancy == "host":
        problems.append("aws.dedicated_tenancy: expected 'dedicated' (the default) with isolation 'shared', got 'host'")
    for i, pool in enumerate(config.gpu_pools):
        where = f"gpu_pools[{i}]"
        bad = check_instance_type(pool.gpu, pool.gpus_per_node, pool.instance_type)
        if bad is not None:
            problems.append(f"{where}.{bad[0]}: {bad[1]}")
        # Tenancy x capacity type x size, from the sourced table (aws/facts.py).
        instance_type = pool.instance_type or default_instance_type(pool.gpu, pool.gpus_per_node)
        tenancy = aws.dedicated_tenancy if config.isolation == "dedicated" else "default"
        if bad is None and instance_type is not None:
            unsupported = tenancy_problem(instance_type, tenancy=tenancy, spot=pool.spot)
            if unsupported is not None:
                problems.append(f"{where}.{unsupported[0]}: {unsupported[1]}")
        for j, zone in enumerate(pool.zones or []):
            if zone not in zones:
                problems.append(f"{where}.zones[{j}]: expected one of the stack's zones {zones}, got {shown(zone)}")
        if config.production and pool.zones is not None and len(set(pool.zones)) < 2:
            problems.append(f"{where}.zones: expected at least 2 zones in a production stack, got {shown(pool.zones)}")
    # The stack creates the model bucket and scopes each model's role to its prefix:
    # every model of the stack lives under its own prefix of that one bucket.
    buckets: dict[str, int] = {}
    prefixes: list[tuple[int, str]] = []
    for i, m in enumerate(config.models):
        scheme, bucket, prefix = parse_weights_uri(m.weights_uri)
        if scheme != "s3":
            continue  # reported by the cloud/scheme check
        where = f"models[{i}].weights_uri"
        if not _S3_BUCKET_NO_DOTS.match(bucket):
            problems.append(f"{where}: expected a bucket name of lowercase letters, digits and '-' (no dots: "
                            f"TLS to virtual-hosted buckets), got {shown(bucket)}")
        if buckets and bucket not in buckets:
            first = next(iter(buckets))
            problems.append(f"{where}: expected the stack's model bucket {first!r} (models[{buckets[first]}]): "
                            f"the stack creates one bucket, got {shown(bucket)}")
        buckets.setdefault(bucket, i)
        if not prefix:
            problems.append(f"{where}: expected s3://BUCKET/PREFIX with a prefix of the model's own, got {shown(m.weights_uri)}")
            continue
        for j, other in prefixes:
            if prefix == other or prefix.startswith(other + "/") or other.startswith(prefix + "/"):
                problems.append(f"{where}: expected a prefix that does not overlap models[{j}]'s {other!r} "
                                f"(each model's role reads its prefix only), got {shown(prefix)}")
        prefixes.append((i, prefix))
    return problems


def _gcp_problems(config: StackConfig) -> list[str]:
    """What GKE cannot build from this config (checked before anything is registered)."""
    from .gcp.facts import gpu_zone_problem
    from .gcp.machine_types import check_machine_type
    from .gcp.naming import default_model_bucket

    gcp = config.gcp
    if gcp is None:
        return ["gcp: expected project_id, project_number and master_authorized_networks for cloud 'gcp', got nothing"]
    problems: list[str] = []
    region = config.region or ""
    zones = gcp.node_zones(region)
    for i, zone in enumerate(gcp.zones or []):
        if region and not zone.startswith(region + "-"):
            problems.append(f"gcp.zones[{i}]: expected a zone of region {region!r}, got {shown(zone)}")
    if config.production and len(zones) < 2:
        problems.append(f"gcp.zones: expected at least 2 zones in a production stack, got {shown(zones)}")
    for i, pool in enumerate(config.gpu_pools):
        where = f"gpu_pools[{i}]"
        bad = check_machine_type(pool.gpu, pool.gpus_per_node, pool.instance_type,
                                 sole_tenant=config.isolation == "dedicated", spot=pool.spot)
        if bad is not None:
            problems.append(f"{where}.{bad[0]}: {bad[1]}")
        for j, zone in enumerate(pool.zones or []):
            if zone not in zones:
                problems.append(f"{where}.zones[{j}]: expected one of the stack's zones {zones}, got {shown(zone)}")
        if bad is None:
            for j, zone in enumerate(pool.zones or zones):
                offered = gpu_zone_problem(pool.gpu, zone)
                if offered is not None:
                    field = f"zones[{j}]" if pool.zones else f"zones (gcp.zones[{j}])"
                    problems.append(f"{where}.{field}: {offered}")
        if config.production and len(set(pool.zones or zones)) < 2:
            problems.append(f"{where}.zones: expected at least 2 zones in a production stack, got {pool.zones or zones!r}")
    # The stack creates one model bucket and scopes each model's service account to its prefix.
    bucket = gcp.model_bucket or default_model_bucket(gcp.project_id, config.environment)
    prefixes: list[tuple[int, str]] = []
    for i, m in enumerate(config.models):
        scheme, uri_bucket, prefix = parse_weights_uri(m.weights_uri)
        if scheme != "gs":
            continue  # reported by the cloud/scheme check
        where = f"models[{i}].weights_uri"
        if uri_bucket != bucket:
            problems.append(f"{where}: expected gs://{bucket}/PREFIX (the stack's model bucket"
                            f"{'' if gcp.model_bucket else ', from gcp.project_id and environment; set gcp.model_bucket to name another'}), "
                            f"got {shown(m.weights_uri)}")
        if not prefix:
            problems.append(f"{where}: expected gs://{bucket}/PREFIX with a prefix of the model's own, got {shown(m.weights_uri)}")
            continue
        for j, other in prefixes:
            if prefix == other or prefix.startswith(other + "/") or other.startswith(prefix + "/"):
                problems.append(f"{where}: expected a prefix that does not overlap models[{j}]'s {other!r} "
                                f"(each model's service account reads its prefix only), got {shown(prefix)}")
        prefixes.append((i, prefix))
    return problems


def _allowlisted_network(field: str, cidr: str, *, what: str, strict: bool = True) -> None:
    """An entry of an allowlist to a private endpoint: a valid IPv4 network, never the whole internet."""
    try:
        net = ipaddress.IPv4Network(cidr, strict=strict)
    except ValueError:
        raise _FieldError(field, f"expected an IPv4 CIDR such as 203.0.113.0/24, got {shown(cidr)}") from None
    if net.prefixlen == 0:
        raise _FieldError(field, f"expected an explicit allowlist of networks (0.0.0.0/0 would open {what} to the "
                          f"whole internet), got {shown(cidr)}")


def _cidr_sized(v: str, smallest: int, largest: int) -> str:
    """A network CIDR whose prefix length lies in [smallest, largest] (e.g. a VPC of /16 to /24)."""
    try:
        net = ipaddress.IPv4Network(v, strict=True)
    except ValueError:
        net = None
    if net is None or not smallest <= net.prefixlen <= largest:
        raise ValueError(f"expected an IPv4 CIDR from /{smallest} to /{largest}, got {shown(v)}")
    return v


def _capacity_problems(where: str, model: ModelConfig, pool: GpuPoolConfig) -> list[str]:
    """A model whose weights, KV cache and runtime do not fit its replica's GPUs fails here, with the numbers."""
    from .planning.capacity import GPU_MEMORY_UTILIZATION, memory_per_gpu, valid_tensor_parallel

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


def _azure_problems(config: StackConfig) -> list[str]:
    """What Azure cannot build from this config (checked before anything is registered)."""
    from .azure.facts import ENCRYPTION_AT_HOST, ENCRYPTION_AT_HOST_SOURCE
    from .azure.vm_sizes import check_vm_size, default_vm_size, dedicated_host_problem

    if config.azure is None:
        return ["azure: expected subscription_id, tenant_id and admin_group_object_ids for cloud 'azure', got nothing"]
    az = config.azure
    problems: list[str] = []
    pools = {p.name for p in config.gpu_pools}
    for j, name in enumerate(az.shared_host_gpu_pools):
        if name not in pools:
            problems.append(f"azure.shared_host_gpu_pools[{j}]: expected the name of a GPU pool {sorted(pools)}, got {shown(name)}")
        elif config.isolation != "dedicated":
            problems.append(f"azure.shared_host_gpu_pools[{j}]: expected only with isolation 'dedicated' (an exception "
                            f"to it), got it with isolation {config.isolation!r}")
    for i, pool in enumerate(config.gpu_pools):
        where = f"gpu_pools[{i}]"
        bad = check_vm_size(pool.gpu, pool.gpus_per_node, pool.instance_type)
        if bad is not None:
            problems.append(f"{where}.{bad[0]}: {bad[1]}")
            continue
        size = pool.instance_type or default_vm_size(pool.gpu, pool.gpus_per_node) or ""
        if size not in ENCRYPTION_AT_HOST:
            # Every GPU pool turns on encryption at host (SECURITY.md 25); a size without it fails at create.
            problems.append(f"{where}.instance_type: expected a VM size that supports encryption at host "
                            f"({ENCRYPTION_AT_HOST_SOURCE.url}), got {size!r}")
        if config.isolation == "dedicated" and pool.name not in az.shared_host_gpu_pools:
            why = dedicated_host_problem(size)
            if why is not None:
                problems.append(f"{where}.instance_type: {why}. With isolation 'dedicated' either use such a size, "
                                f"or name the pool in azure.shared_host_gpu_pools to accept multi-tenant hosts "
                                f"explicitly, or set isolation 'shared'")
        for j, zone in enumerate(pool.zones or []):
            if zone not in az.zones:
                problems.append(f"{where}.zones[{j}]: expected one of the stack's zones {az.zones}, got {shown(zone)}")
        zones = pool.zones if pool.zones is not None else az.zones
        if config.production and len(set(zones)) < 2:
            problems.append(f"{where}.zones: expected at least 2 zones in a production stack, got {shown(zones)}")
    # The stack creates one storage account and one container per model; each model's
    # identity reads its own container only.
    account: tuple[int, str] | None = None
    containers: dict[str, int] = {}
    for i, m in enumerate(config.models):
        scheme, bucket, _prefix = parse_weights_uri(m.weights_uri)
        if scheme != "azureblob":
            continue  # reported by the cloud/scheme check
        where = f"models[{i}].weights_uri"
        name, container = bucket.split("/", 1)
        if account is None:
            account = (i, name)
        elif name != account[1]:
            problems.append(f"{where}: expected the stack's storage account {account[1]!r} (models[{account[0]}]): "
                            f"the stack creates one account, got {shown(name)}")
        if container in containers:
            problems.append(f"{where}: expected a container of the model's own (each model's identity may read "
                            f"its container only; models[{containers[container]}] uses {container!r}), got {shown(container)}")
        containers.setdefault(container, i)
    return problems


def _unique(field: str, names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for i, n in enumerate(names):
        if n in seen:
            out.append(f"{field}[{i}].name: expected a unique name, got duplicate {n!r}")
        seen.add(n)
    return out


class _FieldError(ValueError):
    """A validator's problem with a sub-field, so the message names the full path."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class _Problems(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not part.startswith(("function-", "union[", "literal[")) and part not in {
            "str", "int", "float", "bool", "list[...]", "dict[...]", "constrained-str",
        }:
            out += f".{part}" if out else part
    return out


def _describe(error: dict[str, Any]) -> list[str]:
    path = _path(error["loc"])
    ctx = error.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, _Problems):
        prefix = f"{path}." if path else ""
        return [prefix + p for p in inner.problems]
    if isinstance(inner, _FieldError):
        full = f"{path}.{inner.field}" if path else inner.field
        return [f"{full}: {inner.message}"]
    given = error.get("input")
    kind = error["type"]
    if kind == "extra_forbidden":
        return [f"{path}: unknown key (expected one of the documented fields), got {shown(given)}"]
    if kind == "missing":
        return [f"{path}: required, got nothing"]
    msg = error["msg"]
    if isinstance(inner, ValueError):
        msg = str(inner)
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    else:
        msg = re.sub(r"^(Input|String|List|Value|Dictionary|Float|Integer) should (be |have )?", "", msg)
        msg = re.sub(r" after validation, not \d+$", "", msg)
        if _DNS_LABEL in msg:
            msg = "a DNS label (lowercase letters, digits and '-', starting with a letter)"
        msg = f"expected {msg}, got {shown(given)}"
    return [f"{path}: {msg}"]


def parse_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate a plain mapping (keys without the `llm-infra:` prefix). Raises ConfigError."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"(root): expected a mapping of llm-infra config keys, got {type(raw).__name__}")
    decoded: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        try:
            decoded[key] = from_engine(key, value)
        except ValueError as exc:
            problems.append(f"{key}: {exc}")
    from .guardrails import text_problems

    problems += text_problems(decoded)
    if problems:
        raise ConfigError(problems)
    try:
        return StackConfig.model_validate(decoded)
    except ValidationError as exc:
        raise ConfigError(_problems(exc)) from None


def _problems(exc: ValidationError, prefix: str = "") -> list[str]:
    problems: list[str] = []
    for err in exc.errors():
        for line in _describe(err):
            if prefix + line not in problems:
                problems.append(prefix + line)
    return problems


def load_stack_config() -> StackConfig:
    """Read and validate the running stack's `llm-infra:*` config (before any resource is registered)."""
    import pulumi.runtime.config as runtime_config

    # The CLI hands config over as PULUMI_CONFIG; the runtime (and the mock engine) as a context var.
    everything = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw: dict[str, Any] = {}
    problems: list[str] = []
    for full_key, value in everything.items():
        namespace, _, key = full_key.partition(":")
        if namespace != CONFIG_NAMESPACE:
            continue
        if key in SECRET_KEYS:
            if not (runtime_config.is_config_secret(full_key) or full_key in runtime_config.get_config_secret_keys_env()):
                problems.append(f"{key}: expected a secret (pulumi config set --secret {full_key} ...), got a plaintext value")
            continue
        raw[key] = value
    if problems:
        raise ConfigError(problems)
    config = parse_stack_config(raw)
    kubeconfig = f"{CONFIG_NAMESPACE}:kubeconfig"
    if config.cloud == "existing" and everything.get(kubeconfig) in (None, ""):
        raise ConfigError(f"kubeconfig: expected the existing cluster's kubeconfig for cloud 'existing' (pulumi config "
                          f"set --secret {kubeconfig} -- \"$(cat ~/.kube/config)\"), got nothing")
    return config


# Top-level keys whose value is one scalar; every other key holds JSON (a list or a mapping).
_SCALAR_KEYS = {"cloud": str, "environment": str, "region": str, "isolation": str, "production": bool}


def from_engine(key: str, value: Any) -> Any:
    """A top-level config value as the program receives it from the engine, decoded.

    The engine hands every value over as a string (`pulumi config set llm-infra:production
    false` stores "false"; a YAML `false` arrives as "false" too); structured values as JSON.
    A string key is taken as it is, a boolean is exactly "true" or "false" (what Pulumi.yaml's
    `type: boolean` admits), anything else is parsed as JSON with numbers as Go reads them.
    """
    if not isinstance(value, str):  # a Python caller of parse_stack_config, or the mock harness
        return value
    kind = _SCALAR_KEYS.get(key)
    if kind is str:
        return value
    if kind is bool:
        if value not in ("true", "false"):
            raise ValueError(f"expected true or false, got {shown(value)}")
        return value == "true"
    try:
        return json.loads(value, parse_int=_json_int, parse_constant=_json_constant)
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            return value  # not JSON: the model says what it expected instead of this text
        raise


def _json_int(text: str) -> int | float:
    """encoding/json with UseNumber, then Int64, then Float64 (object.go unmarshalObject)."""
    if len(text.lstrip("-")) <= 20:
        number = int(text)
        if -(1 << 63) <= number <= (1 << 64) - 1:
            return number
    number = float(text) if len(text) < 400 else math.inf
    if math.isinf(number):
        raise ValueError(f"expected a number Pulumi can represent, got {shown(text)}")
    return number


def _json_constant(text: str) -> float:
    return float(text)  # NaN and infinities are refused, with their path, by guardrails.text_problems


# --- the config models as schema types, for components served to other languages ----------


def _schema_annotation(annotation: Any) -> Any:
    """The type Pulumi's schema inference can read for a config field's annotation.

    Constraints (`Annotated`) and choices (`Literal`) stay with pydantic, which validates
    every value; the schema carries the plain type, and the field docstring names the choices.
    """
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _schema_annotation(args[0])
    if origin is Literal:
        (kind,) = {type(a) for a in args}
        return kind
    if origin in (types.UnionType, typing.Union):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _schema_annotation(rest[0]) | None
        return Any  # engine_args values: str, int, float or bool
    if origin is list:
        return list[_schema_annotation(args[0])]
    if origin is dict:
        return dict[str, _schema_annotation(args[1])]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return schema_type(annotation)
    return annotation


@functools.cache
def schema_type(model: type[BaseModel]) -> type:
    """`model`'s fields as a TypedDict, the input type other Pulumi languages see.

    It carries the model's name, module and qualified name, so the schema inference reads
    each property's description from the docstring under the model's own field: the config
    models stay the single definition of every field, its default and its documentation.
    A field with a default is `NotRequired`.
    """
    fields = {
        name: _schema_annotation(info.annotation) if info.is_required()
        else NotRequired[_schema_annotation(info.annotation)]
        for name, info in model.model_fields.items()
    }
    spec = TypedDict(model.__name__, fields)  # type: ignore[operator]
    spec.__module__, spec.__qualname__, spec.__doc__ = model.__module__, model.__qualname__, model.__doc__
    return spec


def _known_plain(value: Any, path: str) -> Any:
    """`value` with integral floats as ints (every number reaches a provider as a float), refusing Outputs."""
    from pulumi.output import Output, Unknown

    if isinstance(value, Output | Unknown):  # Unknown: a value only the deployment will compute
        raise ConfigError(f"{path}: expected a plain value known before deployment (it decides which resources "
                          "exist), got an Output of another resource")
    if isinstance(value, Mapping):
        return {k: _known_plain(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_known_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def validate_spec(model: type[M], value: Any, *, field: str) -> M:
    """A component's config input, given as the validated model (Python) or as a plain
    mapping (a YAML, TypeScript, Go or C# program), validated by the same model.

    Raises ConfigError whose lines name `field` and the path below it.
    """
    if isinstance(value, model):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(f"{field}: expected a mapping of {model.__name__} fields, got {type(value).__name__}")
    from .guardrails import text_problems

    plain = _known_plain(value, field)
    problems = text_problems(plain, field)
    if problems:
        raise ConfigError(problems)
    try:
        return model.model_validate(plain)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, prefix=f"{field}.")) from None


StackConfigSpec = schema_type(StackConfig)


def cloud_stack_config(value: Any, cloud: str) -> StackConfig:
    """The `config` input of a cloud's platform cluster: a whole stack config for that cloud."""
    config = validate_spec(StackConfig, value, field="config")
    if config.cloud != cloud:
        raise ConfigError(f"config.cloud: expected {cloud!r} for this cloud's platform cluster, got {shown(config.cloud)}")
    return config
