"""Capacity and cost planning: published model shapes, monotonicity, spot and scale, catalog integrity."""

from __future__ import annotations

import dataclasses
import re
import statistics
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_infra.config import GPU_MEMORY_GIB, parse_stack_config
from llm_infra.planning import (
    CATALOG,
    KNOWN_SHAPES,
    LLAMA_3_1_8B,
    LLAMA_3_1_70B,
    TINYLLAMA_1_1B,
    CapacityError,
    GpuPoolCostInput,
    StackCostInput,
    choose_instance,
    decode_tokens_per_s_upper_bound,
    estimate_stack_cost,
    fit,
    instance,
    instances,
    memory_per_gpu,
    plan_model,
    plan_models,
    render_cost_table,
    render_model_table,
    stack_cost_input,
    weight_bytes,
)
from llm_infra.planning.capacity import (
    GPU_MEMORY_UTILIZATION,
    TENSOR_PARALLEL_DEGREES,
    decode_tokens_per_s_bound_at_batch,
    kv_bytes_per_token,
    valid_tensor_parallel,
)
from llm_infra.clouds import CLOUDS as CLOUD_PLUGINS
from llm_infra.planning.catalog import (
    GPUS,
    PRICES,
    SYSTEM_INSTANCE_TYPES,
    gcp_g2_price,
    system_instance,
    price,
    unsourced,
)

GIB = 1024**3
CLOUDS = ("aws", "gcp", "azure")
# A "useful" KV cache for a chat service: 16 sequences of 8k tokens each.
LLAMA_8B_USEFUL = LLAMA_3_1_8B.serving(max_context=8192, max_concurrent_seqs=16)
LLAMA_70B_USEFUL = LLAMA_3_1_70B.serving(max_context=8192, max_concurrent_seqs=16)


# --- known cases from published shapes -----------------------------------------------------


def test_llama_3_1_8b_kv_cache_is_128_kib_per_token_in_bf16():
    # 2 (K, V) x 32 layers x 8 KV heads x 128 head_dim x 2 bytes, from the published config.json.
    assert kv_bytes_per_token(LLAMA_3_1_8B) == 2 * 32 * 8 * 128 * 2 == 128 * 1024
    # 8k context x 16 sequences is then exactly 16 GiB.
    assert memory_per_gpu(LLAMA_8B_USEFUL).kv_cache_gib == pytest.approx(16.0)


def test_bf16_weights_are_two_bytes_per_parameter_and_quantised_formats_keep_16_bit_embeddings():
    assert weight_bytes(LLAMA_3_1_8B) == pytest.approx(2 * 8.030261248e9)
    int4 = LLAMA_3_1_8B.serving(weight_dtype="int4")
    embeddings = 128256 * 4096 * 2
    assert weight_bytes(int4) == pytest.approx((8.030261248e9 - embeddings) * 0.5 + embeddings * 2)
    assert weight_bytes(LLAMA_3_1_8B.serving(weight_dtype="fp8")) < weight_bytes(LLAMA_3_1_8B)


@pytest.mark.parametrize("name", [e.name for e in CATALOG if e.gpu_count == 1 and e.gpu_memory_gib <= 24])
def test_8b_in_bf16_with_a_useful_kv_cache_does_not_fit_one_24_gb_gpu(name):
    result = fit(LLAMA_8B_USEFUL, instance(name))
    assert not result.fits
    assert result.memory.total_gib > instance(name).gpu_memory_gib * GPU_MEMORY_UTILIZATION


def test_8b_weights_alone_do_fit_one_24_gb_gpu_so_the_kv_cache_is_what_does_not():
    short = LLAMA_3_1_8B.serving(max_context=4096, max_concurrent_seqs=1)
    assert fit(short, instance("g6.xlarge")).fits
    assert not fit(LLAMA_8B_USEFUL, instance("g6.xlarge")).fits


@pytest.mark.parametrize("name", ["p5.4xlarge", "a2-ultragpu-1g", "Standard_NC24ads_A100_v4"])
def test_8b_in_bf16_with_a_useful_kv_cache_fits_one_80_gb_gpu(name):
    result = fit(LLAMA_8B_USEFUL, instance(name))
    assert result.fits and result.tensor_parallel == 1 and result.replicas_per_node == 1


