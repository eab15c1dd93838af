"""Do a model's replicas fit the nodes of their pool? Checked before anything is registered.

A replica's requests (CPU, memory with its memory-backed /dev/shm, ephemeral storage) must
fit one node's allocatable, computed with the cloud's documented reservation formula from
its fact table (the cloud plug-in's `gpu_node`, over `catalog/<cloud>_facts.py`), less the requests of the
DaemonSets this stack places on every GPU node (the device plugin where the cloud lacks
one, the DCGM exporter where the cloud collects no GPU metrics), read from the modules that
render them. Add-ons the cloud itself runs on every node (CNI, kube-proxy, CSI node
plugins) are not counted: their requests are the cloud's and change without us.
"""

from __future__ import annotations

import math

from .config import ConfigError, GpuPoolConfig, ModelConfig, StackConfig, cloud_plugin
from .facts import Allocatable
from .kubernetes import dcgm_exporter, device_plugin
from .triton.tls import PROXY_RESOURCES
from .triton.workload import SYNC_REQUESTS, triton_resources

_BINARY = {"Ki": 2**-10, "Mi": 1.0, "Gi": 2**10, "Ti": 2**20}


def cpu_millicores(quantity: str) -> int:
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def mebibytes(quantity: str) -> float:
    for suffix, factor in _BINARY.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity) / 2**20


def gpu_node_daemonsets(cloud: str, config: StackConfig) -> dict[str, dict[str, str]]:
    """Requests of the DaemonSets the stack runs on every GPU node of `cloud`, by name."""
    if cloud == "existing":
        manages_device_plugin = config.existing is not None and config.existing.manages_device_plugin
        manages_gpu_metrics = False  # the existing cluster's contract (llm_infra/existing.py) leaves it off
    else:
        plugin = cloud_plugin(cloud)
        assert plugin is not None, cloud
        facts = plugin.facts
        manages_device_plugin, manages_gpu_metrics = facts.MANAGES_DEVICE_PLUGIN, facts.MANAGES_GPU_METRICS
    out: dict[str, dict[str, str]] = {}
    if not manages_device_plugin:
        out["nvidia-device-plugin"] = device_plugin.REQUESTS
    if config.monitoring.dcgm_exporter and not manages_gpu_metrics:
        out["dcgm-exporter"] = dcgm_exporter.REQUESTS
    return out


def replica_requests(model: ModelConfig, *, tls: bool = True) -> tuple[int, float, float]:
    """(CPU millicores, memory MiB, ephemeral GiB) one replica asks of its node: the larger of its
    init container and its containers (Triton, and the TLS terminator with `tls`), as the scheduler counts them."""
    triton = triton_resources(model)["requests"]
    proxy = PROXY_RESOURCES if tls else {"cpu": "0", "memory": "0Mi"}
    cpu = max(cpu_millicores(triton["cpu"]) + cpu_millicores(proxy["cpu"]), cpu_millicores(SYNC_REQUESTS["cpu"]))
    memory = max(mebibytes(triton["memory"]) + mebibytes(proxy["memory"]), mebibytes(SYNC_REQUESTS["memory"]))
    return cpu, memory, mebibytes(triton["ephemeral-storage"]) / 1024


def _existing_node(config: StackConfig, pool: GpuPoolConfig) -> tuple[str, Allocatable | None]:
    """The allocatable the user declared for the pool's nodes (`existing.gpu_nodes`), or None."""
    assert config.existing is not None
    declared = config.existing.gpu_nodes.get(pool.name)
    if declared is None:
        return "", None
    how = f"existing.gpu_nodes.{pool.name}: cpu {declared.cpu}, memory {declared.memory}"
    return "", Allocatable(cpu_millicores(declared.cpu), int(mebibytes(declared.memory)),
                           mebibytes(declared.ephemeral_storage) / 1024, how)


def gpu_node_allocatable(config: StackConfig, pool: GpuPoolConfig) -> tuple[str, Allocatable | None]:
    """A GPU pool's instance type (empty on `existing`) and one node's allocatable: from the cloud's fact
    table (its plug-in's `gpu_node`), or on `existing` as declared in `existing.gpu_nodes` (None where no
    row or entry covers it)."""
    plugin = cloud_plugin(config.cloud)
    return plugin.gpu_node(config, pool) if plugin is not None else _existing_node(config, pool)


