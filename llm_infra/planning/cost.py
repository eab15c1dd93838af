"""Cost model: a stack's monthly cost at minimum and maximum scale, and each model's cost per token.

Input is a plain description (`StackCostInput`), so the model runs on numbers alone;
`stack_cost_input(cfg)` builds one from a validated `StackConfig` (read by attribute, no
import of the pydantic layer). A month is 730 hours. "Minimum scale" is every GPU pool at
`min_nodes` (zero for scale-to-zero pools), "maximum scale" every pool at `max_nodes`;
everything else (control plane, system nodes, NAT, keys, storage) costs the same at both,
except Cloud NAT (billed per VM behind it) and the AWS Dedicated Per Region Fee (due only
while a Dedicated Instance runs).

Cost per million generated tokens is an ESTIMATE from a planned throughput:

    planned tokens/s = efficiency x memory-bandwidth bound at the planned concurrency
                       (each sequence half way through its context, `ThroughputAssumption`)
    $/M tokens       = hourly price of one replica / (planned tokens/s x 3600) x 1e6

which assumes the replica is busy all the time. See docs/planning.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .capacity import (
    CapacityError,
    ModelShape,
    choose_instance,
    decode_tokens_per_s_bound_at_batch,
    decode_tokens_per_s_upper_bound,
    fit,
)
from .catalog import (
    CATALOG,
    HOURS_PER_MONTH,
    CpuInstanceType,
    InstanceType,
    PriceItem,
    system_instance,
)
from .catalog import price as _catalog_price


def _plugin(cloud: str) -> Any:
    """The cloud's plug-in (`llm_infra.clouds`), None for a cloud llm-infra does not build on. Imported on
    use: the registry loads config (pydantic), which the planning package alone does not need."""
    from ..clouds import CLOUDS

    return CLOUDS.get(cloud)


def priced_clouds() -> tuple[str, ...]:
    """The clouds the cost model prices: every registered plug-in."""
    from ..clouds import CLOUDS

    return tuple(CLOUDS)


def price(cloud: str, key: str) -> PriceItem:
    """A price item of `cloud`: its plug-in's own (`Cloud.prices`), else the catalog's (`planning.catalog.PRICES`)."""
    plugin = _plugin(cloud)
    own = next((p for p in (plugin.prices if plugin is not None else ()) if p.key == key), None)
    return own if own is not None else _catalog_price(cloud, key)


def _system_instance(name: str, cloud: str) -> CpuInstanceType:
    plugin = _plugin(cloud)
    own = next((e for e in (plugin.system_instances if plugin is not None else ()) if e.name == name), None)
    return own if own is not None else system_instance(name, cloud)

# --- input -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuPoolCostInput:
    """One GPU node pool: its instance type, scale range and purchase option."""

    name: str
    instance_type: str
    min_nodes: int
    max_nodes: int
    spot: bool = False
    disk_gib_per_node: float = 100.0
    """Each node's root/data volume."""

    def __post_init__(self) -> None:
        if self.min_nodes < 0 or self.max_nodes < self.min_nodes:
            raise ValueError(f"gpu pool {self.name!r}: expected 0 <= min_nodes <= max_nodes, "
                             f"got {self.min_nodes}..{self.max_nodes}")


@dataclass(frozen=True)
class StackCostInput:
    """What a stack pays for, in plain numbers. Storage sizes are totals for the stack."""

    cloud: str
    region: str | None
    production: bool
    isolation: str
    """`dedicated` or `shared` (config's `isolation`)."""
    gpu_pools: tuple[GpuPoolCostInput, ...]
    system_nodes: int = 2
    system_instance_type: str | None = None
    """Defaults to the cloud plug-in's `system_type`."""
    nat_gateways: int = 1
    keys: int = 1
    cache_volume_gib_min: float = 0.0
    """Model-cache volumes existing at minimum scale (StatefulSet claims are retained on scale-down)."""
    cache_volume_gib_max: float = 0.0
    object_storage_gib: float = 0.0
    control_plane_tier: str | None = None
    """Azure only: `free` or `standard`. Defaults to `standard` in production, `free` otherwise."""

    def __post_init__(self) -> None:
        if _plugin(self.cloud) is None:
            raise ValueError(f"cloud: expected {', '.join(priced_clouds())} (prices are per cloud), got {self.cloud!r}")
        if self.isolation not in ("dedicated", "shared"):
            raise ValueError(f"isolation: expected 'dedicated' or 'shared', got {self.isolation!r}")
        if self.control_plane_tier not in (None, "free", "standard"):
            raise ValueError(f"control_plane_tier: expected 'free' or 'standard', got {self.control_plane_tier!r}")
        for f in ("system_nodes", "nat_gateways", "keys", "cache_volume_gib_min", "cache_volume_gib_max",
                  "object_storage_gib"):
            if getattr(self, f) < 0:
                raise ValueError(f"{f}: expected >= 0, got {getattr(self, f)}")