def test_70b_in_bf16_needs_at_least_two_80_gb_gpus():
    for entry in (e for e in CATALOG if e.gpu_count == 1):
        assert not fit(LLAMA_3_1_70B.serving(max_context=2048), entry).fits, entry.name
    on_eight = fit(LLAMA_3_1_70B.serving(max_context=2048), instance("p5.48xlarge"))
    assert on_eight.fits and on_eight.tensor_parallel >= 2
    assert on_eight.tensor_parallel * instance("p5.48xlarge").gpu_memory_gib >= 160


@pytest.mark.parametrize("name", ["p5.48xlarge", "p4de.24xlarge", "a3-highgpu-8g", "Standard_ND96isr_H100_v5"])
def test_fit_picks_the_smallest_tensor_parallel_degree_that_fits(name):
    entry = instance(name)
    result = fit(LLAMA_70B_USEFUL, entry)
    assert result.fits and result.tensor_parallel in TENSOR_PARALLEL_DEGREES
    assert result.replicas_per_node == entry.gpu_count // result.tensor_parallel
    for smaller in (d for d in TENSOR_PARALLEL_DEGREES if d < result.tensor_parallel):
        assert memory_per_gpu(LLAMA_70B_USEFUL, smaller).total_gib > result.budget_gib_per_gpu


def test_tensor_parallel_replicates_kv_heads_beyond_their_count():
    # TinyLlama has 4 KV heads: at tp=8 each GPU still holds one whole head.
    assert valid_tensor_parallel(TINYLLAMA_1_1B, 8)
    assert kv_bytes_per_token(TINYLLAMA_1_1B, 8) == kv_bytes_per_token(TINYLLAMA_1_1B, 4)
    assert kv_bytes_per_token(TINYLLAMA_1_1B, 2) == 2 * kv_bytes_per_token(TINYLLAMA_1_1B, 4)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_choose_instance_returns_the_cheapest_type_that_fits(cloud):
    choice = choose_instance(LLAMA_8B_USEFUL, cloud)
    assert choice.fit.fits and choice.instance.cloud == cloud
    for entry in instances(cloud):
        if fit(LLAMA_8B_USEFUL, entry).fits:
            assert choice.usd_per_hour <= entry.on_demand_usd_per_hour
    assert choice.usd_per_hour == choice.instance.on_demand_usd_per_hour


@pytest.mark.parametrize("cloud", CLOUDS)
def test_an_impossible_model_raises_capacity_error_naming_the_memory_it_needs(cloud):
    huge = dataclasses.replace(LLAMA_3_1_70B, name="dense-2T", params_billion=2000.0)
    with pytest.raises(CapacityError) as info:
        choose_instance(huge, cloud)
    err = info.value
    assert err.needed_gib > 2000e9 * 2 / GIB
    message = str(err)
    assert "dense-2T" in message and f"needs at least {err.needed_gib:.1f} GiB" in message
    largest = max(e.total_gpu_memory_gib for e in instances(cloud))
    assert err.largest is not None and err.largest.total_gpu_memory_gib == largest
    assert err.largest.name in message and f"{largest:.1f} GiB" in message


def test_model_shape_rejects_nonsense_naming_the_field():
    with pytest.raises(ValueError, match="weight_dtype"):
        LLAMA_3_1_8B.serving(weight_dtype="int3")
    with pytest.raises(ValueError, match="kv_heads"):
        dataclasses.replace(LLAMA_3_1_8B, kv_heads=7)
    with pytest.raises(ValueError, match="max_concurrent_seqs"):
        LLAMA_3_1_8B.serving(max_concurrent_seqs=0)


# --- batch-1 decode bound ----------------------------------------------------------------


