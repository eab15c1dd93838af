"""AWS settings of a `cloud: aws` stack, and what EKS cannot build from a stack config."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .. import versions
from .base import _allowlisted_network, _cidr_sized, _FieldError, _Strict, parse_weights_uri, shown

if TYPE_CHECKING:
    from .models import ModelConfig, StackConfig


BOTTLEROCKET_OS_VOLUME_GIB = 8
"""Bottlerocket nodes boot from a small OS volume and keep images and ephemeral storage on a second one."""

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)
_IAM_PRINCIPAL = r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:(role|user)/[A-Za-z0-9+=,.@_/-]{1,512}$"
_S3_BUCKET_NO_DOTS = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class AwsConfig(_Strict):
    """AWS specifics of a `cloud: aws` stack. Every field has a secure default."""

    account_id: str | None = Field(default=None, pattern=r"^\d{12}$")
    """The AWS account the stack deploys into; the provider refuses any other. Defaults to the caller's account."""
    vpc_id: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    """An existing VPC (default tenancy). Defaults to a new VPC."""
    private_subnet_ids: dict[str, str] | None = None
    """Existing private subnets, zone -> subnet id (with `vpc_id`). Defaults to new subnets."""
    vpc_cidr: str = "10.40.0.0/16"
    """CIDR of a new VPC, /16 to /24. Defaults to 10.40.0.0/16."""
    availability_zones: list[str] | None = None
    """Zones of a new VPC (2 or 3). Defaults to the region's zones a, b and c."""
    single_nat_gateway: bool = False
    """One NAT gateway for all zones (cheaper, not zone-redundant). Defaults to one per zone."""
    public_access_cidrs: list[str] = Field(default_factory=list)
    """CIDRs that may reach the public API endpoint. Defaults to none: the endpoint is private only."""
    admin_principal_arns: list[str] = Field(default_factory=list)
    """IAM roles/users given cluster admin through access entries; include the one that runs `pulumi up`. Defaults to none."""
    model_publisher_arns: list[str] = Field(default_factory=list)
    """IAM principals that may encrypt new weights into the model bucket with the key. Defaults to none."""
    external_admin_accounts: list[Annotated[str, Field(pattern=r"^\d{12}$")]] = Field(default_factory=list)
    """Other AWS accounts whose principals may appear in admin_principal_arns and model_publisher_arns
    (a reviewed exception). Defaults to none: only the stack's own account."""
    kubernetes_version: str = versions.EKS_KUBERNETES_VERSION
    """EKS Kubernetes minor version. Defaults to `versions.EKS_KUBERNETES_VERSION`."""
    log_retention_days: int = 365
    """Retention of the control-plane log group in days (a CloudWatch retention period). Defaults to 365."""
    ami_type: Literal["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"] = "AL2023_x86_64_NVIDIA"
    """EKS-optimized NVIDIA AMI family of the GPU nodes: `AL2023_x86_64_NVIDIA` or `BOTTLEROCKET_x86_64_NVIDIA`. Defaults to AL2023."""
    dedicated_tenancy: Literal["dedicated", "host"] = "dedicated"
    """How `isolation: dedicated` is realised: `dedicated` (Dedicated Instances) or `host` (Dedicated Hosts of a host resource group). Defaults to dedicated."""
    host_resource_group_arn: str | None = Field(default=None, pattern=r"^arn:aws(-cn|-us-gov)?:resource-groups:[a-z0-9-]+:\d{12}:group/[A-Za-z0-9_.-]+$")
    """Host resource group of the Dedicated Hosts (only and required with `dedicated_tenancy: host`). Defaults to none."""
    node_volume_size_gib: int = Field(default=200, ge=50, le=16384)
    """Size of each GPU node's (data) volume in GiB: container images and the node's ephemeral storage. Defaults to 200."""
    system_instance_type: str = Field(default="m7i.large", pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
    """Instance type of the system node group (CoreDNS, EBS CSI controller, cluster autoscaler). Defaults to m7i.large."""
    system_nodes: int = Field(default=2, ge=1, le=10)
    """Number of system nodes. Defaults to 2."""

    @field_validator("kubernetes_version")
    @classmethod
    def _k8s_version(cls, v: str) -> str:
        if v not in versions.CLUSTER_AUTOSCALER_IMAGES:
            raise ValueError(f"expected one of {sorted(versions.CLUSTER_AUTOSCALER_IMAGES)}, got {shown(v)}")
        return v

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v not in LOG_RETENTION_DAYS:
            raise ValueError(f"expected a CloudWatch Logs retention period {list(LOG_RETENTION_DAYS)}, got {shown(v)}")
        return v

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        return _cidr_sized(v, 16, 24)

    @model_validator(mode="after")
    def _cross_fields(self) -> AwsConfig:
        for i, cidr in enumerate(self.public_access_cidrs):
            _allowlisted_network(f"public_access_cidrs[{i}]", cidr,
                                 what="the API endpoint (leave the list empty for a private-only endpoint)")
        for field in ("admin_principal_arns", "model_publisher_arns"):
            for i, arn in enumerate(getattr(self, field)):
                if not re.match(_IAM_PRINCIPAL, arn) or "*" in arn:
                    raise _FieldError(f"{field}[{i}]", "expected an IAM role or user ARN without wildcards "
                                      f"(arn:aws:iam::123456789012:role/NAME), got {shown(arn)}")
        if (self.vpc_id is None) != (self.private_subnet_ids is None):
            missing = "private_subnet_ids" if self.private_subnet_ids is None else "vpc_id"
            raise _FieldError(missing, "expected vpc_id and private_subnet_ids together (an existing VPC), got only one")
        if self.private_subnet_ids is not None:
            if len(self.private_subnet_ids) < 2:
                raise _FieldError("private_subnet_ids", f"expected subnets in at least 2 zones, got {len(self.private_subnet_ids)}")
            for zone, subnet in self.private_subnet_ids.items():
                if not re.match(r"^subnet-[0-9a-f]{8,17}$", subnet):
                    raise _FieldError(f"private_subnet_ids.{zone}", f"expected a subnet id (subnet-...), got {shown(subnet)}")
            if self.availability_zones is not None:
                raise _FieldError("availability_zones", "expected to be left out with an existing VPC "
                                  "(the zones are private_subnet_ids' keys), got a list")
        if self.availability_zones is not None:
            zones = self.availability_zones
            if not 2 <= len(zones) <= 3 or len(set(zones)) != len(zones):
                raise _FieldError("availability_zones", f"expected 2 or 3 distinct zones, got {shown(zones)}")
        if self.dedicated_tenancy == "host" and self.host_resource_group_arn is None:
            raise _FieldError("host_resource_group_arn", "expected the host resource group of the Dedicated Hosts "
                              "(EC2 Auto Scaling launches onto hosts only through one) with dedicated_tenancy 'host', got nothing")
        if self.dedicated_tenancy != "host" and self.host_resource_group_arn is not None:
            raise _FieldError("host_resource_group_arn", f"expected only with dedicated_tenancy 'host', got it with {self.dedicated_tenancy!r}")
        return self

    def model_problems(self, config: StackConfig, where: str, model: ModelConfig) -> list[str]:
        """The GPU nodes' driver must run the model's pinned Triton image (llm_infra.triton.upstream)."""
        from ..triton import upstream

        if model.image is not None:
            return []  # only EKS node images' drivers are tabled; a custom image is the user's to match
        aws = self
        driver = upstream.node_driver("aws", aws.ami_type, aws.kubernetes_version)
        if driver is None or upstream.driver_runs(driver.branch, model.backend):
            return []
        release = upstream.RELEASES[model.backend]
        return [f"{where}.backend: the {model.backend} image (Triton {release.container}, CUDA {release.cuda}) needs "
                f"NVIDIA driver {release.min_driver}+ (or {', '.join(f'R{b}' for b in release.datacenter_compat_drivers)} "
                f"on data-center GPUs), but {aws.ami_type} nodes on Kubernetes {aws.kubernetes_version} run R{driver.branch} "
                f"({driver.source}): use a newer aws.kubernetes_version or set models[].image"]

    # What the stack pays for, answered by the settings themselves (llm_infra.planning.cost).
    @property
    def gpu_node_disk_gib(self) -> int:
        """Each GPU node's volumes, as the cost estimate prices them (Bottlerocket adds its OS volume)."""
        os_volume = BOTTLEROCKET_OS_VOLUME_GIB if self.ami_type.startswith("BOTTLEROCKET") else 0
        return self.node_volume_size_gib + os_volume

    def system_pool(self, region: str) -> tuple[int, str]:
        """How many system (non-GPU) nodes the stack runs, and of which type."""
        return self.system_nodes, self.system_instance_type

    def nat_gateways(self, region: str) -> int:
        """NAT gateways of the stack's VPC: one, or one per zone."""
        return 1 if self.single_nat_gateway else len(self.availability_zones or "abc")

    def cache_read_mib_s(self, size_gib: int) -> float:
        """A model cache volume's sequential read rate: gp3 is provisioned at `CACHE_READ_MIB_S` (aws/cluster.py)."""
        from .models import CACHE_READ_MIB_S

        return float(CACHE_READ_MIB_S)

    def zones(self, region: str) -> list[str]:
        """The stack's zones: the existing subnets' zones, the configured zones, or a, b, c of the region."""
        if self.private_subnet_ids is not None:
            return list(self.private_subnet_ids)
        return list(self.availability_zones or [f"{region}{z}" for z in "abc"])


def _aws_problems(config: StackConfig) -> list[str]:
    """What AWS cannot build from this config (checked before anything is registered)."""
    from ..catalog.aws_facts import tenancy_problem
    from ..catalog.aws import check_instance_type, default_instance_type

    aws = config.aws or AwsConfig()
    problems: list[str] = []
    region = config.region or ""
    zones = aws.zones(region)
    if region and aws.availability_zones is not None:
        for i, zone in enumerate(aws.availability_zones):
            if not zone.startswith(region):
                problems.append(f"aws.availability_zones[{i}]: expected a zone of region {region!r}, got {shown(zone)}")
    if config.isolation == "shared" and aws.dedicated_tenancy == "host":
        problems.append("aws.dedicated_tenancy: expected 'dedicated' (the default) with isolation 'shared', got 'host'")
    for i, pool in enumerate(config.gpu_pools):
        where = f"gpu_pools[{i}]"
        bad = check_instance_type(pool.gpu, pool.gpus_per_node, pool.instance_type)
        if bad is not None:
            problems.append(f"{where}.{bad[0]}: {bad[1]}")
        # Tenancy x capacity type x size, from the sourced table (catalog/aws_facts.py).
        instance_type = pool.instance_type or default_instance_type(pool.gpu, pool.gpus_per_node)
        tenancy = aws.dedicated_tenancy if config.isolation == "dedicated" else "default"
        if bad is None and instance_type is not None:
            unsupported = tenancy_problem(instance_type, tenancy=tenancy, spot=pool.spot)
            if unsupported is not None:
                problems.append(f"{where}.{unsupported[0]}: {unsupported[1]}")
        for j, zone in enumerate(pool.zones or []):
            if zone not in zones:
                problems.append(f"{where}.zones[{j}]: expected one of the stack's zones {zones}, got {shown(zone)}")
        if config.production and pool.zones is not None and len(set(pool.zones)) < 2:
            problems.append(f"{where}.zones: expected at least 2 zones in a production stack, got {shown(pool.zones)}")
    # The stack creates the model bucket and scopes each model's role to its prefix:
    # every model of the stack lives under its own prefix of that one bucket.
    buckets: dict[str, int] = {}
    prefixes: list[tuple[int, str]] = []
    for i, m in enumerate(config.models):
        scheme, bucket, prefix = parse_weights_uri(m.weights_uri)
        if scheme != "s3":
            continue  # reported by the cloud/scheme check
        where = f"models[{i}].weights_uri"
        if not _S3_BUCKET_NO_DOTS.match(bucket):
            problems.append(f"{where}: expected a bucket name of lowercase letters, digits and '-' (no dots: "
                            f"TLS to virtual-hosted buckets), got {shown(bucket)}")
        if buckets and bucket not in buckets:
            first = next(iter(buckets))
            problems.append(f"{where}: expected the stack's model bucket {first!r} (models[{buckets[first]}]): "
                            f"the stack creates one bucket, got {shown(bucket)}")
        buckets.setdefault(bucket, i)
        if not prefix:
            problems.append(f"{where}: expected s3://BUCKET/PREFIX with a prefix of the model's own, got {shown(m.weights_uri)}")
            continue
        for j, other in prefixes:
            if prefix == other or prefix.startswith(other + "/") or other.startswith(prefix + "/"):
                problems.append(f"{where}: expected a prefix that does not overlap models[{j}]'s {other!r} "
                                f"(each model's role reads its prefix only), got {shown(prefix)}")
        prefixes.append((i, prefix))
    return problems
