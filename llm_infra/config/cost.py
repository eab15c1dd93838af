"""The stack's `cost` settings and the rule that every GPU pool it accepts is priced.

A GPU pool's instance type must have a sourced price row (llm_infra/planning/catalog.py,
`REGIONAL_PRICES`) in the region the stack is priced in: its own region, or `cost.price_region`.
Otherwise config refuses the pool, naming the priced choices, unless the user opts in with
`cost.allow_unpriced: true`; the plan then shows the pool as unpriced instead of a number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..planning.catalog import priced_regions, priced_types, regional_price
from .base import _Strict, shown

if TYPE_CHECKING:
    from .models import StackConfig


class CostConfig(_Strict):
    """How the plan's cost estimate treats what has no sourced price (docs/planning.md)."""

    allow_unpriced: bool = False
    """Accept GPU pools whose instance type has no sourced price in the pricing region; the estimate shows them
    as unpriced (no number). Defaults to false: config refuses such a pool and names the priced types."""
    price_region: str | None = None
    """Estimate the stack at this region's prices (a region with price rows for the stack's cloud), for a region
    the catalog has no prices for; the estimate says so. Defaults to the stack's own region."""


def pricing_region(config: StackConfig) -> str | None:
    """The region whose price rows the stack's estimate reads."""
    return config.cost.price_region or config.region


def cost_problems(config: StackConfig) -> list[str]:
    """One line per GPU pool whose type has no sourced price where the stack is priced (unless opted in)."""
    from ..clouds import CLOUDS  # the registry imports config: looked up on use

    cloud = config.cloud
    plugin = CLOUDS.get(cloud)
    if plugin is None:
        if config.cost.price_region is not None:
            return [f"cost.price_region: expected only on a cloud with prices ({', '.join(CLOUDS)}), "
                    f"got it with cloud {cloud!r}"]
        return []
    # Price rows: the catalog's table and the plug-in's own priced types (`Cloud.instances`).
    own = {(e.name, e.region) for e in plugin.instances}
    regions = sorted({*priced_regions(cloud), *(r for _, r in own)})
    if config.cost.price_region is not None and config.cost.price_region not in regions:
        return [f"cost.price_region: expected a region with sourced {cloud} prices ({', '.join(regions)}), "
                f"got {shown(config.cost.price_region)}"]
    if config.cost.allow_unpriced:
        return []
    region = pricing_region(config)
    problems: list[str] = []
    for i, pool in enumerate(config.gpu_pools):
        name = pool.instance_type or plugin.default_type(pool.gpu, pool.gpus_per_node)
        if name is None or regional_price(cloud, name, region) is not None or (name, region) in own:
            continue  # no type at all is the cloud check's line
        if plugin.gpu_node(config, pool)[1] is None:
            continue  # a type the cloud's fact table lacks is the fit check's line (llm_infra.fit)
        priced = sorted({*priced_types(cloud, region), *(n for n, r in own if r == region)})
        where = (f"priced there: {', '.join(priced)}" if priced
                 else f"no {cloud} prices in {region}; priced regions: {', '.join(regions)}")
        problems.append(f"gpu_pools[{i}].instance_type: {name} has no sourced price in {region} ({where}); "
                        f"set cost.allow_unpriced: true to deploy it unpriced, or cost.price_region to estimate "
                        f"at a priced region")
    return problems
