"""AWS as a cloud plug-in: every answer llm-infra asks AWS for, and where its parts live.

Bottom layer (tests/test_cloud_seam.py): imports only config, the catalog, the planning rules and the
policies; the components are reached through this package's lazy names.
"""

from __future__ import annotations

import re

from .. import aws as package
from ..catalog import aws as catalog
from ..catalog import aws_facts as facts
from ..catalog.gateways import INTERNAL_LB_ANNOTATIONS
from ..cloud_plugin import Cloud, package_components
from ..config.aws import AwsConfig, _aws_problems
from ..device_list import DEFAULT_DEVICE_LIST_STRATEGY
from ..facts import Allocatable
from ..guardrails import MIN_AUDIT_LOG_RETENTION_DAYS_PRODUCTION, _shown
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


def _zone_fields(config) -> list[tuple[str, str]]:
    if config.aws is None:
        return []
    return [*((f"aws.availability_zones[{j}]", z) for j, z in enumerate(config.aws.availability_zones or [])),
            *((f"aws.private_subnet_ids.{z}", z) for z in (config.aws.private_subnet_ids or {}))]


def _allowlists(config) -> list[tuple[str, list[str]]]:
    return [("aws.public_access_cidrs", config.aws.public_access_cidrs)] if config.aws is not None else []


def _production_problems(config) -> list[str]:
    if config.aws is not None and config.aws.log_retention_days < MIN_AUDIT_LOG_RETENTION_DAYS_PRODUCTION:
        return [f"aws.log_retention_days: expected at least {MIN_AUDIT_LOG_RETENTION_DAYS_PRODUCTION} "
                f"days of control-plane audit logs in a production stack, got {config.aws.log_retention_days}"]
    return []


def _identity_problems(config) -> list[str]:
    problems: list[str] = []
    if config.aws is None:
        return problems
    aws = config.aws
    accounts = {aws.account_id} if aws.account_id else set()
    accounts |= set(aws.external_admin_accounts)
    for field in ("admin_principal_arns", "model_publisher_arns"):
        arns = getattr(aws, field)
        own = aws.account_id or (arns[0].split(":")[4] if arns else None)
        for i, arn in enumerate(arns):
            account = arn.split(":")[4] if arn.count(":") >= 5 else ""
            if account != own and account not in accounts:
                problems.append(f"aws.{field}[{i}]: expected a principal of the stack's account "
                                f"{own!r} (name another account in aws.external_admin_accounts to trust it), "
                                f"got {_shown(arn)}")
    return problems


def _device_list_strategy(config) -> str:
    if config.aws is None:
        return DEFAULT_DEVICE_LIST_STRATEGY
    return facts.DEVICE_LIST_STRATEGY_BY_AMI[config.aws.ami_type]


def _device_list_problems(config, field: str, given: str) -> list[str]:
    if given == "volume-mounts" and config.aws is not None and config.aws.ami_type.startswith("BOTTLEROCKET"):
        return [f"{field}: expected envvar on Bottlerocket nodes (the stack configures the NVIDIA runtime for "
                "volume-mounts on AL2023 nodes only), got volume-mounts"]
    return []


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
    settings=AwsConfig, problems=_aws_problems, account_field="account_id", deletion_protected_types=("aws:eks/cluster:Cluster",), uri_schemes=("s3",),
    region_pattern=r"^(us|eu|ap|sa|ca|me|af|il|mx)(-gov|-iso[a-z]?)?-(north|south|east|west|central|northeast|"
                   r"northwest|southeast|southwest)-[1-9]$",
    region_example="eu-west-1", zone_pattern=lambda region: rf"^{re.escape(region)}[a-z]$",
    catalog=catalog, facts=facts, default_type=catalog.default_instance_type,
    zone_fields=_zone_fields, allowlists=_allowlists, production_problems=_production_problems,
    identity_problems=_identity_problems, device_list_strategy=_device_list_strategy,
    device_list_problems=_device_list_problems,
    gpu_node=_gpu_node, system_node=_system_node, installs_gateway_crds=True,
    internal_lb_annotations=INTERNAL_LB_ANNOTATIONS["aws"],
    pricing=CloudPricing(_dedicated_instance, _region_fee, flat_control_plane("EKS control plane"), nat_gateways),
    system_type=DEFAULT_SYSTEM_INSTANCE_TYPE["aws"],
    policies=policies, package=package, platform_cluster="AwsPlatformCluster", mock_outputs=mock_outputs,
    components=package_components(package),
)
"""AWS: EKS, dedicated EC2 GPU nodes, KMS, S3 (the `aws` extra)."""
