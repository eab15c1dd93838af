"""Every cloud fact a shipped stack relies on has a sourced row, and replicas fit their nodes.

The fact tables live in each cloud's folder (`llm_infra/<cloud>/facts.py`); a stack that
uses an instance type, a node reservation or a service agent with no row fails here.
"""

from __future__ import annotations


import pytest

from llm_infra import facts as fact_rows
from llm_infra.catalog import aws_facts
from llm_infra.catalog.aws import GPU_INSTANCE_TYPES, default_instance_type
from llm_infra.catalog import azure_facts
from llm_infra.catalog.azure import GPU_VM_SIZES, default_vm_size
from llm_infra.config import parse_stack_config
from llm_infra.fit import cpu_millicores, fit_problems, mebibytes, replica_requests
from llm_infra.catalog import gcp_facts
from llm_infra.catalog.gcp import GPU_FAMILIES, machine_type_for
from llm_infra.plan import stack_config

from _stacks import STACKS, rejected, stack

CLOUD_STACKS = [n for n in STACKS if n != "existing"]
GPU_POOL_LABEL = "llm-infra.io/gpu-pool"


def config(name: str):
    raw, secret = stack_config(name)
    return parse_stack_config({k.split(":", 1)[1]: v for k, v in raw.items() if k not in secret})


def _sources(module) -> list[fact_rows.Source]:
    found = []
    for value in vars(module).values():
        if isinstance(value, fact_rows.Source):
            found.append(value)
        elif isinstance(value, dict):
            found += [v for v in value.values() if isinstance(v, fact_rows.Source)]
            found += [v[1] for v in value.values() if isinstance(v, tuple) and len(v) == 2
                      and isinstance(v[1], fact_rows.Source)]
    return found


@pytest.mark.parametrize("module", [aws_facts, gcp_facts, azure_facts], ids=["aws", "gcp", "azure"])
def test_every_row_names_its_source_and_the_day_it_was_read(module):
    sources = _sources(module)
    assert len(sources) >= 4
    for source in sources:
        assert source.url.startswith("https://"), source
        assert source.read == "2026-12-01" and source.says, source


def test_every_gpu_type_the_config_accepts_has_a_shape_row():
    assert set(GPU_INSTANCE_TYPES) == set(aws_facts.INSTANCE_SHAPES)
    assert {t for f in GPU_FAMILIES.values() for t in f.machine_types} == set(gcp_facts.MACHINE_SHAPES)
    assert set(GPU_VM_SIZES) == set(azure_facts.VM_SHAPES)
    assert {f.sole_tenant_node_type for f in GPU_FAMILIES.values() if f.sole_tenant_node_type} == set(
        gcp_facts.SOLE_TENANT_NODE_TYPES)


def _pool_types(name: str) -> list[tuple[str, str]]:
    c = config(name)
    out = []
    for p in c.gpu_pools:
        if c.cloud == "aws":
            out.append(("aws", p.instance_type or default_instance_type(p.gpu, p.gpus_per_node)))
        elif c.cloud == "gcp":
            out.append(("gcp", machine_type_for(p.gpu, p.gpus_per_node, p.instance_type)))
        else:
            out.append(("azure", p.instance_type or default_vm_size(p.gpu, p.gpus_per_node)))
    return out


@pytest.mark.parametrize("name", CLOUD_STACKS)
def test_every_fact_a_stack_uses_has_a_row(name):
    c = config(name)
    for cloud, kind in _pool_types(name):
        if cloud == "aws":
            assert kind in aws_facts.INSTANCE_SHAPES, kind
            if c.isolation == "dedicated":
                assert aws_facts.family(kind) in aws_facts.DEDICATED_INSTANCE_FAMILIES, kind
                assert aws_facts.dedicated_spot_sizes(kind) is not None, kind
        elif cloud == "gcp":
            assert kind in gcp_facts.MACHINE_SHAPES, kind
            if c.isolation == "dedicated":
                family = next(f for f in GPU_FAMILIES.values() if kind in f.machine_types)
                assert family.sole_tenant_node_type in gcp_facts.SOLE_TENANT_NODE_TYPES, kind
        else:
            assert kind in azure_facts.VM_SHAPES and kind in azure_facts.ENCRYPTION_AT_HOST, kind
    if c.cloud == "gcp":
        assert set(gcp_facts.SERVICE_AGENTS) == {"container.googleapis.com", "compute.googleapis.com",
                                                 "storage.googleapis.com"}
    if c.cloud == "azure":
        major, minor = (int(x) for x in c.azure.kubernetes_version.split("."))
        assert (major, minor) >= azure_facts.FIRST_SUPPORTED_VERSION  # the reservation formula we read


