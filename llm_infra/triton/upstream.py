"""Facts about the pinned Triton releases and their LLM backends, each with the upstream file it was read from.

Everything the workload relies on that the deployed image decides (which release ships which
vLLM or TensorRT-LLM, which CUDA and driver it needs, which value of a model parameter a
backend reads, which Prometheus series it exports and with which labels) is a row here,
with the upstream file at the release tag (and line) and the date it was read. Code reads
these tables; tests hold every generated query and parameter to them.

Two kinds of checks, kept apart:

- run: the local `tritonserver` from the nvidia-pytriton 0.7.0 wheel is Triton 2.51 (24.10)
  with the python backend. It serves the generated repositories, the client endpoints,
  readiness, shutdown and Triton's own `nv_inference_*` series (those did not change in
  name or labels between 2.51 and the pinned releases: server docs/user_guide/metrics.md).
- read: what only the pinned backend decides (vLLM and TensorRT-LLM parameters and metric
  families) is read from its source at the release branch or tag and recorded below; no
  vLLM or TensorRT-LLM engine runs here.

How to re-read: `git -C <mirror of triton-inference-server/vllm_backend> show r26.01:src/utils/metrics.py`
and likewise for the other rows.
"""

from __future__ import annotations

from dataclasses import dataclass

READ_ON = "2026-12-01"
"""When every row below was read."""


@dataclass(frozen=True)
class Source:
    """An upstream file at a release ref: `repo/path@ref:line`."""

    repo: str
    path: str
    ref: str
    line: int | None = None
    commit: str | None = None

    def __str__(self) -> str:
        where = f"{self.repo}/{self.path}@{self.ref}"
        return f"{where}:{self.line}" if self.line else where


@dataclass(frozen=True)
class TritonRelease:
    """One NGC Triton release and what it ships, as pinned for one backend."""

    container: str
    """NGC container release, e.g. `26.01`."""
    triton_version: str
    image: str
    backend_ref: str
    """Branch or tag of the backend's source that the release builds."""
    backend_commit: str
    backend_date: str
    engine: str
    """The LLM engine and its version inside the image (`vLLM 0.13.0`, `TensorRT-LLM 0.19.0`, or `-`)."""
    cuda: str
    min_driver: int
    """Driver branch the release notes require on any GPU."""
    datacenter_compat_drivers: tuple[int, ...]
    """Older data-center driver branches the image runs on through CUDA forward compatibility, which
    `/opt/nvidia/nvidia_entrypoint.sh` sets up (so the entrypoint must not be bypassed)."""
    sources: tuple[str, ...]


_VLLM_BACKEND = "triton-inference-server/vllm_backend"
_TRTLLM_BACKEND = "triton-inference-server/tensorrtllm_backend"
_SERVER = "triton-inference-server/server"