def system_node_allocatable(config: StackConfig, name: str, vcpus: int, memory_gib: float, max_pods: int,
                            disk_gib: int = 50) -> Allocatable:
    """Allocatable of a (non-GPU) node of this shape in the stack's cloud, by the cloud's reservation formula
    in its fact table (its plug-in's `system_node`). `existing` has no formula of its own: `EXISTING_NODES_AS`'s
    is used."""
    plugin = cloud_plugin(config.cloud) or cloud_plugin(EXISTING_NODES_AS)
    assert plugin is not None
    return plugin.system_node(config, name, vcpus, memory_gib, max_pods, disk_gib)


EXISTING_NODES_AS = "aws"
"""Whose reservation formula sizes a shape on `existing` (whose nodes llm-infra does not know): EKS's."""


def _existing_pool_problems(config: StackConfig) -> list[str]:
    assert config.existing is not None
    names = [p.name for p in config.gpu_pools]
    return [f"existing.gpu_nodes.{name}: expected the name of a gpu_pools entry ({', '.join(names)}), got {name!r}"
            for name in config.existing.gpu_nodes if name not in names]


def fit_problems(config: StackConfig) -> list[str]:
    """One line per model whose replica does not fit a node of its pool. On `existing`, only pools whose
    nodes the stack declares (`existing.gpu_nodes`) are checked: llm-infra does not know the nodes of a
    cluster it did not build."""
    if cloud_plugin(config.cloud) is None and config.cloud != "existing":
        return []
    problems: list[str] = []
    if config.cloud == "existing":
        if config.existing is None:
            return []
        problems += _existing_pool_problems(config)
    daemonsets = gpu_node_daemonsets(config.cloud, config)
    ds_cpu = sum(cpu_millicores(r["cpu"]) for r in daemonsets.values())
    ds_memory = sum(mebibytes(r["memory"]) for r in daemonsets.values())
    ds_note = (f" less the GPU-node DaemonSets ({', '.join(daemonsets)}: {ds_cpu}m CPU, {ds_memory:.0f} MiB)"
               if daemonsets else "")
    pools = {p.name: p for p in config.gpu_pools}
    for i, model in enumerate(config.models):
        pool = pools.get(model.gpu_pool)
        if pool is None:
            continue  # reported by the config check
        where = f"models[{i}]"
        kind, node = gpu_node_allocatable(config, pool)
        if node is None and config.cloud == "existing":
            continue  # the pool's nodes are not declared
        if node is None:
            problems.append(f"gpu_pools[{config.gpu_pools.index(pool)}].instance_type: expected a type with a "
                            f"sourced row in llm-infra's {config.cloud} fact table (its vCPUs, memory and node "
                            f"reservations decide whether {model.name!r} fits), got {kind!r}")
            continue
        cpu, memory, ephemeral = replica_requests(model, tls=config.tls.enabled)
        larger = (f"larger nodes in existing.gpu_nodes.{pool.name}" if config.cloud == "existing"
                  else "a larger instance_type")
        free_cpu = node.cpu_millicores - ds_cpu
        free_memory = node.memory_mib - ds_memory
        if cpu > free_cpu:
            problems.append(f"{where}.cpu: expected at most {free_cpu / 1000:g} CPU (pool {pool.name!r}: "
                            f"{node.cpu_millicores}m allocatable on {node.how}{ds_note}), got {model.cpu}")
        if memory > free_memory:
            field = "memory_gib" if model.memory_gib is not None else "memory_gib (default 1.25 x weights + 8)"
            problems.append(f"{where}.{field}: expected at most {math.floor(free_memory / 1024)} GiB (pool "
                            f"{pool.name!r}: {node.memory_mib / 1024:.1f} GiB allocatable on {node.how}{ds_note}), "
                            f"got {model.effective_memory_gib}; set memory_gib or {larger}")
        if model.shm_size_gib >= model.effective_memory_gib:
            problems.append(f"{where}.shm_size_gib: expected less than the replica's memory "
                            f"({model.effective_memory_gib} GiB): /dev/shm is memory-backed and charged to the "
                            f"container's memory limit, got {model.shm_size_gib}")
        if ephemeral > node.ephemeral_gib:
            problems.append(f"{where}: expected the replica's {ephemeral:g} GiB of ephemeral storage to fit the "
                            f"node's {node.ephemeral_gib:.0f} GiB allocatable (pool {pool.name!r}), got "
                            f"{ephemeral:g} GiB")
    return problems


def check_fit(config: StackConfig) -> None:
    """Raise ConfigError when a model's replica cannot be placed on a node of its pool."""
    problems = fit_problems(config)
    if problems:
        raise ConfigError(problems)
