"""AWS as a cloud plug-in: every answer llm-infra asks AWS for, and where its parts live.

Bottom layer (tests/test_cloud_seam.py): imports only config, the catalog, the planning rules and the
policies; the components are reached through this package's lazy names.
"""

from __future__ import annotations

import re

from .. import aws as package
from ..catalog import aws as catalog
from ..catalog import aws_facts as facts
from ..cloud_plugin import Cloud, package_components
from ..config.aws import AwsConfig, _aws_problems
from ..facts import Allocatable
from ..planning.catalog import DEFAULT_SYSTEM_INSTANCE_TYPE, HOURS_PER_MONTH, InstanceType
from ..planning.cost import CloudPricing, CostLine, GpuPoolCostInput, StackCostInput, flat_control_plane
from ..planning.cost import nat_gateways, price
from ..policies import aws as policies
from . import mock_outputs


def _gpu_node(config, pool) -> tuple[str, Allocatable | None]:
    kind = pool.instance_type or catalog.default_instance_type(pool.gpu, pool.gpus_per_node) or ""
    return kind, facts.node_allocatable(kind, (config.aws or AwsConfig()).node_volume_size_gib)


def _system_node(config, name: str, vcpus: int, memory_gib: float, max_pods: int, disk_gib: int) -> Allocatable:
    return facts.shape_allocatable(name, vcpus, memory_gib, max_pods, disk_gib)


def _dedicated_instance(entry: InstanceType, pool: GpuPoolCostInput, hourly: float, option: str,
                        notes: list[str]) -> tuple[float, str]:
    if entry.dedicated_usd_per_hour is not None and not pool.spot:
        return entry.dedicated_usd_per_hour, "dedicated"
    notes.append(f"No published Dedicated Instance price for {entry.name} was found: priced at the "
                 f"shared-tenancy price, so pool {pool.name!r} is a lower bound (plus the region fee).")
    return hourly, option + ", dedicated tenancy at the shared-tenancy price"


def _region_fee(stack: StackCostInput, catalog: tuple[InstanceType, ...], gpu_nodes_min: int, gpu_nodes_max: int,
                notes: list[str]) -> CostLine:
    fee = price("aws", "dedicated_region_fee")
    assert fee.usd is not None
    h = HOURS_PER_MONTH
    return CostLine("Dedicated Per Region Fee", fee.usd * h if gpu_nodes_min else 0.0, fee.usd * h if gpu_nodes_max else 0.0,
                    f"${fee.usd:.2f}/h while any Dedicated Instance runs in the region")


PLUGIN = Cloud(
    name="aws", provider="aws", extra="aws", sdk="pulumi_aws",
    settings=AwsConfig, problems=_aws_problems, uri_schemes=("s3",),
    region_pattern=r"^(us|eu|ap|sa|ca|me|af|il|mx)(-gov|-iso[a-z]?)?-(north|south|east|west|central|northeast|"
                   r"northwest|southeast|southwest)-[1-9]$",
    region_example="eu-west-1", zone_pattern=lambda region: rf"^{re.escape(region)}[a-z]$",
    catalog=catalog, facts=facts, default_type=catalog.default_instance_type,
    gpu_node=_gpu_node, system_node=_system_node, installs_gateway_crds=True,
    pricing=CloudPricing(_dedicated_instance, _region_fee, flat_control_plane("EKS control plane"), nat_gateways),
    system_type=DEFAULT_SYSTEM_INSTANCE_TYPE["aws"],
    policies=policies, package=package, platform_cluster="AwsPlatformCluster", mock_outputs=mock_outputs,
    components=package_components(package),
)
"""AWS: EKS, dedicated EC2 GPU nodes, KMS, S3 (the `aws` extra)."""
