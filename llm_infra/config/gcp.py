"""GCP settings of a `cloud: gcp` stack, and what GKE cannot build from a stack config."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from ..naming import fit
from .base import _allowlisted_network, _FieldError, _Strict, parse_weights_uri, shown

if TYPE_CHECKING:
    from .models import ModelConfig, StackConfig


# --- GCP --------------------------------------------------------------------------------
_GCP_PROJECT_ID = r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$"
_GCP_NAME = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
_GCS_BUCKET_NO_DOTS = re.compile(r"^[a-z0-9][-a-z0-9_]{1,61}[a-z0-9]$")


def default_model_bucket(project_id: str, environment: str) -> str:
    """The stack's model bucket when `gcp.model_bucket` is not set (bucket names are global)."""
    return fit(f"{project_id}-{environment}-llm-models", 63)


class GcpAuthorizedNetwork(_Strict):
    """A network allowed to reach the GKE control plane's private endpoint."""

    cidr_block: str
    """IPv4 CIDR, e.g. a VPN or CI runner range."""
    display_name: str = Field(default="", max_length=50)
    """Label shown in the console. Defaults to the CIDR."""


class GcpConfig(_Strict):
    """GCP specifics of a `cloud: gcp` stack. Everything but the project and who may reach the control plane has a secure default."""

    project_id: str = Field(pattern=_GCP_PROJECT_ID)
    """The project the stack deploys into."""
    project_number: str = Field(pattern=r"^[1-9][0-9]{5,18}$")
    """The project's number: it names the service agents that may use the key (no lookup offline)."""
    master_authorized_networks: list[GcpAuthorizedNetwork] = Field(min_length=1)
    """Networks that may reach the private control-plane endpoint (the deployer's VPN, CI runners)."""
    network: str | None = Field(default=None, pattern=_GCP_NAME)
    """An existing VPC network (with `subnetwork`, `pods_range_name`, `services_range_name`). Defaults to a new VPC."""
    subnetwork: str | None = Field(default=None, pattern=_GCP_NAME)
    """The existing network's subnetwork in the stack's region, with Private Google Access on. Defaults to a new one."""
    pods_range_name: str | None = Field(default=None, pattern=_GCP_NAME)
    """Secondary range of the existing subnetwork for pod IPs. Defaults to a new one."""
    services_range_name: str | None = Field(default=None, pattern=_GCP_NAME)
    """Secondary range of the existing subnetwork for service IPs. Defaults to a new one."""
    subnet_cidr: str = "10.40.0.0/20"
    """Primary range of a new subnetwork (nodes). Defaults to 10.40.0.0/20."""
    pods_cidr: str = "10.48.0.0/14"
    """Secondary range of a new subnetwork for pods. Defaults to 10.48.0.0/14."""
    services_cidr: str = "10.52.0.0/20"
    """Secondary range of a new subnetwork for services. Defaults to 10.52.0.0/20."""
    master_cidr: str = "172.16.0.32/28"
    """The control plane's /28 in the VPC. Defaults to 172.16.0.32/28."""
    zones: list[str] | None = None
    """Zones of the cluster's nodes (2 or more in production). Defaults to the region's zones a, b and c."""
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    """GKE release channel: RAPID, REGULAR or STABLE. Defaults to REGULAR."""
    node_service_account_email: str | None = None
    """An existing minimal node service account. Defaults to a new one with only the logging, monitoring and Artifact Registry reader roles."""
    system_machine_type: str = "e2-standard-4"
    """Machine type of the system nodes. Defaults to e2-standard-4."""
    system_nodes_per_zone: int = Field(default=1, ge=1, le=10)
    """System nodes per zone. Defaults to 1."""
    gpu_driver_version: Literal["DEFAULT", "LATEST"] = "DEFAULT"
    """NVIDIA driver GKE installs on GPU nodes: DEFAULT or LATEST. Defaults to DEFAULT (the version tested with the node's GKE version)."""
    node_disk_size_gb: int = Field(default=200, ge=50, le=65536)
    """Boot disk of each GPU node (images, ephemeral storage). Defaults to 200."""
    key_rotation_days: int = Field(default=90, ge=1, le=3650)
    """Rotation period of the customer key. Defaults to 90 days."""
    key_protection_level: Literal["SOFTWARE", "HSM"] = "SOFTWARE"
    """Cloud KMS protection level of the key: SOFTWARE or HSM. Defaults to SOFTWARE."""
    model_bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][-a-z0-9_]{1,61}[a-z0-9]$")
    """The stack's model bucket, which it creates; every weights_uri points into it. Defaults to `<project_id>-<environment>-llm-models`."""
    cache_disk_type: Literal["pd-balanced", "pd-ssd"] = "pd-balanced"
    """Persistent disk type of the model caches: pd-balanced or pd-ssd. Defaults to pd-balanced."""

    @field_validator("project_number", mode="before")
    @classmethod
    def _number_as_text(cls, v: Any) -> Any:
        # YAML reads an unquoted project number as an integer.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _cross_fields(self) -> GcpConfig:
        for i, net in enumerate(self.master_authorized_networks):
            _allowlisted_network(f"master_authorized_networks[{i}].cidr_block", net.cidr_block,
                                 what="the control plane")
        for field in ("subnet_cidr", "pods_cidr", "services_cidr", "master_cidr"):
            value = getattr(self, field)
            try:
                cidr = ipaddress.IPv4Network(value, strict=True)
            except ValueError:
                raise _FieldError(field, f"expected an IPv4 CIDR, got {shown(value)}") from None
            if not cidr.is_private:
                raise _FieldError(field, f"expected a private (RFC 1918) range, got {shown(value)}")
        if ipaddress.IPv4Network(self.master_cidr).prefixlen != 28:
            raise _FieldError("master_cidr", f"expected a /28 (GKE's control-plane range), got {shown(self.master_cidr)}")
        existing = {f: getattr(self, f) for f in ("network", "subnetwork", "pods_range_name", "services_range_name")}
        given = [f for f, v in existing.items() if v is not None]
        if given and len(given) != len(existing):
            missing = next(f for f, v in existing.items() if v is None)
            raise _FieldError(missing, f"expected with {', '.join(given)} (an existing network needs network, "
                              "subnetwork, pods_range_name and services_range_name), got nothing")
        if self.zones is not None and (len(self.zones) < 1 or len(set(self.zones)) != len(self.zones)):
            raise _FieldError("zones", f"expected distinct zones, got {shown(self.zones)}")
        email = self.node_service_account_email
        if email is not None:
            if re.match(r"^\d+-compute@developer\.gserviceaccount\.com$", email):
                raise _FieldError("node_service_account_email",
                                  "expected a dedicated minimal service account: the default compute account has "
                                  f"Editor on the project, got {shown(email)}")
            if not re.match(rf"^[a-z][-a-z0-9]{{4,28}}[a-z0-9]@{re.escape(self.project_id)}\.iam\.gserviceaccount\.com$", email):
                raise _FieldError("node_service_account_email",
                                  f"expected NAME@{self.project_id}.iam.gserviceaccount.com, got {shown(email)}")
        return self

    def model_problems(self, config: StackConfig, where: str, model: ModelConfig) -> list[str]:
        """What this cloud cannot run of one model: nothing beyond the shared checks."""
        return []

    # What the stack pays for, answered by the settings themselves (llm_infra.planning.cost).
    @property
    def gpu_node_disk_gib(self) -> int:
        """Each GPU node's boot disk, as the cost estimate prices it."""
        return self.node_disk_size_gb

    def system_pool(self, region: str) -> tuple[int, str]:
        """How many system (non-GPU) nodes the stack runs, and of which type."""
        return self.system_nodes_per_zone * len(self.node_zones(region)), self.system_machine_type

    def nat_gateways(self, region: str) -> int:
        """Cloud NAT gateways: one for the stack's network."""
        return 1

    def cache_read_mib_s(self, size_gib: int) -> float:
        """A model cache volume's sequential read rate: a persistent disk's follows its type and size (facts table)."""
        from ..catalog.gcp_facts import pd_read_mib_s

        return pd_read_mib_s(self.cache_disk_type, size_gib)

    def node_zones(self, region: str) -> list[str]:
        """The stack's zones: the configured zones, or a, b and c of the region."""
        return list(self.zones or [f"{region}-{z}" for z in "abc"])