def test_batch1_decode_bound_is_bandwidth_over_bytes_read_per_token():
    h100 = instance("p5.4xlarge")
    at_zero = decode_tokens_per_s_upper_bound(LLAMA_8B_USEFUL, h100, tp=1, context_tokens=0)
    assert at_zero == pytest.approx(3350e9 / weight_bytes(LLAMA_8B_USEFUL))
    at_8k = decode_tokens_per_s_upper_bound(LLAMA_8B_USEFUL, h100, tp=1)
    assert at_8k == pytest.approx(3350e9 / (weight_bytes(LLAMA_8B_USEFUL) + 8192 * 128 * 1024))
    assert at_8k < at_zero


@given(batch=st.integers(1, 256), ctx=st.integers(0, 8192))
@settings(max_examples=60, deadline=None)
def test_batching_raises_the_bound_but_never_beyond_batch_times_batch1(batch, ctx):
    h100 = instance("p5.4xlarge")
    one = decode_tokens_per_s_bound_at_batch(LLAMA_3_1_8B, h100, 1, 1, ctx)
    many = decode_tokens_per_s_bound_at_batch(LLAMA_3_1_8B, h100, 1, batch, ctx)
    assert one <= many * (1 + 1e-12) <= batch * one * (1 + 1e-12)


# --- monotonicity ----------------------------------------------------------------------------


@given(
    shape=st.sampled_from(sorted(KNOWN_SHAPES)),
    ctx=st.tuples(st.integers(1, 131072), st.integers(1, 131072)),
    seqs=st.tuples(st.integers(1, 512), st.integers(1, 512)),
)
@settings(max_examples=150, deadline=None)
def test_more_context_or_more_sequences_never_needs_less_memory(shape, ctx, seqs):
    small = KNOWN_SHAPES[shape].serving(max_context=min(ctx), max_concurrent_seqs=min(seqs))
    large = KNOWN_SHAPES[shape].serving(max_context=max(ctx), max_concurrent_seqs=max(seqs))
    for tp in TENSOR_PARALLEL_DEGREES:
        assert memory_per_gpu(small, tp).total_gib <= memory_per_gpu(large, tp).total_gib
    for entry in CATALOG:
        big_fit, small_fit = fit(large, entry), fit(small, entry)
        if big_fit.fits:
            assert small_fit.fits and small_fit.tensor_parallel <= big_fit.tensor_parallel


def test_spot_never_costs_more_than_on_demand_for_any_catalog_entry():
    for entry in CATALOG:
        assert entry.hourly_usd(spot=True) <= entry.hourly_usd(spot=False), entry.name


cloud_and_types = st.sampled_from(CLOUDS).flatmap(
    lambda c: st.tuples(st.just(c), st.lists(st.sampled_from([e.name for e in instances(c)]), min_size=1, max_size=3)))


@st.composite
def stacks(draw, spot: bool | None = None):
    cloud, types = draw(cloud_and_types)
    pools = []
    for i, name in enumerate(types):
        lo = draw(st.integers(0, 4))
        pools.append(GpuPoolCostInput(f"p{i}", name, lo, lo + draw(st.integers(0, 6)),
                                      draw(st.booleans()) if spot is None else spot, draw(st.sampled_from([50, 200]))))
    cache = draw(st.floats(0, 5000))
    return StackCostInput(
        cloud=cloud, region=None, production=draw(st.booleans()), isolation=draw(st.sampled_from(["dedicated", "shared"])),
        gpu_pools=tuple(pools), system_nodes=draw(st.integers(1, 5)), nat_gateways=draw(st.integers(0, 3)),
        keys=draw(st.integers(0, 3)), cache_volume_gib_min=cache, cache_volume_gib_max=cache + draw(st.floats(0, 5000)),
        object_storage_gib=draw(st.floats(0, 10000)),
    )


@given(stacks())
@settings(max_examples=150, deadline=None)
def test_max_scale_never_costs_less_than_min_scale(stack):
    est = estimate_stack_cost(stack)
    assert est.max_usd >= est.min_usd - 1e-9
    for line in est.breakdown:
        assert line.max_usd >= line.min_usd - 1e-9, line
    assert est.min_usd == pytest.approx(sum(x.min_usd for x in est.breakdown))


