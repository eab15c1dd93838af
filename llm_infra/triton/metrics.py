"""Triton's own Prometheus metrics and the PromQL built on them: autoscaling, recording rules, alerts.

Every metric name used anywhere in the generated ServiceMonitor, PrometheusRule,
ScaledObject or dashboard comes from here, and the real-Triton test asserts that each
one is exported by the Triton release we pin.
"""

from __future__ import annotations

# Cumulative counters (microseconds / counts) exported per model and version.
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

# The vLLM backend's own scheduler gauge (REPORT_CUSTOM_METRICS): requests accepted by the
# engine but not yet running. vLLM takes requests from Triton at once (decoupled), so its
# queue lives here and not in nv_inference_queue_duration_us.
VLLM_REQUESTS_WAITING = "vllm:num_requests_waiting"

RATIO_RECORD = "llm_infra:triton_queue_compute_ratio:rate1m"
QUEUE_MS_RECORD = "llm_infra:triton_queue_ms_per_request:rate1m"
FAILURE_RATIO_RECORD = "llm_infra:triton_failure_ratio:rate5m"


def selector(namespace: str, model: str) -> str:
    """Label matchers for one model's series, as scraped by its ServiceMonitor."""
    return f'namespace="{namespace}",model="{model}"'


def queue_compute_ratio(namespace: str, model: str, window: str = "1m") -> str:
    """Time requests wait in Triton's queue per unit of compute time.

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


def vllm_requests_waiting(namespace: str, model: str) -> str:
    """Requests waiting inside the vLLM engines of one model, summed over its replicas."""
    return f"sum({VLLM_REQUESTS_WAITING}{{{selector(namespace, model)}}})"


def failure_ratio(namespace: str, model: str, window: str = "5m") -> str:
    s = selector(namespace, model)
    return (
        f"sum(rate({REQUEST_FAILURE}{{{s}}}[{window}])) / "
        f"clamp_min(sum(rate({REQUEST_SUCCESS}{{{s}}}[{window}])) + sum(rate({REQUEST_FAILURE}{{{s}}}[{window}])), 0.001)"
    )