# --- output ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostLine:
    """One item of the bill, per month at minimum and at maximum scale."""

    item: str
    min_usd: float
    max_usd: float
    detail: str = ""
    priced: bool = True
    """False when no published price was found: the line counts as 0 and a note says so."""


@dataclass(frozen=True)
class CostEstimate:
    cloud: str
    region: str | None
    min_usd: float
    max_usd: float
    breakdown: tuple[CostLine, ...]
    notes: tuple[str, ...] = ()
    hours_per_month: float = HOURS_PER_MONTH

    def as_output(self) -> dict[str, Any]:
        """Plain data for a stack output (`estimated_monthly_cost_usd`)."""
        return {
            "min": round(self.min_usd, 2),
            "max": round(self.max_usd, 2),
            "currency": "USD",
            "hours_per_month": self.hours_per_month,
            "breakdown": [{"item": line.item, "min": round(line.min_usd, 2), "max": round(line.max_usd, 2),
                           "priced": line.priced} for line in self.breakdown],
            "notes": list(self.notes),
        }


# --- the stack's monthly cost ------------------------------------------------------------------


def catalog_entry(name: str, cloud: str, catalog: Iterable[InstanceType]) -> InstanceType | None:
    """`name` on `cloud` in `catalog`, else among the cloud plug-in's own priced types (`Cloud.instances`)."""
    plugin = _plugin(cloud)
    own = plugin.instances if plugin is not None else ()
    return next((e for e in (*catalog, *own) if e.name == name and e.cloud == cloud), None)


# --- each cloud's pricing rules ------------------------------------------------------------------
# What differs in how the clouds bill a stack: dedicated hardware, the control plane, NAT.


def shared_price_when_dedicated(entry: InstanceType, pool: GpuPoolCostInput, hourly: float, option: str,
                                 notes: list[str]) -> tuple[float, str]:
    return hourly, option  # the cloud bills the isolation as a separate line (its `isolation` rule), not per VM


def flat_control_plane(label: str) -> Callable[[StackCostInput], tuple[str, PriceItem]]:
    return lambda stack: (label, price(stack.cloud, "control_plane"))


def nat_gateways(stack: StackCostInput, gpu_nodes_min: int, gpu_nodes_max: int) -> CostLine:
    nat = price(stack.cloud, "nat_gateway")
    assert nat.usd is not None
    cost = stack.nat_gateways * nat.usd * HOURS_PER_MONTH
    return CostLine("NAT gateways", cost, cost, f"{stack.nat_gateways} x ${nat.usd}/h; data processed extra")


@dataclass(frozen=True)
class CloudPricing:
    """How one cloud bills what differs between clouds."""

    dedicated_pool: Callable[[InstanceType, GpuPoolCostInput, float, str, list[str]], tuple[float, str]]
    """A GPU pool's hourly price and purchase option under isolation 'dedicated'."""
    isolation: Callable[[StackCostInput, tuple[InstanceType, ...], int, int, list[str]], CostLine]
    """The surcharge line of isolation 'dedicated' (region fee, sole-tenancy premium, dedicated hosts)."""
    control_plane: Callable[[StackCostInput], tuple[str, PriceItem]]
    nat: Callable[[StackCostInput, int, int], CostLine]


