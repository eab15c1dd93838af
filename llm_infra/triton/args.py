"""The tritonserver command line, in one place, for the pod spec and for the real-server tests."""

from __future__ import annotations

from collections.abc import Sequence

HTTP_PORT = 8000
GRPC_PORT = 8001
METRICS_PORT = 8002

# Triton's API groups (server src/restricted_features.h@v2.51.0, RESTRICTED_CATEGORY_NAMES) that
# clients of a served model never need: loading and unloading, config and statistics,
# shared-memory registration (a client could map memory into the server), trace and log
# settings. health, metadata and inference stay open (probes and clients).
RESTRICTED_APIS = ("model-repository", "model-config", "shared-memory", "statistics", "trace", "logging")
ADMIN_HEADER = "triton-admin-key"
"""Header that unlocks the restricted APIs over HTTP. gRPC prefixes it: `triton-grpc-protocol-triton-admin-key`
(server src/grpc/grpc_server.h@v2.51.0, kRestrictedProtocolHeaderTemplate)."""
ADMIN_KEY_ENV = "TRITON_ADMIN_KEY"
"""In the pod, the key is the pod's own UID (downward API), expanded by the kubelet as `$(TRITON_ADMIN_KEY)`:
unguessable, stored nowhere, readable only by whoever may read the pod object."""


def tritonserver_args(
    *,
    model_repository: str,
    exit_timeout_seconds: int,
    http_port: int = HTTP_PORT,
    grpc_port: int = GRPC_PORT,
    metrics_port: int = METRICS_PORT,
    admin_key: str = f"$({ADMIN_KEY_ENV})",
    unloadable_models: Sequence[str] = (),
) -> list[str]:
    """Arguments after `tritonserver`: a locked-down server that serves exactly the generated repository.

    `--model-control-mode=none` loads the repository once at start and refuses load and
    unload requests, so a client cannot swap models. `--strict-readiness=true` keeps
    `/v2/health/ready` false until every model is ready, which the startup and readiness
    probes rely on. `--exit-timeout-secs` bounds how long Triton waits for in-flight
    requests after SIGTERM; the pod's grace period is sized from it. The
    `--http-restricted-api` / `--grpc-restricted-protocol` flags (format
    `<apis>:<header>=<value>`, server src/command_line_parser.cc@v2.51.0,
    ParseRestrictedFeatureOption) answer 403 to `RESTRICTED_APIS` without the admin header.

    `unloadable_models` (vLLM models with the engine health check) switch to
    `--model-control-mode=explicit` loading exactly those models: a dead engine then unloads
    its model (the pinned vllm_backend's ENABLE_VLLM_HEALTH_CHECK needs that mode), the
    model's ready endpoint fails and the probes take the pod out. Clients still cannot load
    or unload: the model-repository API is one of the restricted ones.
    """
    restricted = ",".join(RESTRICTED_APIS)
    control = (["--model-control-mode=explicit", *(f"--load-model={m}" for m in unloadable_models)]
               if unloadable_models else ["--model-control-mode=none"])
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
        f"--http-restricted-api={restricted}:{ADMIN_HEADER}={admin_key}",
        f"--grpc-restricted-protocol={restricted}:{ADMIN_HEADER}={admin_key}",
    ]