@given(stacks(spot=False))
@settings(max_examples=100, deadline=None)
def test_a_stack_on_spot_never_costs_more_than_on_demand(stack):
    on_demand = estimate_stack_cost(stack)
    spot = estimate_stack_cost(dataclasses.replace(
        stack, gpu_pools=tuple(dataclasses.replace(p, spot=True) for p in stack.gpu_pools)))
    assert spot.min_usd <= on_demand.min_usd + 1e-9 and spot.max_usd <= on_demand.max_usd + 1e-9


# --- environments ----------------------------------------------------------------------------


def _dev_and_prod(cloud: str) -> tuple[StackCostInput, StackCostInput]:
    dev_type = choose_instance(LLAMA_8B_USEFUL, cloud, spot=True).instance.name
    prod_type = choose_instance(LLAMA_8B_USEFUL, cloud).instance.name
    cache = 24.0
    dev = StackCostInput(cloud, None, production=False, isolation="shared",
                         gpu_pools=(GpuPoolCostInput("gpu", dev_type, 0, 2, spot=True),),
                         system_nodes=2, nat_gateways=1, cache_volume_gib_min=2 * cache,
                         cache_volume_gib_max=2 * cache, object_storage_gib=16)
    prod = StackCostInput(cloud, None, production=True, isolation="dedicated",
                          gpu_pools=(GpuPoolCostInput("gpu", prod_type, 2, 4, spot=False),),
                          system_nodes=2, nat_gateways=3 if cloud == "aws" else 1,
                          cache_volume_gib_min=4 * cache, cache_volume_gib_max=4 * cache, object_storage_gib=16)
    return dev, prod


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_dev_stack_costs_less_at_idle_than_a_production_stack(cloud):
    dev, prod = _dev_and_prod(cloud)
    dev_cost, prod_cost = estimate_stack_cost(dev), estimate_stack_cost(prod)
    assert dev_cost.min_usd < prod_cost.min_usd
    # At idle the dev stack runs no GPU node, the production stack two.
    assert next(x for x in dev_cost.breakdown if x.item == "GPU pool gpu").min_usd == 0
    assert next(x for x in prod_cost.breakdown if x.item == "GPU pool gpu").min_usd > 0


def test_aws_dedicated_region_fee_is_charged_only_while_a_dedicated_instance_runs():
    stack = StackCostInput("aws", "us-east-1", True, "dedicated",
                           (GpuPoolCostInput("gpu", "g6e.xlarge", 0, 2),))
    fee = next(x for x in estimate_stack_cost(stack).breakdown if x.item == "Dedicated Per Region Fee")
    assert fee.min_usd == 0 and fee.max_usd == pytest.approx(2.0 * 730)
    shared = estimate_stack_cost(dataclasses.replace(stack, isolation="shared"))
    assert all(x.item != "Dedicated Per Region Fee" for x in shared.breakdown)


def test_dedicated_gpu_pools_without_a_published_dedicated_price_are_flagged_as_a_lower_bound():
    stack = StackCostInput("aws", "us-east-1", True, "dedicated", (GpuPoolCostInput("gpu", "g6e.xlarge", 1, 1),))
    est = estimate_stack_cost(stack)
    assert any("lower bound" in n and "g6e.xlarge" in n for n in est.notes)


def test_cloud_nat_is_billed_per_vm_behind_it_up_to_its_cap():
    small = StackCostInput("gcp", "us-central1", False, "shared", (GpuPoolCostInput("gpu", "g2-standard-8", 0, 2),),
                           system_nodes=2)
    nat = next(x for x in estimate_stack_cost(small).breakdown if x.item == "Cloud NAT")
    per_vm, ip = price("gcp", "nat_vm").usd, price("gcp", "nat_ip").usd
    assert nat.min_usd == pytest.approx((2 * per_vm + ip) * 730)
    assert nat.max_usd == pytest.approx((4 * per_vm + ip) * 730)
    big = dataclasses.replace(small, gpu_pools=(GpuPoolCostInput("gpu", "g2-standard-8", 0, 100),))
    nat_big = next(x for x in estimate_stack_cost(big).breakdown if x.item == "Cloud NAT")
    assert nat_big.max_usd == pytest.approx((price("gcp", "nat_cap").usd + ip) * 730)