# vLLM and python models: 26.01 is the newest release whose vllm_backend branch (r26.01) is
# readable. TensorRT-LLM: from 25.06 on the backend source moved into NVIDIA/TensorRT-LLM
# (triton_backend/, a submodule of tensorrtllm_backend) and could not be read at the commits the
# release branches pin; v0.19.0 (25.05) is the newest tag whose backend source is readable.
RELEASES: dict[str, TritonRelease] = {
    "vllm": TritonRelease(
        container="26.01",
        triton_version="2.65.0",
        image="nvcr.io/nvidia/tritonserver:26.01-vllm-python-py3",
        backend_ref="r26.01",
        backend_commit="c70d65474833bac171cc33470c5e723c604558d6",
        backend_date="2026-01-22",
        engine="vLLM 0.13.0",
        cuda="13.1",
        min_driver=575,
        datacenter_compat_drivers=(470, 525, 535, 545),
        sources=(
            f"{_SERVER}/build.py@v2.65.0:74-81 (release_version 2.65.0, triton_container_version 26.01, "
            "vllm_version 0.13.0; tag commit 91c61c5d, 2026-01-29)",
            f"{_VLLM_BACKEND}@r26.01 (c70d6547, 2026-01-22)",
            "https://docs.nvidia.com/deeplearning/triton-inference-server/release-notes/rel-25-12.html and "
            "rel-26-02.html: 25.12 is CUDA 13.1.0, 26.02 CUDA 13.1.1, both 'NVIDIA Driver release 575 or later'; "
            "data-center GPUs may use R470 (470.57+), R525 (525.85+), R535 (535.86+) or R545 (545.23+) through forward compatibility. The 26.01 page was not "
            "found; 26.01 lies between the two",
        ),
    ),
    "python": TritonRelease(
        container="26.01",
        triton_version="2.65.0",
        # The vllm-python image, not the plain `26.01-py3`: every model runs Triton's OpenAI frontend, which
        # imports uvicorn (openai_frontend/frontend/fastapi_frontend.py@v2.65.0:29). The py3 image installs only
        # python/openai/requirements.txt (build.py@v2.65.0:1256: fastapi==0.121.2, whose plain install has no
        # uvicorn since fastapi 0.112), so the frontend would stop at import there; the vllm-python image also
        # has vLLM 0.13.0, which requires fastapi[standard]>=0.115.0 (its wheel's METADATA) and with it uvicorn.
        # Both images carry the python backend.
        image="nvcr.io/nvidia/tritonserver:26.01-vllm-python-py3",
        backend_ref="v2.65.0",
        backend_commit="91c61c5d942dd6bc245a9324e0b2966d5c2a877d",
        backend_date="2026-01-29",
        engine="-",
        cuda="13.1",
        min_driver=575,
        datacenter_compat_drivers=(470, 525, 535, 545),
        sources=(f"{_SERVER}/build.py@v2.65.0:74-76, 1256", f"{_SERVER}/python/openai/requirements.txt@v2.65.0",
                 "vllm-0.13.0-cp38-abi3-manylinux_2_31_x86_64.whl METADATA: Requires-Dist fastapi[standard]>=0.115.0 "
                 "(PyPI, read 2026-12-01)", "as for vllm"),
    ),
    "tensorrtllm": TritonRelease(
        container="25.05",
        triton_version="2.58.0",
        image="nvcr.io/nvidia/tritonserver:25.05-trtllm-python-py3",
        backend_ref="v0.19.0",
        backend_commit="c1e19638304d287f554f738c1411746555ed348c",
        backend_date="2025-05-21",
        engine="TensorRT-LLM 0.19.0",
        cuda="12.9",
        min_driver=575,
        datacenter_compat_drivers=(470, 525, 535, 545),
        sources=(
            f"{_SERVER}/build.py@v2.58.0 (release_version 2.58.0, triton_container_version 25.05)",
            f"{_TRTLLM_BACKEND}@v0.19.0 (c1e19638, 2025-05-21): the last tag holding inflight_batcher_llm/src; "
            "r25.06 and later hold only the tensorrt_llm submodule",
            "https://docs.nvidia.com/deeplearning/triton-inference-server/release-notes/rel-25-04.html and "
            "rel-25-06.html: CUDA 12.9, 'NVIDIA Driver release 575 or later'; data-center GPUs R470, R525, R535 "
            "or R545 through forward compatibility",
        ),
    ),
}

# The local test server: what `tritonserver` from the nvidia-pytriton wheel is.
LOCAL_TRITON = TritonRelease(
    container="24.10", triton_version="2.51.0", image="nvidia-pytriton==0.7.0 (wheel)", backend_ref="r24.10",
    backend_commit="-", backend_date="2024-10", engine="-", cuda="12.6", min_driver=560,
    datacenter_compat_drivers=(470, 525, 535, 545), sources=("pyproject.toml dev extra; review 2026-12-first-contact",),
)


# --- model parameters the pinned backends read ------------------------------------------


@dataclass(frozen=True)
class ParameterFact:
    backend: str
    name: str
    accepted: tuple[str, ...]
    """Values the backend treats as on (compared after the read shown in `how`)."""
    how: str
    source: Source