def test_a_stack_on_a_type_without_a_row_is_refused_before_anything_is_registered():
    problems = rejected("prod", lambda raw: raw["llm-infra:gpu_pools"][0].update(instance_type="g6.16xlarge"))
    assert any(p.startswith("gpu_pools[0].instance_type: expected a type with a sourced row in llm-infra's aws "
                            "fact table") for p in problems), problems


# --- the documented reservation formulas, on the documents' own examples ---------------------------

def test_the_reservation_formulas_give_the_documented_examples():
    # GKE: 25% of 4 + 20% of 4 + 10% of 8 + 6% of 16 = 3.56 GiB on a 32 GiB machine.
    assert gcp_facts.memory_reserve_gib(32) == pytest.approx(3.56)
    # nodeadm: 6% + 1% + 2 x 0.5% + 4 x 0.25% of an 8-core node = 90 m.
    assert fact_rows.tiered_cpu_reserve_millicores(8) == 90
    # AKS: a node with 8 cores reserves 180 m; 20 MB x 30 pods + 50 = 650 MB on 8 GB (the page's example).
    assert azure_facts.cpu_reserve_millicores(8) == 180
    assert min(20 * 30 + 50, 0.25 * 8000) == 650


# --- 15.1: each replica fits a node of its pool ---------------------------------------------------

def _quantity_mib(q: str) -> float:
    return mebibytes(q)


@pytest.mark.parametrize("name", CLOUD_STACKS)
def test_every_triton_pod_fits_its_node_with_the_gpu_daemonsets(name):
    """Read from the plan: the StatefulSet's pod and the DaemonSets that tolerate the GPU taint, against
    the node allocatable the cloud's documented formula gives for the pool's type."""
    c = config(name)
    result = stack(name)
    daemonsets = [r for r in result.resources if r.type == "kubernetes:apps/v1:DaemonSet"
                  and any(t.get("key") == "nvidia.com/gpu" for t in
                          r.inputs["spec"]["template"]["spec"].get("tolerations", []))]
    ds_cpu = sum(cpu_millicores(ct["resources"]["requests"]["cpu"]) for d in daemonsets
                 for ct in d.inputs["spec"]["template"]["spec"]["containers"])
    ds_mem = sum(_quantity_mib(ct["resources"]["requests"]["memory"]) for d in daemonsets
                 for ct in d.inputs["spec"]["template"]["spec"]["containers"])
    types = dict(zip([p.name for p in c.gpu_pools], [k for _, k in _pool_types(name)], strict=True))
    for sts in (r for r in result.resources if r.type == "kubernetes:apps/v1:StatefulSet"):
        pod = sts.inputs["spec"]["template"]["spec"]
        pool = next(p for p in c.gpu_pools if p.name == pod["nodeSelector"][GPU_POOL_LABEL])
        kind = types[pool.name]
        if c.cloud == "aws":
            node = aws_facts.node_allocatable(kind, c.aws.node_volume_size_gib)
        elif c.cloud == "gcp":
            node = gcp_facts.node_allocatable(kind, c.gcp.node_disk_size_gb)
        else:
            node = azure_facts.node_allocatable(kind, 256, c.azure.kubernetes_version)
        cpu = max(max(cpu_millicores(x["resources"]["requests"]["cpu"]) for x in pod["initContainers"]),
                  sum(cpu_millicores(x["resources"]["requests"]["cpu"]) for x in pod["containers"]))
        mem = max(max(_quantity_mib(x["resources"]["requests"]["memory"]) for x in pod["initContainers"]),
                  sum(_quantity_mib(x["resources"]["requests"]["memory"]) for x in pod["containers"]))
        assert cpu + ds_cpu <= node.cpu_millicores, (sts.name, cpu, ds_cpu, node)
        assert mem + ds_mem <= node.memory_mib, (sts.name, mem, ds_mem, node)
        shm = next(v for v in pod["volumes"] if v["name"] == "dshm")["emptyDir"]["sizeLimit"]
        assert _quantity_mib(shm) < mem  # memory-backed: charged to the container's memory limit
        eph = sum(_quantity_mib(x["resources"]["requests"].get("ephemeral-storage", "0")) for x in pod["containers"])
        assert 0 < eph / 1024 <= node.ephemeral_gib


