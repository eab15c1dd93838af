"""The PromQL the workload generates: autoscaling triggers, recording rules, alerts and dashboard panels.

Every series a query names is exported by the pinned image (a row of
`llm_infra.triton.upstream.METRICS`, with the upstream file and line that exports it) or
recorded by the workload's own PrometheusRule (`llm_infra:` names below); tests parse every
generated query with a PromQL parser and hold each series and label to that table.

What measures saturation depends on whether the model is decoupled:

- python models (not decoupled): Triton's scheduler queues requests until an instance is
  free, so queue time per unit of compute time says when replicas fall behind.
- vLLM (decoupled): `execute()` hands each request to the engine and returns at once, so
  Triton's queue and compute counters time the hand-off, not generation (measured 0.06 with
  21 s of generation queued). The vllm_backend exports no running/waiting gauge; it exports
  the engine's end-to-end latency histogram. By Little's law the rate of its `_sum` is the
  mean number of requests inside the engine, compared with `max_num_seqs` per replica.
- TensorRT-LLM (decoupled): the backend's own gauge of active requests against its max.
"""

from __future__ import annotations

# Triton core (every backend): cumulative counters and a gauge per model and version.
QUEUE_DURATION_US = "nv_inference_queue_duration_us"
COMPUTE_INFER_DURATION_US = "nv_inference_compute_infer_duration_us"
REQUEST_DURATION_US = "nv_inference_request_duration_us"
REQUEST_SUCCESS = "nv_inference_request_success"
REQUEST_FAILURE = "nv_inference_request_failure"
INFERENCE_COUNT = "nv_inference_count"
EXEC_COUNT = "nv_inference_exec_count"
PENDING_REQUESTS = "nv_inference_pending_request_count"

TRITON_METRICS: tuple[str, ...] = (
    QUEUE_DURATION_US,
    COMPUTE_INFER_DURATION_US,
    REQUEST_DURATION_US,
    REQUEST_SUCCESS,
    REQUEST_FAILURE,
    INFERENCE_COUNT,
    EXEC_COUNT,
    PENDING_REQUESTS,
)

# vLLM backend (REPORT_CUSTOM_METRICS): the engine's end-to-end latency histogram, observed
# once per request the engine finishes.
VLLM_E2E_LATENCY = "vllm:e2e_request_latency_seconds"
VLLM_TTFT = "vllm:time_to_first_token_seconds"
VLLM_GENERATION_TOKENS = "vllm:generation_tokens_total"

# TensorRT-LLM backend: request gauge by request_type (active, max, scheduled, context, waiting)
# and KV-cache blocks by kv_cache_block_type (max, free, used, tokens_per, reused, fraction).
TRTLLM_REQUESTS = "nv_trt_llm_request_metrics"
TRTLLM_KV_BLOCKS = "nv_trt_llm_kv_cache_block_metrics"

RATIO_RECORD = "llm_infra:triton_queue_compute_ratio:rate1m"
QUEUE_MS_RECORD = "llm_infra:triton_queue_ms_per_request:rate1m"
FAILURE_RATIO_RECORD = "llm_infra:triton_failure_ratio:rate5m"
IN_FLIGHT_RECORD = "llm_infra:engine_requests_in_flight"
UNFINISHED_RATIO_RECORD = "llm_infra:vllm_unfinished_ratio:rate15m"

RECORDED: tuple[str, ...] = (RATIO_RECORD, QUEUE_MS_RECORD, FAILURE_RATIO_RECORD, IN_FLIGHT_RECORD,
                             UNFINISHED_RATIO_RECORD)


def selector(namespace: str, model: str) -> str:
    """Label matchers for one model's series, as scraped by its ServiceMonitor."""
    return f'namespace="{namespace}",model="{model}"'