def test_unpriced_items_are_counted_as_zero_and_said_so():
    # westeurope: the catalog has no Azure row there, so the (priced in eastus) system VM size is unpriced too.
    stack = StackCostInput("azure", "westeurope", False, "shared", (GpuPoolCostInput("gpu", "not-a-type", 0, 1),))
    est = estimate_stack_cost(stack)
    unpriced = [x.item for x in est.breakdown if not x.priced]
    assert "GPU pool gpu" in unpriced and "system nodes" in unpriced
    assert any("not-a-type" in n for n in est.notes)
    assert "[unpriced]" in render_cost_table(est)


# --- cost per token and rendering ------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_cost_per_million_tokens_follows_from_the_planned_throughput(cloud):
    plan = plan_model(LLAMA_8B_USEFUL, cloud)
    assert plan.planned_tokens_per_s > plan.batch1_tokens_per_s_upper_bound  # 16 sequences share the weight reads
    assert plan.usd_per_million_tokens == pytest.approx(plan.usd_per_replica_hour / (plan.planned_tokens_per_s * 3600) * 1e6)
    assert "estimate" in plan.assumption
    spot = plan_model(LLAMA_8B_USEFUL, cloud, spot=True, instance_type=plan.instance.name)
    assert spot.usd_per_million_tokens <= plan.usd_per_million_tokens


def test_render_cost_table_lists_every_item_and_the_totals():
    stack = StackCostInput("aws", "us-east-1", True, "dedicated", (GpuPoolCostInput("gpu", "g6e.xlarge", 2, 4),),
                           cache_volume_gib_min=96, cache_volume_gib_max=96, object_storage_gib=16)
    est = estimate_stack_cost(stack)
    text = render_cost_table(est)
    for line in est.breakdown:
        assert line.item in text
    total = next(row for row in text.splitlines() if row.strip().startswith("total"))
    assert f"{est.min_usd:,.2f}" in total and f"{est.max_usd:,.2f}" in total


# What each cloud needs beyond the shared schema (the deploy target and who reaches the API).
_CLOUD_SECTIONS = {
    "gcp": {"gcp": {"project_id": "llm-dev-project", "project_number": "123456789012",
                    "model_bucket": "models-bucket",
                    "master_authorized_networks": [{"cidr_block": "10.0.0.0/8"}]}},
}


def _raw(cloud: str, uri: str, region: str) -> dict:
    return _CLOUD_SECTIONS.get(cloud, {}) | {
        "cloud": cloud, "environment": "dev", "region": region, "production": False, "isolation": "shared",
        "gpu_pools": [{"name": "l4", "gpu": "nvidia-l4", "gpus_per_node": 1, "min_nodes": 0, "max_nodes": 3,
                       "spot": True}],
        "models": [{"name": "llama", "backend": "vllm", "weights_uri": uri, "weights_size_gib": 16,
                    "gpu_pool": "l4", "min_replicas": 0, "max_replicas": 3, "active_hours": {}}],
    }


@pytest.mark.parametrize("cloud,uri,region", [
    ("aws", "s3://models-bucket/llama", "us-east-1"),
    ("gcp", "gs://models-bucket/llama", "us-central1"),
])
def test_a_stack_config_becomes_a_cost_input_with_the_default_instance_type(cloud, uri, region):
    cfg = parse_stack_config(_raw(cloud, uri, region))
    stack = stack_cost_input(cfg)
    pool = stack.gpu_pools[0]
    # The type the cloud layer deploys for a pool that names none (llm_infra.catalog), priced in the region.
    default_l4 = instance(CLOUD_PLUGINS[cloud].default_type("nvidia-l4", 1), cloud)
    assert (pool.instance_type, pool.min_nodes, pool.max_nodes, pool.spot) == (default_l4.name, 0, 3, True)
    # Three replicas keep their cache claims after scaling down.
    assert stack.cache_volume_gib_min == stack.cache_volume_gib_max == 3 * cfg.models[0].effective_cache_size_gib
    est = estimate_stack_cost(stack)
    assert est.as_output()["min"] == round(est.min_usd, 2) and est.max_usd > est.min_usd
    plans = plan_models(cfg, {"llama": LLAMA_3_1_8B.serving(max_context=4096, max_concurrent_seqs=2)})
    assert plans["llama"].instance.name == default_l4.name
    assert "llama" in render_model_table(plans)
    too_much = plan_models(cfg, {"llama": LLAMA_8B_USEFUL})
    assert isinstance(too_much["llama"], str) and "does not fit" in too_much["llama"]


