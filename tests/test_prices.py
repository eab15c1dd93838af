"""Every GPU instance type the config accepts is priced where the stack runs, with a source and a date.

The rule: config accepts a GPU pool only when its instance type has a sourced price row in the
region the stack is priced in (its own region, or the named `cost.price_region`); otherwise it
refuses with one line naming the field and the priced choices, unless the user opts in with
`cost.allow_unpriced: true`, and then the plan shows the pool as unpriced, never a made-up number.
"""

from __future__ import annotations

import copy
from datetime import date

import pytest

from llm_infra.catalog import aws as aws_types
from llm_infra.catalog import azure as azure_types
from llm_infra.catalog import gcp as gcp_types
from llm_infra.config import ConfigError, parse_stack_config
from llm_infra.plan import stack_config
from llm_infra.planning.catalog import HOURS_PER_MONTH, REGIONAL_PRICES, priced_regions, priced_types, regional_price

from _stacks import rejected, stack, with_changed_config

# Every (instance type -> GPU, GPUs) each cloud's catalog lets a pool name.
ACCEPTED: dict[str, dict[str, tuple[str, int]]] = {
    "aws": dict(aws_types.GPU_INSTANCE_TYPES),
    "gcp": {t: (gpu, n) for gpu, fam in gcp_types.GPU_FAMILIES.items() for t, n in fam.machine_types.items()},
    "azure": dict(azure_types.GPU_VM_SIZES),
}
# A shipped stack of each cloud whose first pool is mutated; the regions its stacks run in.
BASE_STACK = {"aws": "dev", "gcp": "gcp-dev", "azure": "azure-dev"}
STACK_REGIONS = {"aws": ["eu-west-1"], "gcp": ["europe-west4"], "azure": ["westeurope"]}


def _plain(name: str) -> dict:
    raw, _ = stack_config(name)
    return {k.split(":", 1)[1]: copy.deepcopy(v) for k, v in raw.items()}


def _problems(plain: dict) -> list[str]:
    try:
        parse_stack_config(plain)
    except ConfigError as exc:
        return [line.strip() for line in str(exc).splitlines()[1:]] or [str(exc).split(": ", 1)[1]]
    return []


def _with_pool(cloud: str, region: str, instance_type: str) -> dict:
    plain = _plain(BASE_STACK[cloud])
    plain["region"] = region
    plain.pop("cost", None)
    gpu, count = ACCEPTED[cloud][instance_type]
    plain["gpu_pools"][0].update(gpu=gpu, instance_type=instance_type, gpus_per_node=count)
    plain["gpu_pools"][0].pop("node_allocatable", None)
    if cloud == "gcp":
        plain["gcp"].pop("zones", None)
    return plain


def _unpriced_line(instance_type: str, region: str) -> str:
    return f"gpu_pools[0].instance_type: {instance_type} has no sourced price in {region}"


@pytest.mark.parametrize("cloud", sorted(ACCEPTED))
def test_config_accepts_a_gpu_instance_type_exactly_where_it_has_a_sourced_price(cloud):
    """The walk over the catalog: every type/region the config accepts has a price row; every other is refused."""
    regions = sorted(set(priced_regions(cloud)) | set(STACK_REGIONS[cloud]))
    accepted = 0
    for region in regions:
        for instance_type in ACCEPTED[cloud]:
            problems = _problems(_with_pool(cloud, region, instance_type))
            refused_for_price = [p for p in problems if p.startswith(_unpriced_line(instance_type, region))]
            row = regional_price(cloud, instance_type, region)
            if row is None:
                gpu_refused = any(p.startswith("gpu_pools[0].gpu: expected one of") for p in problems)  # NVv3 (M60)
                assert refused_for_price or gpu_refused, (instance_type, region, problems)
                assert gpu_refused or "set cost.allow_unpriced: true" in refused_for_price[0]
            else:
                # The pool's type is accepted (a zone without that GPU or a model that does not fit it is
                # another check's line).
                assert not [p for p in problems if p.startswith(("gpu_pools[0].instance_type", "gpu_pools[0].gpu"))], \
                    (instance_type, region, problems)
                assert row.source.url.startswith("https://") and date.fromisoformat(row.source.date)
                assert row.on_demand_usd_per_hour > 0
                accepted += 1
    assert accepted > 0


