"""AksGpuNodePool: one AKS user agent pool of identical NVIDIA GPU nodes.

AKS installs the NVIDIA driver on NC/ND nodes; the device plugin comes from our
Kubernetes layer. Tainted `nvidia.com/gpu=true:NoSchedule`, labelled with its pool name,
host encryption on, OS disks through the cluster's Disk Encryption Set (set on the
cluster), no public IPs, cluster autoscaler between `min_nodes` (may be 0) and
`max_nodes`. On a dedicated host group only when the VM size runs on Azure Dedicated
Host (see `vm_sizes`); a pool that accepts multi-tenant hosts under dedicated isolation
says so in its `llm-infra.io/isolation` tag, which the policies read.
"""

from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_azure_native as azure_native

from ..contract import DEFAULT_GPU_POOL_LABEL as GPU_POOL_LABEL
from ..contract import GPU_TAINT_KEY
from .naming import agent_pool_name
from ..config.azure import GPU_NODE_OS_DISK_GIB
from ..catalog.azure import GPU_VM_SIZES, dedicated_host_problem, default_vm_size

GPU_TAINT = f"{GPU_TAINT_KEY}=true:NoSchedule"
ISOLATION_TAG = "llm-infra.io/isolation"
ISOLATION_VALUES = ("dedicated-host", "shared", "shared-host-accepted")


class AksGpuNodePoolArgs(TypedDict):
    resource_group_name: pulumi.Input[str]
    """Resource group of the cluster."""
    cluster_name: pulumi.Input[str]
    """Name of the AKS cluster that owns the pool."""
    pool: str
    """Pool name (a DNS label): the value of the `llm-infra.io/gpu-pool` node label."""
    gpu: str
    """GPU model, e.g. `nvidia-h100-80gb`."""
    node_subnet_id: pulumi.Input[str]
    """Subnet of the nodes."""
    gpus_per_node: NotRequired[int]
    """GPUs per node. Defaults to 1."""
    vm_size: NotRequired[str | None]
    """Azure VM size. Defaults to the first size in `vm_sizes.GPU_VM_SIZES` with `gpus_per_node` GPUs of `gpu`."""
    min_nodes: NotRequired[int]
    """Minimum nodes (0 lets the pool scale to zero). Defaults to 0."""
    max_nodes: NotRequired[int]
    """Maximum nodes. Defaults to 2."""
    spot: NotRequired[bool]
    """Spot VMs (evicted nodes are deleted, any price up to on-demand). Defaults to `False`."""
    zones: NotRequired[Sequence[str]]
    """Availability zones. Defaults to 1, 2 and 3."""
    host_group_id: NotRequired[pulumi.Input[str] | None]
    """Dedicated host group (automatic placement) for the nodes. Defaults to none: multi-tenant hosts."""
    isolation: NotRequired[str]
    """What the `llm-infra.io/isolation` tag records: `dedicated-host`, `shared` or `shared-host-accepted`.
    Defaults to `dedicated-host` with a host group, else `shared`."""
    os_disk_size_gib: NotRequired[int]
    """OS disk size (container images, ephemeral storage). Defaults to 256."""
    kubernetes_version: NotRequired[str | None]
    """Orchestrator version of the pool. Defaults to the cluster's."""


class AksGpuNodePool(pulumi.ComponentResource):
    """A GPU-only AKS agent pool: tainted, labelled, host-encrypted, autoscaled from zero."""

    agent_pool_name: pulumi.Output[str]
    """Name of the AKS agent pool."""
    vm_size: pulumi.Output[str]
    """VM size of the nodes."""

    def __init__(self, name: str, args: AksGpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        gpus = args.get("gpus_per_node", 1)
        vm_size = args.get("vm_size") or default_vm_size(args["gpu"], gpus)
        if vm_size is None:
            raise ValueError(f"vm_size: expected an Azure GPU VM size: no known {args['gpu']} size has {gpus} GPUs, got nothing")
        known = GPU_VM_SIZES.get(vm_size)
        if known is not None and known != (args["gpu"], gpus):
            raise ValueError(f"vm_size: expected a size with {gpus} x {args['gpu']}, got {vm_size!r} ({known[1]} x {known[0]})")
        host_group = args.get("host_group_id")
        if host_group is not None:
            problem = dedicated_host_problem(vm_size)
            if problem is not None:
                raise ValueError(f"host_group_id: {problem}")
        isolation = args.get("isolation") or ("dedicated-host" if host_group is not None else "shared")
        if isolation not in ISOLATION_VALUES or (isolation == "dedicated-host") != (host_group is not None):
            raise ValueError(f"isolation: expected 'dedicated-host' exactly when host_group_id is set, else 'shared' or "
                             f"'shared-host-accepted', got {isolation!r}")
        spot = args.get("spot", False)
        if spot and host_group is not None:
            raise ValueError("spot: expected false on a dedicated host group (spot VMs run on shared capacity)")
        min_nodes, max_nodes = args.get("min_nodes", 0), args.get("max_nodes", 2)
        if not 0 <= min_nodes <= max_nodes or max_nodes < 1:
            raise ValueError(f"max_nodes: expected >= max(1, min_nodes {min_nodes}), got {max_nodes}")
        super().__init__("llm-infra:index:AksGpuNodePool", name, None, opts)
        pool = args["pool"]
        pool_name = agent_pool_name(pool)
        spot_args = dict(scale_set_priority="Spot", scale_set_eviction_policy="Delete", spot_max_price=-1) if spot else {}
        agent_pool = azure_native.containerservice.AgentPool(
            f"{name}-agent-pool",
            agent_pool_name=pool_name,
            resource_name_=args["cluster_name"],
            resource_group_name=args["resource_group_name"],
            mode="User",
            os_type="Linux",
            os_sku="Ubuntu",
            vm_size=vm_size,
            orchestrator_version=args.get("kubernetes_version"),
            count=min_nodes,
            enable_auto_scaling=True,
            min_count=min_nodes,
            max_count=max_nodes,
            availability_zones=list(args.get("zones") or ["1", "2", "3"]),
            enable_encryption_at_host=True,
            enable_node_public_ip=False,
            os_disk_type="Managed",
            os_disk_size_gb=args.get("os_disk_size_gib", GPU_NODE_OS_DISK_GIB),
            vnet_subnet_id=args["node_subnet_id"],
            host_group_id=host_group,
            node_taints=[GPU_TAINT],
            node_labels={GPU_POOL_LABEL: pool, "llm-infra.io/gpu": args["gpu"]},
            tags={GPU_POOL_LABEL: pool, ISOLATION_TAG: isolation},
            type="VirtualMachineScaleSets",
            upgrade_settings=azure_native.containerservice.AgentPoolUpgradeSettingsArgs(max_surge="1"),
            **spot_args,
            # The cluster autoscaler owns the node count once the pool exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"]),
        )
        self.agent_pool = agent_pool
        self.agent_pool_name = agent_pool.id.apply(lambda _: pool_name)
        self.vm_size = pulumi.Output.from_input(vm_size)
        self.register_outputs({"agent_pool_name": self.agent_pool_name, "vm_size": self.vm_size})
