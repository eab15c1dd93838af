"""Adding a cloud is the documented checklist (docs/architecture.md, "Adding a cloud"): a fourth cloud,
toycloud, made of its folder alone (tests/fixtures/toycloud/) and ONE registry line, is accepted by config
with its settings block, fit-checked against its node facts, priced by the cost model from its own price
rows, and planned by `llm-infra plan` like a shipped stack. Toycloud has no API: its resources are planned
under Pulumi's mocks, with the computed outputs its folder declares."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from llm_infra.cli import main
from llm_infra.config import ConfigError, StackConfig, parse_stack_config
from llm_infra.fit import fit_problems
from llm_infra.plan import find_project
from llm_infra.planning.stack import plan_stack

ROOT = find_project().root
FIXTURES = Path(__file__).resolve().parent / "fixtures"

STACK = {
    "cloud": "toycloud",
    "environment": "toy-dev",
    "production": False,
    "region": "toy-east-1",
    "isolation": "shared",
    "toycloud": {"account": "toy-acme", "node_disk_gib": 150},
    "gpu_pools": [{"name": "l4", "gpu": "nvidia-l4", "gpus_per_node": 1, "min_nodes": 1, "max_nodes": 3}],
    "models": [{"name": "toy-llm", "namespace": "llm-sandbox", "backend": "python", "python_model": "builtin:toy_llm",
                "weights_uri": "s3://toy-models/toy-llm", "weights_size_gib": 1, "gpu_pool": "l4",
                "gpus_per_replica": 1, "min_replicas": 1, "max_replicas": 1, "memory_gib": 8}],
}


@pytest.fixture
def toycloud(monkeypatch):
    """Step 2 of the checklist, the one registry line, made for this test only."""
    monkeypatch.syspath_prepend(str(FIXTURES))
    from toycloud import plugin

    from llm_infra.clouds import CLOUDS

    monkeypatch.setitem(CLOUDS, plugin.PLUGIN.name, plugin.PLUGIN)
    return plugin.PLUGIN


def _config(**changes) -> StackConfig:
    return StackConfig.model_validate({**STACK, **changes})


def _problems(**changes) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config({**STACK, **changes})
    return caught.value.problems


def test_without_its_registry_line_config_refuses_the_cloud():
    with pytest.raises(ConfigError, match=r"cloud: expected 'aws', 'gcp', 'azure' or 'existing', got 'toycloud'"):
        parse_stack_config(STACK)


def test_config_accepts_the_cloud_with_its_settings_and_runs_its_checks(toycloud):
    config = _config()
    assert config.cloud == "toycloud"
    assert type(config.cloud_settings) is toycloud.settings
    assert config.cloud_settings.account == "toy-acme" and config.cloud_settings.node_disk_gib == 150
    # Its settings model names the field; its region shape and its own checks run like a shipped cloud's.
    assert any(p.startswith("toycloud.node_disk_gib:") for p in _problems(toycloud={"account": "toy-a", "node_disk_gib": 10}))
    assert any(p.startswith("region: expected a toycloud region name (e.g. toy-east-1), got") for p in _problems(region="eu-west-1"))
    assert "region: expected a toycloud region with GPUs, got 'toy-moon-1'" in _problems(region="toy-moon-1")
    assert "toycloud: expected account for cloud 'toycloud', got nothing" in _problems(toycloud=None)
    # Its identities read what it says they read.
    assert any(p.startswith("models[0].weights_uri: expected a s3:// URI for cloud 'toycloud'")
               for p in _problems(models=[{**STACK["models"][0], "weights_uri": "gs://toy-models/toy-llm"}]))


def test_the_fit_check_reads_its_node_facts(toycloud):
    assert fit_problems(_config()) == []
    too_big = [{**STACK["models"][0], "memory_gib": 31}]
    problems = fit_problems(_config(models=too_big))
    # toy.l4x1: 32 GiB less the toy kubelet's 2 GiB, less the device plugin and DCGM exporter it does not run itself.
    assert any(p.startswith("models[0].memory_gib: expected at most 29 GiB (pool 'l4': 30.0 GiB allocatable on "
                            "toy.l4x1 (8 vCPUs, 32 GiB; toy kubelet reserves 500m and 2 GiB) less the GPU-node "
                            "DaemonSets (nvidia-device-plugin, dcgm-exporter") for p in problems), problems


def test_the_cost_model_prices_every_line_from_its_own_rows(toycloud):
    cost = plan_stack(_config()).cost
    assert cost is not None and cost.cloud == "toycloud"
    assert all(line.priced for line in cost.breakdown), [line for line in cost.breakdown if not line.priced]
    lines = {line.item: line for line in cost.breakdown}
    h = 730
    assert lines["GPU pool l4"].min_usd == pytest.approx(1 * 1.00 * h)
    assert lines["GPU pool l4"].max_usd == pytest.approx(3 * 1.00 * h)
    assert lines["toy control plane"].min_usd == pytest.approx(0.05 * h)
    assert lines["system nodes"].min_usd == pytest.approx(2 * 0.10 * h)
    assert lines["GPU node volumes"].max_usd == pytest.approx(3 * 150 * 0.05)  # its settings' disk, its price
    # Dedicated isolation is billed by its own rule: the dedicated price of the type.
    dedicated = plan_stack(_config(isolation="dedicated")).cost
    assert dedicated is not None
    assert {x.item: x for x in dedicated.breakdown}["GPU pool l4"].min_usd == pytest.approx(1.5 * h)


def test_llm_infra_plan_plans_the_stack_with_its_platform_cluster(toycloud, tmp_path, capsys):
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    shutil.copy(ROOT / "stacks" / "__main__.py", project / "stacks" / "__main__.py")
    (project / "stacks" / "Pulumi.toy-dev.yaml").write_text(
        yaml.safe_dump({"config": {f"llm-infra:{k}": v for k, v in STACK.items()}}))
    out = tmp_path / "plan"

    assert main(["plan", "toy-dev", "--out", str(out), "--project", str(project)]) == 0  # no mandatory violation
    printed = capsys.readouterr().out
    assert "toy control plane" in printed  # the cost table of its plan

    resources = json.loads((out / "resources.json").read_text())
    types = {r["type"] for r in resources}
    cluster = next(r for r in resources if r["type"] == "toycloud:index:Cluster")
    assert cluster["inputs"]["account"] == "toy-acme" and cluster["inputs"]["gpu_pools"] == ["l4"]
    assert "llm-infra:index:ToyPlatformCluster" in types
    statefulset = next(r for r in resources if r["type"] == "kubernetes:apps/v1:StatefulSet")
    assert statefulset["inputs"]["metadata"]["name"] == "toy-llm"
    # The Kubernetes layer runs on the provider the plug-in's contract hands out.
    assert statefulset["provider"] and "toy-dev-cluster-k8s" in statefulset["provider"]
    outputs = json.loads((out / "outputs.json").read_text())
    assert outputs["cloud"] == "toycloud"
    assert outputs["estimated_monthly_cost_usd"]["min"] > 0
    assert all(line["priced"] for line in outputs["estimated_monthly_cost_usd"]["breakdown"])


def test_its_policies_check_the_plan(toycloud, tmp_path):
    """The plug-in's rules run over the plan (and `pulumi up`'s check, which evaluates the same rules): its
    cluster passes as planned and fails once the planned endpoint is made public."""
    from llm_infra.plan import plan_rules, run_stack_program
    from llm_infra.policies import Context, Resource, evaluate

    rules = [r for r in plan_rules() if r.id == "toycloud-endpoint-private"]
    assert len(rules) == 1
    result = run_stack_program({f"llm-infra:{k}": v for k, v in STACK.items()}, [], stack="toy-dev")
    planned = [Resource(r.type, r.name, dict(r.inputs)) for r in result.resources]
    assert evaluate(planned, Context(production=False), rules) == []
    public = [Resource(r.type, r.name, {**r.inputs, "public_endpoint": True}) if r.type == "toycloud:index:Cluster"
              else r for r in planned]
    [violation] = evaluate(public, Context(production=False), rules)
    assert violation.rule == "toycloud-endpoint-private" and "public_endpoint True" in violation.message
