"""What a cloud plug-in is: one `Cloud` per cloud, declared in the cloud's folder (`llm_infra/<cloud>/plugin.py`)
and collected by the one registry line in `llm_infra/clouds.py`.

This module and each cloud's `plugin.py` sit at the bottom layer: they import only config, the
catalogs, the planning rules and the policies (pure Python, no cloud SDK). A cloud's components,
which do import its SDK, are reached through its package's lazy names (`package`, `platform_cluster`),
so config, fit, cost and the gateway facts read a cloud's answers here without importing up a layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel


@dataclass(frozen=True, kw_only=True)
class Cloud:
    """One cloud plug-in: every answer llm-infra asks a cloud for, and where its parts live."""

    name: str
    """The value of stack config's `cloud`, and the key of its settings block."""
    provider: str
    """The first segment of its resources' type tokens (`aws`, `gcp`, `azure-native`)."""
    extra: str
    """The pip extra that installs its Pulumi provider SDK."""
    sdk: str
    """The module that extra installs (`pulumi_aws`)."""

    # config (bottom layer)
    settings: type[BaseModel]
    """Its settings model (`config/<cloud>.py`): the stack's block named `name`."""
    problems: Callable[[Any], list[str]]
    """What the cloud cannot build, over a whole StackConfig (one line per problem)."""
    uri_schemes: tuple[str, ...]
    """The weights URI schemes its workload identity can read."""
    account_field: str
    """The settings field naming the account (project, subscription) the stack deploys into."""
    deletion_protected_types: tuple[str, ...] = ()
    """Resource types the cloud refuses to delete while their `deletionProtection` input is on (plan's teardown)."""
    region_pattern: str
    """Region names by shape (refuses what cannot be one)."""
    region_example: str
    zone_pattern: Callable[[str], str]
    """The pattern a zone of a region matches."""

    # guardrails (stack checks beyond the settings model; each reads its own block, on any stack)
    zone_fields: Callable[[Any], list[tuple[str, str]]] = lambda config: []
    """(field, zone) of every zone its settings block names, checked against the region."""
    allowlists: Callable[[Any], list[tuple[str, list[str]]]] = lambda config: []
    """(field, CIDRs) of every list its settings block opens the API endpoint to."""
    production_problems: Callable[[Any], list[str]] = lambda config: []
    """What its settings block lacks for a production stack."""
    identity_problems: Callable[[Any], list[str]] = lambda config: []
    """Principals its settings block trusts that the stack's account does not own."""
    device_list_strategy: Callable[[Any], str] | None = None
    """The device plugin's device list strategy on its GPU nodes (unset: `device_list.DEFAULT_DEVICE_LIST_STRATEGY`)."""
    device_list_problems: Callable[[Any, str, str], list[str]] = lambda config, field, given: []
    """Why a configured device list strategy cannot work on its nodes (config, field, given)."""
    gateway_problems: Callable[[Any, str | None], list[str]] = lambda config, gateway_class: []
    """What its network needs for the inference Gateway of that class (config, the class)."""

    # catalog (bottom layer)
    catalog: ModuleType
    """Machine types with their GPUs (`catalog/<cloud>.py`)."""
    facts: ModuleType
    """Sourced facts: node allocatable, managed add-ons (`catalog/<cloud>_facts.py`)."""
    default_type: Callable[[str, int], str | None]
    """The machine type of a pool without `instance_type` (gpu, gpus per node)."""
    gpu_node: Callable[[Any, Any], tuple[str, Any]]
    """(instance type, one node's `facts.Allocatable` or None) of a GPU pool (StackConfig, GpuPoolConfig)."""
    system_node: Callable[[Any, str, int, float, int, int], Any]
    """Allocatable of a non-GPU node of a shape (config, name, vCPUs, memory GiB, max pods, disk GiB)."""
    installs_gateway_crds: bool
    """Whether the stack installs the Gateway API and Inference Extension CRDs by default (the cloud does not)."""
    default_gateway_class: str | None = None
    """The cloud's own gateway class that serves InferencePools on an internal load balancer, if any."""
    internal_lb_annotations: Mapping[str, str] = field(default_factory=dict)
    """What makes its load balancer for a Service internal, set on the inference Gateway's infrastructure."""

    # planning (bottom layer)
    pricing: Any
    """How it bills what differs between clouds (`planning.cost.CloudPricing`)."""
    system_type: str
    """The system node type priced when the settings name none."""
    instances: tuple[Any, ...] = ()
    """GPU instance types with prices beyond `planning.catalog.CATALOG` (`planning.catalog.InstanceType`)."""
    system_instances: tuple[Any, ...] = ()
    """System node types with prices beyond `planning.catalog.SYSTEM_INSTANCE_TYPES`."""
    prices: tuple[Any, ...] = ()
    """Price items beyond `planning.catalog.PRICES` (`planning.catalog.PriceItem`)."""

    # the parts above the bottom layer, by reference
    policies: ModuleType
    """Its rules over planned resources (`policies/<cloud>.py`)."""
    package: ModuleType
    """Its components (`llm_infra/<cloud>/`), which load on first use."""
    platform_cluster: str
    """The component that builds the cloud side of a stack from config and hands out the ClusterContract."""
    mock_outputs: ModuleType
    """What the cloud computes on create and answers to provider functions, for the offline plan."""
    components: Mapping[str, str] = field(default_factory=dict)
    """Its public components by the module that defines them, served to other Pulumi languages."""

    def platform_cluster_class(self) -> Any:
        """The platform cluster component (loads the cloud's SDK)."""
        return getattr(self.package, self.platform_cluster)


def package_components(package: ModuleType) -> dict[str, str]:
    """A cloud package's public components (its lazy `_COMPONENTS` table, Args left out) by defining module,
    ordered by module."""
    table: Mapping[str, str] = package._COMPONENTS
    return {name: f"{package.__name__}.{module}"
            for name, module in sorted(table.items(), key=lambda kv: (kv[1], kv[0])) if not name.endswith("Args")}