PARAMETERS: dict[tuple[str, str], ParameterFact] = {
    ("vllm", "REPORT_CUSTOM_METRICS"): ParameterFact(
        "vllm", "REPORT_CUSTOM_METRICS", ("true",),
        "string_value.lower() == 'true', and only when the engine's disable_log_stats is false "
        "(r24.10 compared == 'yes')",
        Source(_VLLM_BACKEND, "src/model.py", "r26.01", 382),
    ),
    ("vllm", "ENABLE_VLLM_HEALTH_CHECK"): ParameterFact(
        "vllm", "ENABLE_VLLM_HEALTH_CHECK", ("true",),
        "checks engine health on each execute(); an unhealthy engine unloads the model, which needs "
        "--model-control-mode=explicit (docs/health_check.md)",
        Source(_VLLM_BACKEND, "src/model.py", "r26.01", 172),
    ),
    ("tensorrtllm", "executor_worker_path"): ParameterFact(
        "tensorrtllm", "executor_worker_path", ("/opt/tritonserver/backends/tensorrtllm/trtllmExecutorWorker",),
        "read in orchestrator mode (env TRTLLM_ORCHESTRATOR=1): the worker binary spawned once per TP rank",
        Source(_TRTLLM_BACKEND, "inflight_batcher_llm/src/model_instance_state.cc", "v0.19.0", 247),
    ),
}


def parameter_on_value(backend: str, name: str) -> str:
    """The value that turns `name` on in the pinned `backend`."""
    return PARAMETERS[(backend, name)].accepted[0]


# --- the vLLM model's interface ------------------------------------------------------------

# What the vllm_backend's auto_complete_config adds to a model's config (src/model.py@r26.01:67-141):
# (name, data type, dims, optional). Clients call these; the generated config.pbtxt leaves them to
# the backend.
VLLM_INPUTS_SOURCE = Source(_VLLM_BACKEND, "src/model.py", "r26.01", 67)
VLLM_INPUTS: tuple[tuple[str, str, tuple[int, ...], bool], ...] = (
    ("text_input", "TYPE_STRING", (1,), False),
    ("image", "TYPE_STRING", (-1,), True),
    ("stream", "TYPE_BOOL", (1,), True),
    ("sampling_parameters", "TYPE_STRING", (1,), True),
    ("exclude_input_in_output", "TYPE_BOOL", (1,), True),
    ("return_finish_reason", "TYPE_BOOL", (1,), True),
    ("return_cumulative_logprob", "TYPE_BOOL", (1,), True),
    ("return_logprobs", "TYPE_BOOL", (1,), True),
    ("return_num_input_tokens", "TYPE_BOOL", (1,), True),
    ("return_num_output_tokens", "TYPE_BOOL", (1,), True),
    ("embedding_request", "TYPE_STRING", (1,), True),
)
VLLM_OUTPUTS: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("text_output", "TYPE_STRING", (-1,)),
    ("finish_reason", "TYPE_STRING", (-1,)),
    ("cumulative_logprob", "TYPE_FP32", (-1,)),
    ("logprobs", "TYPE_STRING", (-1,)),
    ("num_input_tokens", "TYPE_UINT32", (1,)),
    ("num_output_tokens", "TYPE_UINT32", (-1,)),
)


# --- Prometheus series -----------------------------------------------------------------


@dataclass(frozen=True)
class MetricFact:
    name: str
    kind: str
    labels: tuple[str, ...]
    """Labels the exporter sets (Prometheus adds `namespace`, `pod`, ... at scrape time)."""
    exported_by: str
    """`triton` (core, every backend), `vllm` or `tensorrtllm`."""
    source: Source
    label_values: dict[str, tuple[str, ...]] | None = None


_METRICS_DOC = "docs/user_guide/metrics.md"
_VLLM_METRICS = "src/utils/metrics.py"
_TRTLLM_METRICS = "inflight_batcher_llm/src/custom_metrics_reporter/custom_metrics_reporter.cc"
_CORE_LABELS = ("model", "version")

