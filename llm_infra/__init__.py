"""llm_infra: Pulumi components for private, encrypted, GPU-backed LLM serving with Triton.

Public components are re-exported here lazily, so `import llm_infra` costs little and
never imports a cloud SDK that the stack does not use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_EXPORTS: dict[str, str] = {
    "LlmPlatform": "llm_infra.platform",
    "LlmPlatformArgs": "llm_infra.platform",
    "ExistingCluster": "llm_infra.existing",
    "ExistingClusterArgs": "llm_infra.existing",
    "TritonLlmWorkload": "llm_infra.triton.workload",
    "TritonLlmWorkloadArgs": "llm_infra.triton.workload",
    "NvidiaDevicePlugin": "llm_infra.kubernetes.device_plugin",
    "NvidiaDevicePluginArgs": "llm_infra.kubernetes.device_plugin",
    "DcgmExporter": "llm_infra.kubernetes.dcgm_exporter",
    "DcgmExporterArgs": "llm_infra.kubernetes.dcgm_exporter",
    "TenantNamespace": "llm_infra.kubernetes.tenant_namespace",
    "TenantNamespaceArgs": "llm_infra.kubernetes.tenant_namespace",
    "GpuSoftwareLayer": "llm_infra.kubernetes.gpu_layer",
    "GpuSoftwareLayerArgs": "llm_infra.kubernetes.gpu_layer",
    "ClusterContract": "llm_infra.contract",
    "WorkloadIdentity": "llm_infra.contract",
    "ModelIdentityRequest": "llm_infra.contract",
    "StackConfig": "llm_infra.config",
    "ModelConfig": "llm_infra.config",
    "ConfigError": "llm_infra.config",
    "load_stack_config": "llm_infra.config",
    "parse_stack_config": "llm_infra.config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llm_infra' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # pragma: no cover
    # `X as X`: an explicit re-export, for type checkers (the names resolve lazily at run time).
    from .config import (
        ConfigError as ConfigError,
        ModelConfig as ModelConfig,
        StackConfig as StackConfig,
        load_stack_config as load_stack_config,
        parse_stack_config as parse_stack_config,
    )
    from .contract import (
        ClusterContract as ClusterContract,
        ModelIdentityRequest as ModelIdentityRequest,
        WorkloadIdentity as WorkloadIdentity,
    )
    from .existing import (
        ExistingCluster as ExistingCluster,
        ExistingClusterArgs as ExistingClusterArgs,
    )
    from .kubernetes.dcgm_exporter import (
        DcgmExporter as DcgmExporter,
        DcgmExporterArgs as DcgmExporterArgs,
    )
    from .kubernetes.device_plugin import (
        NvidiaDevicePlugin as NvidiaDevicePlugin,
        NvidiaDevicePluginArgs as NvidiaDevicePluginArgs,
    )
    from .kubernetes.gpu_layer import (
        GpuSoftwareLayer as GpuSoftwareLayer,
        GpuSoftwareLayerArgs as GpuSoftwareLayerArgs,
    )
    from .kubernetes.tenant_namespace import (
        TenantNamespace as TenantNamespace,
        TenantNamespaceArgs as TenantNamespaceArgs,
    )
    from .platform import (
        LlmPlatform as LlmPlatform,
        LlmPlatformArgs as LlmPlatformArgs,
    )
    from .triton.workload import (
        TritonLlmWorkload as TritonLlmWorkload,
        TritonLlmWorkloadArgs as TritonLlmWorkloadArgs,
    )
