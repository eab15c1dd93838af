"""The tritonserver command line, in one place, for the pod spec and for the real-server tests."""

from __future__ import annotations

HTTP_PORT = 8000
GRPC_PORT = 8001
METRICS_PORT = 8002


def tritonserver_args(
    *,
    model_repository: str,
    exit_timeout_seconds: int,
    http_port: int = HTTP_PORT,
    grpc_port: int = GRPC_PORT,
    metrics_port: int = METRICS_PORT,
) -> list[str]:
    """Arguments after `tritonserver`: a locked-down server that serves exactly the generated repository.

    `--model-control-mode=none` loads the repository once at start and refuses load and
    unload requests, so a client cannot swap models. `--strict-readiness=true` keeps
    `/v2/health/ready` false until every model is ready, which the startup and readiness
    probes rely on. `--exit-timeout-secs` bounds how long Triton waits for in-flight
    requests after SIGTERM; the pod's grace period is sized from it.
    """
    return [
        f"--model-repository={model_repository}",
        "--model-control-mode=none",
        "--strict-readiness=true",
        f"--exit-timeout-secs={exit_timeout_seconds}",
        f"--http-port={http_port}",
        f"--grpc-port={grpc_port}",
        f"--metrics-port={metrics_port}",
        "--allow-metrics=true",
        "--allow-gpu-metrics=true",
    ]