METRICS: dict[str, MetricFact] = {m.name: m for m in (
    # Triton core, per model and version (same names at 2.51, where the wheel exports them, and 2.65).
    MetricFact("nv_inference_request_success", "counter", _CORE_LABELS, "triton", Source(_SERVER, _METRICS_DOC, "v2.65.0", 97)),
    MetricFact("nv_inference_request_failure", "counter", _CORE_LABELS + ("reason",), "triton",
               Source(_SERVER, _METRICS_DOC, "v2.65.0", 98)),
    MetricFact("nv_inference_count", "counter", _CORE_LABELS, "triton", Source(_SERVER, _METRICS_DOC, "v2.65.0", 99)),
    MetricFact("nv_inference_exec_count", "counter", _CORE_LABELS, "triton", Source(_SERVER, _METRICS_DOC, "v2.65.0", 100)),
    MetricFact("nv_inference_pending_request_count", "gauge", _CORE_LABELS, "triton",
               Source(_SERVER, _METRICS_DOC, "v2.65.0", 101)),
    MetricFact("nv_inference_request_duration_us", "counter", _CORE_LABELS, "triton",
               Source(_SERVER, _METRICS_DOC, "v2.65.0", 199)),
    MetricFact("nv_inference_queue_duration_us", "counter", _CORE_LABELS, "triton",
               Source(_SERVER, _METRICS_DOC, "v2.65.0", 200)),
    MetricFact("nv_inference_compute_infer_duration_us", "counter", _CORE_LABELS, "triton",
               Source(_SERVER, _METRICS_DOC, "v2.65.0", 202)),
    # vLLM backend (REPORT_CUSTOM_METRICS), labels model and version (src/model.py:368-371).
    MetricFact("vllm:prompt_tokens_total", "counter", _CORE_LABELS, "vllm", Source(_VLLM_BACKEND, _VLLM_METRICS, "r26.01", 42)),
    MetricFact("vllm:generation_tokens_total", "counter", _CORE_LABELS, "vllm",
               Source(_VLLM_BACKEND, _VLLM_METRICS, "r26.01", 47)),
    MetricFact("vllm:time_to_first_token_seconds", "histogram", _CORE_LABELS + ("le",), "vllm",
               Source(_VLLM_BACKEND, _VLLM_METRICS, "r26.01", 52)),
    MetricFact("vllm:time_per_output_token_seconds", "histogram", _CORE_LABELS + ("le",), "vllm",
               Source(_VLLM_BACKEND, _VLLM_METRICS, "r26.01", 57)),
    MetricFact("vllm:e2e_request_latency_seconds", "histogram", _CORE_LABELS + ("le",), "vllm",
               Source(_VLLM_BACKEND, _VLLM_METRICS, "r26.01", 64)),
    MetricFact("vllm:request_prompt_tokens", "histogram", _CORE_LABELS + ("le",), "vllm",
               Source(_VLLM_BACKEND, _VLLM_METRICS, "r26.01", 70)),
    MetricFact("vllm:request_generation_tokens", "histogram", _CORE_LABELS + ("le",), "vllm",
               Source(_VLLM_BACKEND, _VLLM_METRICS, "r26.01", 75)),
    MetricFact("vllm:request_params_n", "histogram", _CORE_LABELS + ("le",), "vllm",
               Source(_VLLM_BACKEND, _VLLM_METRICS, "r26.01", 80)),
    # TensorRT-LLM backend (always on), labels model, version and the family's sub-label (line 40, 49).
    MetricFact("nv_trt_llm_request_metrics", "gauge", _CORE_LABELS + ("request_type",), "tensorrtllm",
               Source(_TRTLLM_BACKEND, _TRTLLM_METRICS, "v0.19.0", 169),
               {"request_type": ("active", "max", "scheduled", "context", "waiting")}),
    MetricFact("nv_trt_llm_kv_cache_block_metrics", "gauge", _CORE_LABELS + ("kv_cache_block_type",), "tensorrtllm",
               Source(_TRTLLM_BACKEND, _TRTLLM_METRICS, "v0.19.0", 182),
               {"kv_cache_block_type": ("max", "free", "used", "tokens_per", "reused", "fraction")}),
)}

# Series that Prometheus derives from a histogram family.
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

# Labels Prometheus itself attaches to every scraped series (the ServiceMonitor's target labels).
SCRAPE_LABELS = ("namespace", "pod", "service", "job", "instance", "endpoint", "container")