def queue_compute_ratio(namespace: str, model: str, window: str = "1m") -> str:
    """Time requests wait in Triton's queue per unit of compute time (python models).

    Below 1 the replicas keep up; above 1 requests wait longer than they compute, the
    signal to add replicas. clamp_min keeps an idle model at 0 instead of NaN.
    """
    s = selector(namespace, model)
    return (
        f"sum(rate({QUEUE_DURATION_US}{{{s}}}[{window}])) / "
        f"clamp_min(sum(rate({COMPUTE_INFER_DURATION_US}{{{s}}}[{window}])), 1)"
    )


def queue_ms_per_request(namespace: str, model: str, window: str = "1m") -> str:
    """Average time a request waited in the queue, in milliseconds."""
    s = selector(namespace, model)
    return (
        f"(sum(rate({QUEUE_DURATION_US}{{{s}}}[{window}])) / 1000) / "
        f"clamp_min(sum(rate({REQUEST_SUCCESS}{{{s}}}[{window}])), 0.001)"
    )


def vllm_in_flight(namespace: str, model: str, window: str = "2m") -> str:
    """Mean number of requests inside the model's vLLM engines, summed over its replicas (Little's law).

    The latency histogram's `_sum` grows by each finished request's end-to-end time, so its
    rate is arrival rate x time in system = requests in flight. It lags by one request's
    duration, which the scale-up window absorbs.
    """
    return f"sum(rate({VLLM_E2E_LATENCY}_sum{{{selector(namespace, model)}}}[{window}]))"


def trtllm_active(namespace: str, model: str) -> str:
    """Requests active in the model's TensorRT-LLM executors, summed over its replicas."""
    return f'sum({TRTLLM_REQUESTS}{{{selector(namespace, model)},request_type="active"}})'


def engine_in_flight(backend: str, namespace: str, model: str) -> str | None:
    """The saturation query for a decoupled backend, or None for python models."""
    if backend == "vllm":
        return vllm_in_flight(namespace, model)
    if backend == "tensorrtllm":
        return trtllm_active(namespace, model)
    return None


def failure_ratio(namespace: str, model: str, window: str = "5m") -> str:
    """Share of requests Triton counts as failed (python models: the decoupled backends report
    errors inside a response that Triton has already counted as a success)."""
    s = selector(namespace, model)
    return (
        f"sum(rate({REQUEST_FAILURE}{{{s}}}[{window}])) / "
        f"clamp_min(sum(rate({REQUEST_SUCCESS}{{{s}}}[{window}])) + sum(rate({REQUEST_FAILURE}{{{s}}}[{window}])), 0.001)"
    )


def vllm_unfinished_ratio(namespace: str, model: str, window: str = "15m") -> str:
    """Share of the requests Triton handed to vLLM that the engine never finished.

    Triton counts a vLLM request as a success when `execute()` accepts it; the engine
    observes its latency histogram only for requests it finishes. A request that fails
    validation, errors in the engine or hangs is in the first and never in the second.
    """
    s = selector(namespace, model)
    return (
        f"clamp_min(1 - sum(rate({VLLM_E2E_LATENCY}_count{{{s}}}[{window}])) / "
        f"clamp_min(sum(rate({REQUEST_SUCCESS}{{{s}}}[{window}])), 0.001), 0)"
    )


def vllm_stalled(namespace: str, model: str, window: str = "10m") -> str:
    """Requests keep arriving but the engine finishes none (a hung or dead engine)."""
    s = selector(namespace, model)
    return (f"sum(rate({REQUEST_SUCCESS}{{{s}}}[{window}])) > 0 and "
            f"sum(rate({VLLM_E2E_LATENCY}_count{{{s}}}[{window}])) == 0")


def triton_stalled(namespace: str, model: str) -> str:
    """Requests wait in Triton's queue but none completes (python and TensorRT-LLM models)."""
    s = selector(namespace, model)
    return f"sum({PENDING_REQUESTS}{{{s}}}) > 0 and sum(rate({REQUEST_SUCCESS}{{{s}}}[5m])) == 0"