# --- catalog integrity -----------------------------------------------------------------------


def _is_source(src) -> bool:
    return src is not None and src.url.startswith("https://") and date.fromisoformat(src.date) <= date(2026, 12, 31)


def test_every_catalog_entry_has_a_source_url_and_date_and_positive_prices():
    assert {e.cloud for e in CATALOG} == set(CLOUDS)
    names = [(e.cloud, e.name) for e in CATALOG]
    assert len(names) == len(set(names))
    for e in CATALOG:
        assert _is_source(e.on_demand_source), e.name
        assert e.on_demand_usd_per_hour > 0 and e.gpu_count >= 1 and e.vcpus >= 1 and e.memory_gib > 0
        assert (e.spot_usd_per_hour is None) == (e.spot_source is None), e.name
        if e.spot_usd_per_hour is not None:
            assert _is_source(e.spot_source)
            assert 0 < e.spot_usd_per_hour < e.on_demand_usd_per_hour, e.name
        if e.spot_az_samples:
            assert e.spot_usd_per_hour == statistics.median(e.spot_az_samples)
            assert all(0 < s <= e.on_demand_usd_per_hour for s in e.spot_az_samples), e.name


def test_every_gpu_the_config_accepts_has_a_sourced_spec_and_an_instance_type():
    for model in GPU_MEMORY_GIB:
        specs = [s for s in GPUS.values() if s.model == model]
        assert specs, model
        for spec in specs:
            assert 8 < spec.memory_gib < 200 and spec.bandwidth_gb_s > 0, spec
            assert _is_source(spec.memory_source) and _is_source(spec.bandwidth_source)
        assert any(e.gpu_model == model for e in CATALOG), model


def test_every_other_price_has_a_source_and_missing_ones_are_listed_as_unsourced():
    listed = unsourced()
    for p in PRICES.values():
        assert _is_source(p.source), p.key
        if p.usd is None:
            assert any(f"{p.cloud} {p.key}" in line for line in listed)
        else:
            assert p.usd >= 0
    for s in SYSTEM_INSTANCE_TYPES:
        assert (s.on_demand_usd_per_hour is None) == (s.source is None)
        if s.on_demand_usd_per_hour is None:
            assert any(f"{s.cloud} {s.name}" in line for line in listed)
    for e in CATALOG:
        if e.spot_usd_per_hour is None:
            assert any(f"{e.cloud} {e.name}: spot" in line for line in listed)
    for p in PRICES.values():
        if "secondary source" in f"{p.notes} {p.source.note}".lower():
            assert any(line.startswith(f"{p.cloud} {p.key}: approximate") for line in listed), p.key


def test_gcp_g2_prices_are_composed_from_sku_rates_that_reproduce_the_published_g2_standard_4():
    assert gcp_g2_price(4, 16, 1) == pytest.approx(0.70683, abs=1e-4)
    assert instance("g2-standard-8").on_demand_usd_per_hour == pytest.approx(gcp_g2_price(8, 32, 1))
    assert re.match(r"https://cloud\.google\.com/", instance("g2-standard-48").on_demand_source.url)


