"""The tritonserver command line, in one place, for the pod spec and for the real-server tests."""

from __future__ import annotations

from collections.abc import Sequence

HTTP_PORT = 8000
GRPC_PORT = 8001
METRICS_PORT = 8002


ADMIN_KEY_HEADER = "llm-infra-admin-key"
"""Header that Triton's model-repository API demands when a vLLM model runs in explicit mode."""


def tritonserver_args(
    *,
    model_repository: str,
    exit_timeout_seconds: int,
    http_port: int = HTTP_PORT,
    grpc_port: int = GRPC_PORT,
    metrics_port: int = METRICS_PORT,
    unloadable_models: Sequence[str] = (),
    admin_key: str = "",
) -> list[str]:
    """Arguments after `tritonserver`: a locked-down server that serves exactly the generated repository.

    `--model-control-mode=none` loads the repository once at start and refuses load and
    unload requests, so a client cannot swap models. `--strict-readiness=true` keeps
    `/v2/health/ready` false until every model is ready, which the startup and readiness
    probes rely on. `--exit-timeout-secs` bounds how long Triton waits for in-flight
    requests after SIGTERM; the pod's grace period is sized from it.

    `unloadable_models` (vLLM models with the engine health check) switch to
    `--model-control-mode=explicit` loading exactly those models: a dead engine then unloads
    its model (the pinned vllm_backend's ENABLE_VLLM_HEALTH_CHECK needs that mode), the
    model's ready endpoint fails and the probes take the pod out. Clients still cannot load
    or unload: the model-repository API over HTTP and gRPC demands the `admin_key` header,
    which is required then.
    """
    if unloadable_models and not admin_key:
        raise ValueError("admin_key: required with unloadable_models, got nothing")
    if unloadable_models:
        control = ["--model-control-mode=explicit", *(f"--load-model={m}" for m in unloadable_models),
                   f"--http-restricted-api=model-repository:{ADMIN_KEY_HEADER}={admin_key}",
                   f"--grpc-restricted-protocol=model-repository:{ADMIN_KEY_HEADER}={admin_key}"]
    else:
        control = ["--model-control-mode=none"]
    return [
        f"--model-repository={model_repository}",
        *control,
        "--strict-readiness=true",
        f"--exit-timeout-secs={exit_timeout_seconds}",
        f"--http-port={http_port}",
        f"--grpc-port={grpc_port}",
        f"--metrics-port={metrics_port}",
        "--allow-metrics=true",
        "--allow-gpu-metrics=true",
    ]