def test_the_8b_model_on_a_g6_xlarge_is_refused_with_the_numbers():
    # What dev, staging and prod shipped on b01c788: 4 CPU and 28 GiB on a 4 vCPU / 16 GiB node.
    def old_shape(raw):
        raw["llm-infra:gpu_pools"][0]["instance_type"] = "g6.xlarge"
        raw["llm-infra:models"][0].pop("memory_gib")
    problems = rejected("prod", old_shape)
    assert problems[0] == (
        "models[0].cpu: expected at most 3.77 CPU (pool 'l4': 3920m allocatable on g6.xlarge: 4 vCPU, 16 GiB less "
        "7.5% VM overhead, kube-reserved 11 x 58 pods + 255 MiB, eviction 100 MiB less the GPU-node DaemonSets "
        "(nvidia-device-plugin, dcgm-exporter: 150m CPU, 576 MiB)), got 4")
    assert problems[1].startswith("models[0].memory_gib (default 1.25 x weights + 8): expected at most 13 GiB")
    assert problems[1].endswith("got 28; set memory_gib or a larger instance_type")


def test_28_gib_on_a_g2_standard_8_leaves_no_room_and_shm_must_fit_the_memory():
    def too_big(raw):
        raw["llm-infra:models"][0]["memory_gib"] = 29
    [problem] = rejected("gcp-dev", too_big)
    assert problem.startswith("models[0].memory_gib: expected at most 28 GiB (pool 'l4': 28.3 GiB allocatable on "
                              "g2-standard-8: 8 vCPU, 32 GiB less GKE's reservation 3.56 GiB and 100 MiB eviction)")
    problems = rejected("gcp-dev", lambda raw: raw["llm-infra:models"][0].update(shm_size_gib=24))
    assert problems == ["models[0].shm_size_gib: expected less than the replica's memory (24 GiB): /dev/shm is "
                        "memory-backed and charged to the container's memory limit, got 24"]


@pytest.mark.parametrize("name", CLOUD_STACKS)
def test_shipped_stacks_have_no_fit_problems(name):
    assert fit_problems(config(name)) == []
    for m in config(name).models:
        cpu, memory, ephemeral = replica_requests(m)
        assert cpu >= 1000 and memory >= 1024 and ephemeral > 0


# --- 15.9: the model cache reads at the rate the startup budget assumes, on every cloud -------------

def _statefulsets(name: str):
    return {r.inputs["metadata"]["name"]: r for r in stack(name).resources
            if r.type == "kubernetes:apps/v1:StatefulSet"}


def _storage_class(name: str) -> dict:
    [sc] = [r.inputs for r in stack(name).resources if r.type == "kubernetes:storage.k8s.io/v1:StorageClass"
            and r.inputs["metadata"]["name"].startswith("llm-")]
    return sc


def _documented_rate(name: str, model) -> float:
    """The cache volume's read rate from the plan's StorageClass and PVC size, by the clouds' documents."""
    sc = _storage_class(name)
    size = model.effective_cache_size_gib
    params = sc["parameters"]
    if sc["provisioner"] == "ebs.csi.aws.com":
        assert params["type"] == "gp3"
        rate = float(params.get("throughput", aws_facts.GP3_BASELINE_MIB_S))
        assert int(params.get("iops", aws_facts.GP3_BASELINE_IOPS)) * aws_facts.GP3_MIB_S_PER_IOPS >= rate
        return rate
    if sc["provisioner"] == "pd.csi.storage.gke.io":
        return gcp_facts.pd_read_mib_s(params["type"], size)
    if params["skuName"] == "PremiumV2_LRS":
        return float(params.get("DiskMBpsReadWrite", 125)) * 1e6 / 2**20
    return azure_facts.premium_read_mib_s(size)