# Series known NOT to exist at the pinned tags, with why (a query naming one is a bug).
NOT_EXPORTED: dict[str, str] = {
    "vllm:num_requests_waiting": "kept in vLLM's own in-process registry; no released vllm_backend "
                                 "(r24.08 to r26.01) exports it to Triton's /metrics",
    "vllm:num_requests_running": "as vllm:num_requests_waiting",
    "vllm:gpu_cache_usage_perc": "as vllm:num_requests_waiting",
    "vllm:kv_cache_usage_perc": "as vllm:num_requests_waiting",
    # What the Gateway API Inference Extension's endpoint picker reads from vLLM by default
    # (llm_infra.kubernetes.inference_gateway): src/utils/metrics.py@r26.01 defines only the
    # eight families above (lines 42-80).
    "vllm:lora_requests_info": "as vllm:num_requests_waiting",
    "vllm:cache_config_info": "as vllm:num_requests_waiting",
}


def metric_fact(series: str) -> MetricFact | None:
    """The fact behind a series name, histogram suffixes resolved to their family."""
    if series in METRICS:
        return METRICS[series]
    for suffix in HISTOGRAM_SUFFIXES:
        family = series.removesuffix(suffix)
        if family != series and family in METRICS and METRICS[family].kind == "histogram":
            return METRICS[family]
    return None


# --- the tables as the docs show them ----------------------------------------------------


def matrix_markdown() -> str:
    """The version matrix as a Markdown table (docs/versions.md holds it verbatim)."""
    rows = ["| backend | Triton container | Triton | engine | CUDA | minimum driver | data-center drivers "
            "(forward compatibility) | backend source |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for backend, r in {**RELEASES, "local tests": LOCAL_TRITON}.items():
        compat = ", ".join(f"R{d}" for d in r.datacenter_compat_drivers)
        rows.append(f"| {backend} | {r.container} | {r.triton_version} | {r.engine} | {r.cuda} | {r.min_driver} | "
                    f"{compat} | {r.backend_ref} ({r.backend_date}) |")
    return "\n".join(rows) + "\n"


def metrics_markdown() -> str:
    """Every series the generated rules, triggers and dashboards may query, with its exporter."""
    rows = ["| series | kind | labels | exported by | upstream file |", "| --- | --- | --- | --- | --- |"]
    for m in METRICS.values():
        labels = ", ".join(m.labels)
        if m.label_values:
            labels += "; " + "; ".join(f"{k} in {{{', '.join(v)}}}" for k, v in m.label_values.items())
        rows.append(f"| `{m.name}` | {m.kind} | {labels} | {m.exported_by} | `{m.source}` |")
    return "\n".join(rows) + "\n"


# --- node drivers ------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeDriver:
    """The NVIDIA driver branch a cloud's GPU node image installs."""

    cloud: str
    image: str
    kubernetes: str
    """Kubernetes minor versions it applies to (`*`: every one not listed separately)."""
    branch: int
    source: str


NODE_DRIVERS: tuple[NodeDriver, ...] = (
    NodeDriver("aws", "AL2023_x86_64_NVIDIA", "*", 580,
               "awslabs/amazon-eks-ami templates/al2023/variables-default.json@v20260724:24 "
               "(nvidia_driver_major_version 580; commit 81fec2e8, 2026-07-23)"),
    NodeDriver("aws", "AL2023_x86_64_NVIDIA", "1.28", 570,
               "awslabs/amazon-eks-ami templates/al2023/variables-1.28.json@v20260724:4"),
)
"""Tabled where the image's driver is a published fact. Not tabled: Bottlerocket NVIDIA
variants, GKE (the DEFAULT/LATEST driver depends on the node's COS or Ubuntu release) and
AKS (the node image's driver); for those the pinned images rely on the cloud's current driver
or on forward compatibility (data-center GPUs, `datacenter_compat_drivers`)."""


def node_driver(cloud: str, image: str, kubernetes: str) -> NodeDriver | None:
    rows = [d for d in NODE_DRIVERS if d.cloud == cloud and d.image == image]
    return next((d for d in rows if d.kubernetes == kubernetes), None) or \
        next((d for d in rows if d.kubernetes == "*"), None)


def driver_runs(branch: int, backend: str) -> bool:
    """Whether a node driver branch runs the pinned image of `backend` (directly or through
    CUDA forward compatibility on a data-center GPU)."""
    release = RELEASES[backend]
    return branch >= release.min_driver or branch in release.datacenter_compat_drivers