def estimate_stack_cost(stack: StackCostInput, catalog: Iterable[InstanceType] = CATALOG) -> CostEstimate:
    """Monthly cost (730 h) of `stack` at minimum and at maximum scale, item by item."""
    catalog = tuple(catalog)
    h = HOURS_PER_MONTH
    lines: list[CostLine] = []
    notes: list[str] = []
    cloud = stack.cloud
    rules = _plugin(cloud).pricing
    dedicated = stack.isolation == "dedicated"

    # GPU pools.
    gpu_nodes_min = gpu_nodes_max = 0
    gpu_disk_min = gpu_disk_max = 0.0
    price_regions: set[str] = set()
    for pool in stack.gpu_pools:
        entry = catalog_entry(pool.instance_type, cloud, catalog)
        gpu_nodes_min += pool.min_nodes
        gpu_nodes_max += pool.max_nodes
        gpu_disk_min += pool.min_nodes * pool.disk_gib_per_node
        gpu_disk_max += pool.max_nodes * pool.disk_gib_per_node
        label = f"GPU pool {pool.name}"
        if entry is None:
            lines.append(CostLine(label, 0.0, 0.0, f"{pool.instance_type}: not in the catalog", priced=False))
            notes.append(f"{pool.instance_type} ({cloud}) is not in the catalog: pool {pool.name!r} is unpriced.")
            continue
        price_regions.add(entry.region)
        hourly = entry.hourly_usd(pool.spot)
        option = "spot" if pool.spot else "on-demand"
        if pool.spot and not entry.has_spot_price:
            option = "on-demand (no spot price known)"
            notes.append(f"No spot price is known for {entry.name}: pool {pool.name!r} is priced on-demand.")
        if dedicated:
            hourly, option = rules.dedicated_pool(entry, pool, hourly, option, notes)
        lines.append(CostLine(label, pool.min_nodes * hourly * h, pool.max_nodes * hourly * h,
                              f"{pool.min_nodes}..{pool.max_nodes} x {entry.name} @ ${hourly:.4f}/h {option}"))

    # Isolation surcharges.
    if dedicated:
        lines.append(rules.isolation(stack, catalog, gpu_nodes_min, gpu_nodes_max, notes))

    # Control plane.
    label, cp = rules.control_plane(stack)
    assert cp.usd is not None
    lines.append(CostLine(label, cp.usd * h, cp.usd * h, f"${cp.usd:.2f}/h"))

    # System nodes.
    sys_name = stack.system_instance_type or _plugin(cloud).system_type
    try:
        sys_entry = _system_instance(sys_name, cloud)
        sys_hourly = sys_entry.on_demand_usd_per_hour
    except KeyError:
        sys_hourly = None
    if sys_hourly is None:
        lines.append(CostLine("system nodes", 0.0, 0.0, f"{stack.system_nodes} x {sys_name}: no price", priced=False))
        notes.append(f"System node type {sys_name} ({cloud}) has no price in the catalog: system nodes are unpriced.")
    else:
        cost = stack.system_nodes * sys_hourly * h
        lines.append(CostLine("system nodes", cost, cost, f"{stack.system_nodes} x {sys_name} @ ${sys_hourly:.4f}/h"))

    # NAT.
    lines.append(rules.nat(stack, gpu_nodes_min, gpu_nodes_max))

    # Keys.
    key = price(cloud, "key")
    if key.usd is None:
        lines.append(CostLine("customer-managed keys", 0.0, 0.0, f"{stack.keys} key(s): {key.notes}", priced=False))
        notes.append(f"{cloud} key: {key.notes}")
    else:
        cost = stack.keys * key.usd
        lines.append(CostLine("customer-managed keys", cost, cost, f"{stack.keys} x ${key.usd:g}/month"))

    # Storage.
    block = price(cloud, "block_storage")
    obj = price(cloud, "object_storage")
    assert block.usd is not None and obj.usd is not None
    lines.append(CostLine("model cache volumes", stack.cache_volume_gib_min * block.usd,
                          stack.cache_volume_gib_max * block.usd,
                          f"{stack.cache_volume_gib_min:g}..{stack.cache_volume_gib_max:g} GiB @ ${block.usd:.4f}/GiB-month"))
    lines.append(CostLine("GPU node volumes", gpu_disk_min * block.usd, gpu_disk_max * block.usd,
                          f"{gpu_disk_min:g}..{gpu_disk_max:g} GiB @ ${block.usd:.4f}/GiB-month"))
    lines.append(CostLine("weights bucket", stack.object_storage_gib * obj.usd, stack.object_storage_gib * obj.usd,
                          f"{stack.object_storage_gib:g} GiB @ ${obj.usd:.4f}/GiB-month; requests extra"))
    for item in (block, obj):
        if item.region not in ("all",) and stack.region and item.region != stack.region:
            price_regions.add(item.region)
        if item.notes and "pproximate" in item.notes:
            notes.append(f"{cloud} {item.description}: {item.notes}")

    if stack.region and any(r != stack.region for r in price_regions):
        notes.append(f"Prices are for {', '.join(sorted(price_regions))}, not {stack.region}: the catalog prices "
                     f"one region per cloud.")
    notes.append("Not included: data transfer, NAT data processing, load balancers, logs and metrics storage, "
                 "support plans, taxes.")
    return CostEstimate(cloud, stack.region, sum(x.min_usd for x in lines), sum(x.max_usd for x in lines),
                        tuple(lines), tuple(dict.fromkeys(notes)))