@pytest.mark.parametrize("name", CLOUD_STACKS)
def test_the_startup_budget_reads_the_weights_at_the_cache_volumes_real_rate(name):
    c = config(name)
    sets = _statefulsets(name)
    for m in c.models:
        rate = _documented_rate(name, m)
        pod = sets[m.name].inputs["spec"]["template"]
        budget = int(pod["metadata"]["annotations"]["llm-infra.io/max-load-seconds"])
        assert budget == m.load_budget_seconds(rate), (m.name, rate, budget)
        claim = sets[m.name].inputs["spec"]["volumeClaimTemplates"][0]["spec"]
        assert claim["resources"]["requests"]["storage"] == f"{m.effective_cache_size_gib}Gi"
        [triton] = [x for x in pod["spec"]["containers"] if x["name"] == "triton"]
        probe = triton["startupProbe"]
        assert probe["periodSeconds"] * probe["failureThreshold"] >= budget


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_gp3_caches_are_provisioned_at_the_budgets_rate_not_the_125_mib_s_default(name):
    params = _storage_class(name)["parameters"]
    assert params["throughput"] == "200" and params["iops"] == "3000"


def test_a_premium_ssd_cache_that_reads_slower_gets_a_longer_budget():
    c = config("azure-prod")
    [big] = [m for m in c.models if m.name == "llama-3-70b"]
    budget = int(_statefulsets("azure-prod")["llama-3-70b"].inputs["spec"]["template"]["metadata"]["annotations"][
        "llm-infra.io/max-load-seconds"])
    # 1 TiB Premium SSD (P30): 200 MB/s = 190.7 MiB/s, below the 200 MiB/s the default budget assumes.
    assert budget == big.load_budget_seconds(200e6 / 2**20) > big.load_budget_seconds(200)


def test_an_azure_size_without_an_encryption_at_host_row_is_refused(monkeypatch):
    monkeypatch.setattr(azure_facts, "ENCRYPTION_AT_HOST", frozenset())
    problems = rejected("azure-dev", lambda raw: None)
    assert problems == ["gpu_pools[0].instance_type: expected a VM size that supports encryption at host "
                        f"({azure_facts.ENCRYPTION_AT_HOST_SOURCE.url}), got 'Standard_NC24ads_A100_v4'"]


def test_a_gpu_pool_in_a_zone_that_does_not_offer_its_gpu_is_refused():
    # gcp-prod on b01c788 put its H100 pool in europe-west4-a, where Compute Engine offers no A3 High.
    def zone_a(raw):
        raw["llm-infra:gcp"]["zones"] = ["europe-west4-a", "europe-west4-b"]
        for pool in raw["llm-infra:gpu_pools"]:
            pool["zones"] = ["europe-west4-a", "europe-west4-b"]
    problems = rejected("gcp-prod", zone_a)
    assert problems == [
        "gpu_pools[1].zones[0]: expected a zone of europe-west4 that offers nvidia-h100-80gb machines "
        f"(['europe-west4-b', 'europe-west4-c']; {gcp_facts.GPU_ZONES_SOURCE.url}), got 'europe-west4-a'"]


def test_a_region_without_zone_rows_is_refused_not_guessed():
    def elsewhere(raw):
        raw["llm-infra:region"] = "asia-east1"
        raw["llm-infra:gcp"]["zones"] = ["asia-east1-a", "asia-east1-b"]
    problems = rejected("gcp-dev", elsewhere)
    assert any(p.startswith("gpu_pools[0].zones (gcp.zones[0]): expected a zone of a region llm-infra has sourced "
                            "GPU rows for") for p in problems), problems


@pytest.mark.parametrize("name", [n for n in CLOUD_STACKS if n.startswith("gcp")])
def test_every_gcp_pool_zone_offers_its_gpu(name):
    c = config(name)
    for p in c.gpu_pools:
        for zone in p.zones or c.gcp.node_zones(c.region):
            assert zone in gcp_facts.GPU_ZONES[p.gpu], (p.name, zone)