def _gcp_problems(config: StackConfig) -> list[str]:
    """What GKE cannot build from this config (checked before anything is registered)."""
    from ..catalog.gcp_facts import gpu_zone_problem
    from ..catalog.gcp import check_machine_type

    gcp = config.gcp
    if gcp is None:
        return ["gcp: expected project_id, project_number and master_authorized_networks for cloud 'gcp', got nothing"]
    problems: list[str] = []
    region = config.region or ""
    zones = gcp.node_zones(region)
    for i, zone in enumerate(gcp.zones or []):
        if region and not zone.startswith(region + "-"):
            problems.append(f"gcp.zones[{i}]: expected a zone of region {region!r}, got {shown(zone)}")
    if config.production and len(zones) < 2:
        problems.append(f"gcp.zones: expected at least 2 zones in a production stack, got {shown(zones)}")
    for i, pool in enumerate(config.gpu_pools):
        where = f"gpu_pools[{i}]"
        bad = check_machine_type(pool.gpu, pool.gpus_per_node, pool.instance_type,
                                 sole_tenant=config.isolation == "dedicated", spot=pool.spot)
        if bad is not None:
            problems.append(f"{where}.{bad[0]}: {bad[1]}")
        for j, zone in enumerate(pool.zones or []):
            if zone not in zones:
                problems.append(f"{where}.zones[{j}]: expected one of the stack's zones {zones}, got {shown(zone)}")
        if bad is None:
            for j, zone in enumerate(pool.zones or zones):
                offered = gpu_zone_problem(pool.gpu, zone)
                if offered is not None:
                    field = f"zones[{j}]" if pool.zones else f"zones (gcp.zones[{j}])"
                    problems.append(f"{where}.{field}: {offered}")
        if config.production and len(set(pool.zones or zones)) < 2:
            problems.append(f"{where}.zones: expected at least 2 zones in a production stack, got {pool.zones or zones!r}")
    # The stack creates one model bucket and scopes each model's service account to its prefix.
    bucket = gcp.model_bucket or default_model_bucket(gcp.project_id, config.environment)
    prefixes: list[tuple[int, str]] = []
    for i, m in enumerate(config.models):
        scheme, uri_bucket, prefix = parse_weights_uri(m.weights_uri)
        if scheme != "gs":
            continue  # reported by the cloud/scheme check
        where = f"models[{i}].weights_uri"
        if uri_bucket != bucket:
            problems.append(f"{where}: expected gs://{bucket}/PREFIX (the stack's model bucket"
                            f"{'' if gcp.model_bucket else ', from gcp.project_id and environment; set gcp.model_bucket to name another'}), "
                            f"got {shown(m.weights_uri)}")
        if not prefix:
            problems.append(f"{where}: expected gs://{bucket}/PREFIX with a prefix of the model's own, got {shown(m.weights_uri)}")
            continue
        for j, other in prefixes:
            if prefix == other or prefix.startswith(other + "/") or other.startswith(prefix + "/"):
                problems.append(f"{where}: expected a prefix that does not overlap models[{j}]'s {other!r} "
                                f"(each model's service account reads its prefix only), got {shown(prefix)}")
        prefixes.append((i, prefix))
    authorized = [ipaddress.IPv4Network(n.cidr_block, strict=False) for n in gcp.master_authorized_networks]
    for i, cidr in enumerate(config.access.deployer_cidrs):
        if not any(ipaddress.IPv4Network(cidr).subnet_of(a) for a in authorized):
            problems.append(f"access.deployer_cidrs[{i}]: expected inside one of gcp.master_authorized_networks "
                            f"(GKE admits only those to the API endpoint), got {cidr!r}")
    return problems