# --- cost per token ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThroughputAssumption:
    """How busy a replica is planned to be. Every field is an assumption, not a measurement."""

    concurrency: int | None = None
    """Sequences decoding at once. Defaults to the shape's max_concurrent_seqs."""
    mean_context_fraction: float = 0.5
    """Average position in the context window while decoding (half way)."""
    efficiency: float = 0.5
    """Share of the memory-bandwidth bound an engine achieves (kernels, scheduling, prefill)."""

    def __post_init__(self) -> None:
        if not 0 < self.efficiency <= 1:
            raise ValueError(f"efficiency: expected in (0, 1], got {self.efficiency}")
        if not 0 <= self.mean_context_fraction <= 1:
            raise ValueError(f"mean_context_fraction: expected in [0, 1], got {self.mean_context_fraction}")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError(f"concurrency: expected >= 1, got {self.concurrency}")

    def describe(self, concurrency: int) -> str:
        return (f"estimate: {self.efficiency:.0%} of the memory-bandwidth bound at {concurrency} concurrent "
                f"sequences, each {self.mean_context_fraction:.0%} into its context; replica busy 100% of the time")


@dataclass(frozen=True)
class ModelPlan:
    """A model's GPU fit and estimated cost per million generated tokens on one instance type."""

    model: str
    instance: InstanceType
    spot: bool
    tensor_parallel: int
    replicas_per_node: int
    gpu_memory_needed_gib: float
    """Per GPU of a replica."""
    gpu_memory_usable_gib: float
    batch1_tokens_per_s_upper_bound: float
    planned_tokens_per_s: float
    usd_per_replica_hour: float
    usd_per_million_tokens: float
    assumption: str
    note: str = ""

    def as_output(self) -> dict[str, Any]:
        """Plain data for a stack output (per model: GPU fit and cost per million tokens)."""
        return {
            "instance_type": self.instance.name,
            "gpu": self.instance.gpu_model,
            "gpus_per_replica": self.tensor_parallel,
            "replicas_per_node": self.replicas_per_node,
            "gpu_memory_needed_gib": round(self.gpu_memory_needed_gib, 1),
            "gpu_memory_usable_gib": round(self.gpu_memory_usable_gib, 1),
            "batch1_tokens_per_s_upper_bound": round(self.batch1_tokens_per_s_upper_bound, 1),
            "planned_tokens_per_s": round(self.planned_tokens_per_s, 1),
            "usd_per_million_tokens": round(self.usd_per_million_tokens, 4),
            "assumption": self.assumption,
            "note": self.note,
        }


def plan_model_on(shape: ModelShape, entry: InstanceType, spot: bool = False,
                  assumption: ThroughputAssumption = ThroughputAssumption(), note: str = "") -> ModelPlan:
    """Fit, throughput and cost per million tokens of `shape` on `entry`. Raises CapacityError if it does not fit."""
    f = fit(shape, entry)
    if not f.fits or f.tensor_parallel is None:
        raise CapacityError(f"model {shape.name!r} does not fit {entry.name}: {f.reason}",
                            needed_gib=f.memory.total_gib, largest=entry)
    tp = f.tensor_parallel
    concurrency = assumption.concurrency or shape.max_concurrent_seqs
    ctx = max(1, round(shape.max_context * assumption.mean_context_fraction))
    planned = assumption.efficiency * decode_tokens_per_s_bound_at_batch(shape, entry, tp, concurrency, ctx)
    replica_hour = entry.hourly_usd(spot) / f.replicas_per_node
    if spot and not entry.has_spot_price:
        note = "; ".join(x for x in (note, f"no spot price known for {entry.name}: priced on-demand") if x)
    return ModelPlan(
        model=shape.name, instance=entry, spot=spot, tensor_parallel=tp, replicas_per_node=f.replicas_per_node,
        gpu_memory_needed_gib=f.memory.total_gib, gpu_memory_usable_gib=f.budget_gib_per_gpu,
        batch1_tokens_per_s_upper_bound=decode_tokens_per_s_upper_bound(shape, entry, tp),
        planned_tokens_per_s=planned, usd_per_replica_hour=replica_hour,
        usd_per_million_tokens=replica_hour / (planned * 3600) * 1e6,
        assumption=assumption.describe(concurrency), note=note,
    )


