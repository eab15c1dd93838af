"""An existing cluster declares its GPU nodes' allocatable (`existing.gpu_nodes`); config validation
checks every replica against it and the local control plane shapes its kwok nodes from it. The
kwok nodes of every stack take their allocatable from the clouds' fact tables (no second copy
of the reservation formulas). The real scheduler's side: tests/test_real_engine.py."""

from __future__ import annotations

import pytest

from llm_infra import fit
from llm_infra.catalog import aws_facts
from llm_infra.catalog import azure_facts
from llm_infra.config import ConfigError, parse_stack_config
from llm_infra.contract import DEFAULT_GPU_POOL_LABEL
from llm_infra.catalog import gcp_facts
from llm_infra.local.nodes import MAX_PODS, node_shapes
from llm_infra.plan import stack_config
from llm_infra.planning.catalog import DEFAULT_SYSTEM_INSTANCE_TYPE, system_instance

from _stacks import rejected


def _parse(raw):
    return parse_stack_config({k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("llm-infra:")
                               and k != "llm-infra:kubeconfig"})


def _existing(change=None):
    raw, _ = stack_config("existing")
    if change:
        change(raw)
    return _parse(raw)


def test_shipped_existing_stack_declares_its_gpu_nodes_and_its_replicas_fit():
    config = _existing()
    assert config.existing is not None and set(config.existing.gpu_nodes) == {p.name for p in config.gpu_pools}
    assert fit.fit_problems(config) == []
    kind, node = fit.gpu_node_allocatable(config, config.gpu_pools[0])
    assert node is not None and node.cpu_millicores == 7910 and node.memory_mib == 59627


def test_a_replica_larger_than_the_declared_node_is_refused_before_anything_is_registered():
    def small_nodes(raw):
        raw["llm-infra:existing"]["gpu_nodes"]["l40s"].update(cpu="3920m", memory="14Gi")

    problems = rejected("existing", small_nodes)
    assert problems[0].startswith("models[0].cpu: expected at most 3.77 CPU (pool 'l40s': 3920m allocatable on "
                                  "existing.gpu_nodes.l40s: cpu 3920m, memory 14Gi less the GPU-node DaemonSets"), problems
    assert any(p.startswith("models[0].memory_gib") and p.endswith("or larger nodes in existing.gpu_nodes.l40s")
               for p in problems), problems
    assert all("\n" not in p for p in problems)


def test_gpu_nodes_of_an_unknown_pool_and_bad_quantities_name_the_field():
    def unknown_pool(raw):
        raw["llm-infra:existing"]["gpu_nodes"]["l4"] = dict(raw["llm-infra:existing"]["gpu_nodes"]["l40s"])

    assert rejected("existing", unknown_pool) == [
        "existing.gpu_nodes.l4: expected the name of a gpu_pools entry (l40s), got 'l4'"]

    def bad_cpu(raw):
        raw["llm-infra:existing"]["gpu_nodes"]["l40s"]["cpu"] = "eight"

    with pytest.raises(ConfigError) as info:
        _existing(bad_cpu)
    assert info.value.problems[0].startswith("existing.gpu_nodes.l40s.cpu:"), info.value.problems


def test_kwok_nodes_of_an_existing_pool_have_the_declared_allocatable():
    config = _existing()
    declared = config.existing.gpu_nodes["l40s"]
    gpu = [n for n in node_shapes(config) if n.labels.get(DEFAULT_GPU_POOL_LABEL) == "l40s"]
    assert gpu and all(n.allocatable == {"cpu": declared.cpu, "memory": declared.memory,
                                         "ephemeral-storage": declared.ephemeral_storage, "pods": "110",
                                         "nvidia.com/gpu": "1"} for n in gpu)


@pytest.mark.parametrize("name", ["dev", "gcp-dev", "azure-dev"])
def test_kwok_nodes_take_the_fact_tables_numbers(name):
    config = _parse(stack_config(name)[0])
    nodes = node_shapes(config)
    for pool in config.gpu_pools:
        _, node = fit.gpu_node_allocatable(config, pool)
        shaped = next(n for n in nodes if n.labels.get(DEFAULT_GPU_POOL_LABEL) == pool.name)
        assert shaped.allocatable["cpu"] == f"{node.cpu_millicores}m"
        assert shaped.allocatable["memory"] == f"{int(node.memory_mib)}Mi"
    system_type = system_instance(DEFAULT_SYSTEM_INSTANCE_TYPE[config.cloud], config.cloud)
    pods = MAX_PODS[config.cloud].pods
    expected = {
        "aws": lambda: aws_facts.shape_allocatable(system_type.name, system_type.vcpus, system_type.memory_gib, pods, 50),
        "gcp": lambda: gcp_facts.shape_allocatable(system_type.name, system_type.vcpus, system_type.memory_gib, 50),
        "azure": lambda: azure_facts.shape_allocatable(system_type.name, system_type.vcpus, system_type.memory_gib,
                                                       50, config.azure.kubernetes_version),
    }[config.cloud]()
    system = next(n for n in nodes if n.name == "system-0")
    assert system.allocatable["cpu"] == f"{expected.cpu_millicores}m"
    assert system.allocatable["memory"] == f"{int(expected.memory_mib)}Mi"