def test_the_planning_package_imports_neither_pydantic_nor_pulumi():
    import subprocess
    import sys

    code = "import sys, llm_infra.planning; print(sorted(m for m in ('pydantic', 'pulumi') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _deployed_node_types(result) -> set[str]:
    """Instance / machine / VM types the stack's node pools actually run (system pools included)."""
    types: set[str] = set()
    for r in result.of_type("aws:eks/nodeGroup:NodeGroup"):
        types |= set(r.inputs["instanceTypes"])
    for r in result.of_type("gcp:container/nodePool:NodePool"):
        types.add(r.inputs["nodeConfig"]["machineType"])
    for r in result.of_type("azure-native:containerservice:AgentPool"):
        types.add(r.inputs["vmSize"])
    for r in result.of_type("azure-native:containerservice:ManagedCluster"):
        types |= {p["vmSize"] for p in r.inputs.get("agentPoolProfiles", [])}
    return types


@pytest.mark.parametrize("name", ["dev", "prod", "gcp-dev", "gcp-prod", "azure-dev", "azure-prod"])
def test_the_estimate_prices_the_node_types_the_stack_deploys(name):
    from llm_infra.plan import parsed_config, run_stack
    from llm_infra.planning import stack_cost_input

    cost_input = stack_cost_input(parsed_config(name))
    priced = {p.instance_type for p in cost_input.gpu_pools} | {cost_input.system_instance_type}
    assert priced == _deployed_node_types(run_stack(name))


def _deployed_gpu_node_disks(result) -> list[float]:
    """GiB of disk on each GPU node the stack's pools run, per pool (what the cloud bills per node)."""
    disks: list[float] = []
    templates = {f"{r.name}-id": r for r in result.of_type("aws:ec2/launchTemplate:LaunchTemplate")}  # the mock id
    for group in result.of_type("aws:eks/nodeGroup:NodeGroup"):
        if group.inputs.get("taints"):
            lt = templates[group.inputs["launchTemplate"]["id"]]
            disks.append(float(sum(m["ebs"]["volumeSize"] for m in lt.inputs["blockDeviceMappings"])))
    for pool in result.of_type("gcp:container/nodePool:NodePool"):
        if pool.inputs["nodeConfig"].get("guestAccelerators"):
            disks.append(float(pool.inputs["nodeConfig"]["diskSizeGb"]))
    for pool in result.of_type("azure-native:containerservice:AgentPool"):
        if pool.inputs.get("nodeTaints"):
            disks.append(float(pool.inputs["osDiskSizeGB"]))
    return sorted(disks)


@pytest.mark.parametrize("name", ["dev", "prod", "gcp-dev", "gcp-prod", "azure-dev", "azure-prod"])
def test_the_estimate_prices_the_gpu_node_disks_the_stack_deploys(name):
    # GKE boot disks (gcp.node_disk_size_gb) and AKS OS disks were priced at 100 GiB whatever was deployed.
    from llm_infra.plan import parsed_config, run_stack
    from llm_infra.planning import stack_cost_input

    cost_input = stack_cost_input(parsed_config(name))
    deployed = _deployed_gpu_node_disks(run_stack(name))
    assert deployed and sorted(p.disk_gib_per_node for p in cost_input.gpu_pools) == deployed


def test_gcp_prod_is_priced_whole_sole_tenancy_premium_and_system_nodes_included():
    from llm_infra.plan import parsed_config
    from llm_infra.planning import estimate_stack_cost, stack_cost_input

    cfg = parsed_config("gcp-prod")
    estimate = estimate_stack_cost(stack_cost_input(cfg))
    lines = {line.item: line for line in estimate.breakdown}
    assert [line.item for line in estimate.breakdown if not line.priced] == []
    premium = lines["sole-tenant node premium"]
    assert 0 < premium.min_usd < premium.max_usd
    count, machine = cfg.gcp.system_pool(cfg.region)
    assert lines["system nodes"].min_usd == pytest.approx(
        count * system_instance(machine, "gcp", cfg.region).on_demand_usd_per_hour * 730)
    g2 = next(p for p in stack_cost_input(cfg).gpu_pools if p.instance_type.startswith("g2-"))
    vm = instance(g2.instance_type, "gcp")
    # The G2 premium is 10 % of the machines' vCPU and memory price (GPUs excluded), from the region's rates.
    assert gcp_g2_price(vm.vcpus, vm.memory_gib, 0, region=cfg.region) * 0.10 * 730 * g2.min_nodes <= premium.min_usd