def plan_model(shape: ModelShape, cloud: str, spot: bool = False, region: str | None = None,
               instance_type: str | None = None, catalog: Iterable[InstanceType] = CATALOG,
               assumption: ThroughputAssumption = ThroughputAssumption()) -> ModelPlan:
    """`plan_model_on` the named instance type, or on the cheapest that fits (`choose_instance`)."""
    catalog = tuple(catalog)
    if instance_type is not None:
        entry = catalog_entry(instance_type, cloud, catalog)
        if entry is None:
            raise KeyError(f"instance type {instance_type!r} is not in the {cloud} catalog")
        return plan_model_on(shape, entry, spot, assumption)
    choice = choose_instance(shape, cloud, spot=spot, region=region, catalog=catalog)
    return plan_model_on(shape, choice.instance, spot, assumption, note=choice.note)


# --- from stack config ------------------------------------------------------------------------


def default_gpu_instance(cloud: str, gpu: str, gpus_per_node: int,
                         catalog: Iterable[InstanceType] = CATALOG) -> InstanceType | None:
    """Cheapest (on-demand) catalog type with `gpus_per_node` GPUs of model `gpu`; else the
    cheapest with more of them; None when the catalog has no such GPU on `cloud`."""
    same = [e for e in catalog if e.cloud == cloud and e.gpu_model == gpu]
    exact = [e for e in same if e.gpu_count == gpus_per_node]
    more = [e for e in same if e.gpu_count > gpus_per_node]
    pick = exact or more
    return min(pick, key=lambda e: (e.on_demand_usd_per_hour, e.name)) if pick else None


def pool_instance_type(cloud: str, gpu: str, gpus_per_node: int, instance_type: str | None,
                       catalog: Iterable[InstanceType] = CATALOG) -> str | None:
    """The instance type a pool runs: its own, else the cloud layer's default (the cloud's table in
    `llm_infra.catalog`, what the stack will actually run), else the catalog's cheapest."""
    if instance_type is not None:
        return instance_type
    plugin = _plugin(cloud)
    chosen = plugin.default_type(gpu, gpus_per_node) if plugin is not None else None
    if chosen is not None:
        return chosen
    entry = default_gpu_instance(cloud, gpu, gpus_per_node, catalog)
    return entry.name if entry else None


def stack_cost_input(cfg: Any, catalog: Iterable[InstanceType] = CATALOG) -> StackCostInput:
    """A StackCostInput from a validated StackConfig (read by attribute name only).

    Pools without `instance_type` get `default_gpu_instance`. Model caches are counted at
    max_replicas at both scales because the StatefulSet keeps its claims on scale-down
    (`whenScaled: Retain`). The cloud's own settings (`cfg.cloud_settings`, config/<cloud>.py)
    answer what differs by cloud: each GPU node's disk, the system pool, the NAT gateways.
    """
    cloud = cfg.cloud
    if _plugin(cloud) is None:
        raise ValueError(f"cloud: llm-infra has prices for {', '.join(priced_clouds())} only, got {cloud!r}")
    catalog = tuple(catalog)
    specific = cfg.cloud_settings
    disk = float(specific.gpu_node_disk_gib)
    pools = []
    for p in cfg.gpu_pools:
        name = pool_instance_type(cloud, p.gpu, p.gpus_per_node, p.instance_type, catalog) \
            or f"<no {p.gpu} x{p.gpus_per_node} type in catalog>"
        pools.append(GpuPoolCostInput(p.name, name, p.min_nodes, p.max_nodes, p.spot, disk))
    nat = specific.nat_gateways(cfg.region)
    cache = sum(m.effective_cache_size_gib * m.max_replicas for m in cfg.models)
    system_count, system_type = specific.system_pool(cfg.region)
    isolation = cfg.isolation
    shared_hosts = set(getattr(specific, "shared_host_gpu_pools", None) or ())
    if isolation == "dedicated" and shared_hosts >= {p.name for p in cfg.gpu_pools}:
        isolation = "shared"  # every GPU pool is an explicit exception to dedicated hosts (Azure)
    return StackCostInput(
        cloud=cloud, region=cfg.region, production=cfg.production, isolation=isolation, gpu_pools=tuple(pools),
        system_nodes=system_count, system_instance_type=system_type,
        nat_gateways=nat, keys=1, cache_volume_gib_min=float(cache), cache_volume_gib_max=float(cache),
        object_storage_gib=float(sum(m.weights_size_gib for m in cfg.models)),
    )


