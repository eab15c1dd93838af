"""GCP as a cloud plug-in: every answer llm-infra asks GCP for, and where its parts live.

Bottom layer (tests/test_cloud_seam.py): imports only config, the catalog, the planning rules and the
policies; the components are reached through this package's lazy names.
"""

from __future__ import annotations

import ipaddress
import re

from .. import gcp as package
from ..catalog import gcp as catalog
from ..catalog.gcp import PROXY_ONLY_CIDR
from ..catalog import gcp_facts as facts
from ..catalog.gateways import DEFAULT_GATEWAY_CLASS
from ..cloud_plugin import Cloud, package_components
from ..config.gcp import GcpConfig, _gcp_problems
from ..facts import Allocatable
from ..planning.catalog import DEFAULT_SYSTEM_INSTANCE_TYPE, HOURS_PER_MONTH, InstanceType, gcp_g2_price
from ..planning.cost import CloudPricing, CostLine, StackCostInput, catalog_entry, flat_control_plane, price
from ..planning.cost import shared_price_when_dedicated
from ..policies import gcp as policies
from . import mock_outputs


def _gpu_node(config, pool) -> tuple[str, Allocatable | None]:
    assert config.gcp is not None
    kind = catalog.machine_type_for(pool.gpu, pool.gpus_per_node, pool.instance_type)
    return kind, facts.node_allocatable(kind, config.gcp.node_disk_size_gb)


def _system_node(config, name: str, vcpus: int, memory_gib: float, max_pods: int, disk_gib: int) -> Allocatable:
    return facts.shape_allocatable(name, vcpus, memory_gib, disk_gib)


def _zone_fields(config) -> list[tuple[str, str]]:
    return [(f"gcp.zones[{j}]", z) for j, z in enumerate(config.gcp.zones or [])] if config.gcp is not None else []


def _allowlists(config) -> list[tuple[str, list[str]]]:
    if config.gcp is None:
        return []
    return [("gcp.master_authorized_networks", [n.cidr_block for n in config.gcp.master_authorized_networks])]


def _gateway_problems(config, gateway_class: str | None) -> list[str]:
    """The regional internal load balancer's proxy-only subnet, which the stack's own network adds, must not
    overlap the network's other ranges."""
    if config.gcp is None or config.gcp.network or gateway_class != DEFAULT_GATEWAY_CLASS["gcp"]:
        return []
    problems = []
    proxy = ipaddress.ip_network(PROXY_ONLY_CIDR)
    for key in ("subnet_cidr", "pods_cidr", "services_cidr", "master_cidr"):
        value = getattr(config.gcp, key, None)
        if value and ipaddress.ip_network(value, strict=False).overlaps(proxy):
            problems.append(f"gcp.{key}: expected a range apart from the inference Gateway's proxy-only subnet "
                            f"{PROXY_ONLY_CIDR}, got {value!r}")
    return problems


def _sole_tenancy_premium(stack: StackCostInput, catalog: tuple[InstanceType, ...], gpu_nodes_min: int,
                          gpu_nodes_max: int, notes: list[str]) -> CostLine:
    """GCP bills a sole-tenant node's vCPUs and memory plus a premium of a share of them (`sole_tenancy_premium`).

    For G2 the vCPU and memory share of a machine comes from its SKU rates; for a family whose
    catalog price is one figure (GPUs included), the premium is taken on the whole price, an
    upper bound, and a note says so.
    """
    rate = price("gcp", "sole_tenancy_premium")
    assert rate.usd is not None
    low = high = 0.0
    bounded: list[str] = []
    for pool in stack.gpu_pools:
        entry = catalog_entry(pool.instance_type, "gcp", catalog)
        if entry is None:
            continue  # the pool's own line already says it is unpriced
        if entry.name.startswith("g2-"):
            base = gcp_g2_price(entry.vcpus, entry.memory_gib, 0)
        else:
            base = entry.on_demand_usd_per_hour
            bounded.append(entry.name)
        low += pool.min_nodes * base * rate.usd * HOURS_PER_MONTH
        high += pool.max_nodes * base * rate.usd * HOURS_PER_MONTH
    if bounded:
        notes.append(f"Sole-tenancy premium on {', '.join(sorted(set(bounded)))}: taken on the whole machine price "
                     f"(GPUs included) for want of a vCPU and memory rate in the catalog, so it is an upper bound.")
    return CostLine("sole-tenant node premium", low, high,
                    f"{rate.usd:.0%} of the GPU nodes' vCPU and memory price ({rate.source.url if rate.source else ''})")


def _cloud_nat(stack: StackCostInput, gpu_nodes_min: int, gpu_nodes_max: int) -> CostLine:
    vm, cap, ip = price("gcp", "nat_vm"), price("gcp", "nat_cap"), price("gcp", "nat_ip")
    assert vm.usd is not None and cap.usd is not None and ip.usd is not None
    vm_usd, cap_usd, ip_usd = vm.usd, cap.usd, ip.usd  # narrowed for the closure

    def monthly(vms: int) -> float:
        per_gateway = min(vms * vm_usd, cap_usd) if vms else 0.0
        return stack.nat_gateways * (per_gateway + ip_usd) * HOURS_PER_MONTH

    return CostLine("Cloud NAT", monthly(stack.system_nodes + gpu_nodes_min), monthly(stack.system_nodes + gpu_nodes_max),
                    f"{stack.nat_gateways} x (${vm.usd}/VM-h up to ${cap.usd}/h + ${ip.usd}/h IP); data extra")


PLUGIN = Cloud(
    name="gcp", provider="gcp", extra="gcp", sdk="pulumi_gcp",
    settings=GcpConfig, problems=_gcp_problems, account_field="project_id", deletion_protected_types=("gcp:container/cluster:Cluster",), uri_schemes=("gs",),
    region_pattern=r"^[a-z]+-[a-z]+[1-9][0-9]?$", region_example="europe-west4",
    zone_pattern=lambda region: rf"^{re.escape(region)}-[a-z]$",
    catalog=catalog, facts=facts, default_type=catalog.default_machine_type,
    zone_fields=_zone_fields, allowlists=_allowlists, gateway_problems=_gateway_problems,
    gpu_node=_gpu_node, system_node=_system_node, installs_gateway_crds=False,
    default_gateway_class=DEFAULT_GATEWAY_CLASS["gcp"],
    pricing=CloudPricing(shared_price_when_dedicated, _sole_tenancy_premium,
                         flat_control_plane("GKE cluster management fee"), _cloud_nat),
    system_type=DEFAULT_SYSTEM_INSTANCE_TYPE["gcp"],
    policies=policies, package=package, platform_cluster="GcpPlatformCluster", mock_outputs=mock_outputs,
    components=package_components(package),
)
"""GCP: GKE, sole-tenant GPU nodes, Cloud KMS, Cloud Storage (the `gcp` extra)."""