def test_every_price_row_names_its_source_and_the_date_it_was_read():
    keys = [(r.cloud, r.name, r.region) for r in REGIONAL_PRICES]
    assert len(keys) == len(set(keys))
    for r in REGIONAL_PRICES:
        assert r.source.url.startswith("https://"), r
        assert date(2025, 1, 1) <= date.fromisoformat(r.source.date) <= date(2026, 12, 31), r
        assert r.on_demand_usd_per_hour > 0, r
        if r.spot_usd_per_hour is not None:
            assert 0 < r.spot_usd_per_hour < r.on_demand_usd_per_hour, r


def test_a_shipped_stack_with_an_unpriced_instance_type_is_refused_in_one_line_naming_the_field():
    def change(raw):
        raw["llm-infra:gpu_pools"][0].update(gpu="nvidia-l40s", instance_type="g6e.48xlarge", gpus_per_node=8)
        raw.pop("llm-infra:cost")

    problems = rejected("dev", change)
    line = next(p for p in problems if "g6e.48xlarge" in p)
    assert line.startswith("gpu_pools[0].instance_type: g6e.48xlarge has no sourced price in eu-west-1 "
                           f"(priced there: {', '.join(priced_types('aws', 'eu-west-1'))})")
    assert "g5.xlarge" in line and "cost.allow_unpriced: true" in line and "\n" not in line


def test_a_region_without_prices_is_refused_and_so_is_a_price_region_without_prices():
    def elsewhere(raw):
        raw["llm-infra:region"] = "ap-southeast-2"
        raw.pop("llm-infra:cost")

    line = next(p for p in rejected("dev", elsewhere) if p.startswith("gpu_pools[0]"))
    assert "no sourced price in ap-southeast-2 (no aws prices in ap-southeast-2; priced regions: eu-west-1, us-east-1)" in line

    def unpriced_price_region(raw):
        raw["llm-infra:cost"] = {"price_region": "eu-central-1"}

    assert rejected("dev", unpriced_price_region) == [
        "cost.price_region: expected a region with sourced aws prices (eu-west-1, us-east-1), got 'eu-central-1'"]


def test_opting_in_deploys_the_unpriced_pool_and_the_estimate_says_unpriced_instead_of_a_number():
    def change(raw):
        raw["llm-infra:gpu_pools"][0].update(gpu="nvidia-l40s", instance_type="g6e.48xlarge", gpus_per_node=8)
        raw["llm-infra:cost"] = {"allow_unpriced": True}

    cost = with_changed_config("dev", change).outputs["estimated_monthly_cost_usd"]
    pool = next(line for line in cost["breakdown"] if line["item"] == "GPU pool l4")
    assert pool == {"item": "GPU pool l4", "min": 0.0, "max": 0.0, "priced": False}
    assert any("g6e.48xlarge (aws) has no sourced price in eu-west-1" in n for n in cost["notes"])


def test_gcp_stacks_are_priced_at_europe_west4_rates_not_us_central1():
    """gcp-dev runs in europe-west4: its L4 pool costs what g2-standard-8 costs there (spot)."""
    cost = stack("gcp-dev").outputs["estimated_monthly_cost_usd"]
    pool = next(line for line in cost["breakdown"] if line["item"].startswith("GPU pool"))
    row = regional_price("gcp", "g2-standard-8", "europe-west4")
    assert row is not None and row.spot_usd_per_hour is not None
    max_nodes = _plain("gcp-dev")["gpu_pools"][0]["max_nodes"]
    assert pool["max"] == round(max_nodes * row.spot_usd_per_hour * HOURS_PER_MONTH, 2)
    assert not any("Prices are for us-central1" in n and "g2" in n for n in cost["notes"])


@pytest.mark.parametrize("name", ["gcp-dev", "gcp-prod", "dev", "azure-prod"])
def test_the_estimate_names_where_and_when_each_gpu_price_was_read(name):
    notes = stack(name).outputs["estimated_monthly_cost_usd"]["notes"]
    for pool in _plain(name)["gpu_pools"]:
        assert any(n.startswith(f"{pool['instance_type']} in ") and "(read 20" in n and "https://" in n
                   for n in notes), (pool["instance_type"], notes)


@pytest.mark.parametrize("name,price_region", [("dev", "us-east-1"), ("azure-prod", "eastus")])
def test_a_stack_priced_at_another_region_says_so(name, price_region):
    notes = stack(name).outputs["estimated_monthly_cost_usd"]["notes"]
    assert any(n.startswith(f"Prices are for {price_region}") and f"cost.price_region {price_region}" in n
               for n in notes), notes