def plan_models(cfg: Any, shapes: Mapping[str, ModelShape],
                assumption: ThroughputAssumption = ThroughputAssumption(),
                catalog: Iterable[InstanceType] = CATALOG) -> dict[str, ModelPlan | str]:
    """Per model of `cfg` with a known shape: its plan on its pool's instance type, or why none."""
    catalog = tuple(catalog)
    pools = {p.name: p for p in cfg.gpu_pools}
    out: dict[str, ModelPlan | str] = {}
    for m in cfg.models:
        shape = shapes.get(m.name)
        if shape is None:
            out[m.name] = "no model shape given: fit and cost per token not estimated"
            continue
        pool = pools[m.gpu_pool]
        name = pool_instance_type(cfg.cloud, pool.gpu, pool.gpus_per_node, pool.instance_type, catalog)
        if name is None or catalog_entry(name, cfg.cloud, catalog) is None:
            out[m.name] = f"pool {pool.name!r}: instance type not in the catalog"
            continue
        try:
            out[m.name] = plan_model(shape, cfg.cloud, spot=pool.spot, instance_type=name, catalog=catalog,
                                     assumption=assumption)
        except CapacityError as exc:
            out[m.name] = str(exc)
    return out


# --- rendering -------------------------------------------------------------------------------


def _usd(x: float) -> str:
    return f"{x:,.2f}"


def render_cost_table(estimate: CostEstimate, title: str = "") -> str:
    """A fixed-width table of the estimate for the plan summary."""
    head = title or f"Estimated monthly cost, {estimate.cloud} {estimate.region or ''}".rstrip()
    width_item = max([len("item")] + [len(x.item) for x in estimate.breakdown] + [len("total")])
    rows = [head, f"(USD per month of {estimate.hours_per_month:g} h, list prices; min = minimum scale, "
                  f"max = maximum scale)",
            f"  {'item':<{width_item}}  {'min':>12}  {'max':>12}  detail"]
    rows.append("  " + "-" * (width_item + 30))
    for line in estimate.breakdown:
        mark = "" if line.priced else "  [unpriced]"
        rows.append(f"  {line.item:<{width_item}}  {_usd(line.min_usd):>12}  {_usd(line.max_usd):>12}  "
                    f"{line.detail}{mark}")
    rows.append("  " + "-" * (width_item + 30))
    unpriced = [line.item for line in estimate.breakdown if not line.priced]
    # A total that silently counts an unpriced item as $0 reads as complete: say what it leaves out.
    leaves_out = f"  leaves out (unpriced): {', '.join(unpriced)}" if unpriced else ""
    rows.append(f"  {'total':<{width_item}}  {_usd(estimate.min_usd):>12}  {_usd(estimate.max_usd):>12}{leaves_out}")
    if estimate.notes:
        rows.append("  notes:")
        rows.extend(f"  - {n}" for n in estimate.notes)
    return "\n".join(rows)


def render_model_table(plans: Mapping[str, ModelPlan | str]) -> str:
    """A fixed-width table of each model's GPU fit and estimated cost per million tokens."""
    rows = ["Models: GPU fit and estimated cost per million generated tokens",
            f"  {'model':<18} {'instance':<26} {'tp':>2} {'GiB/GPU':>13} {'b1 tok/s<=':>10} "
            f"{'plan tok/s':>10} {'$/M tok':>9}"]
    assumption = ""
    for name, plan in plans.items():
        if isinstance(plan, str):
            rows.append(f"  {name:<18} -- {plan}")
            continue
        assumption = plan.assumption
        mem = f"{plan.gpu_memory_needed_gib:.1f}/{plan.gpu_memory_usable_gib:.1f}"
        rows.append(f"  {name:<18} {plan.instance.name:<26} {plan.tensor_parallel:>2} {mem:>13} "
                    f"{plan.batch1_tokens_per_s_upper_bound:>10.0f} {plan.planned_tokens_per_s:>10.0f} "
                    f"{plan.usd_per_million_tokens:>9.3f}")
        if plan.note:
            rows.append(f"  {'':<18} note: {plan.note}")
    rows.append("  b1 tok/s<= : batch-1 decode upper bound (memory bandwidth / bytes read per token)")
    if assumption:
        rows.append(f"  plan tok/s : {assumption}")
    return "\n".join(rows)


__all__ = [
    "CostEstimate", "CostLine", "GpuPoolCostInput", "ModelPlan", "StackCostInput", "ThroughputAssumption",
    "default_gpu_instance", "estimate_stack_cost", "plan_model", "plan_model_on", "plan_models",
    "render_cost_table", "render_model_table", "stack_cost_input",
]

