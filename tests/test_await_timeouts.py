"""Issue 14.7: `pulumi up` waits for a model's StatefulSet as long as its replicas can take to start.

pulumi-kubernetes gives up on a StatefulSet after 10 minutes unless `customTimeouts` says
otherwise; the 70B model's startup probe alone allows 22.5 minutes.
"""

from __future__ import annotations

import re

import pytest

from llm_infra.cache_volume import cache_read_mib_s
from llm_infra.plan import parsed_config, summary
from llm_infra.triton.await_timeouts import NODE_SCALE_UP_SECONDS, WEIGHT_SYNC_MIB_PER_SECOND

from _stacks import STACKS, stack, with_changed_config

PROVIDER_DEFAULT_S = 600


def _minutes(duration: str) -> int:
    match = re.fullmatch(r"(\d+)m", duration)
    assert match, duration
    return int(match.group(1))


def _probe_budget_s(sts) -> int:
    triton = next(c for c in sts.inputs["spec"]["template"]["spec"]["containers"] if c["name"] == "triton")
    probe = triton["startupProbe"]
    return probe["periodSeconds"] * probe["failureThreshold"]


@pytest.mark.parametrize("name", STACKS)
def test_every_statefulset_waits_for_a_new_node_the_weight_copy_and_the_startup_probe(name):
    result = stack(name)
    config = parsed_config(name)
    models = {m.name: m for m in config.models}
    for sts in result.kubernetes_objects("StatefulSet"):
        model = models[sts.k8s_name]
        # The copy runs at the slower of the CLI's assumed rate and the cache volume's own (where the stack knows it).
        rate = min(WEIGHT_SYNC_MIB_PER_SECOND, cache_read_mib_s(config, model) or WEIGHT_SYNC_MIB_PER_SECOND)
        sync_s = model.weights_size_gib * 1024 / rate
        first_start_s = NODE_SCALE_UP_SECONDS + sync_s + _probe_budget_s(sts)
        assert set(sts.custom_timeouts) == {"create", "update"}, (name, sts.k8s_name, sts.custom_timeouts)
        create_s = _minutes(sts.custom_timeouts["create"]) * 60
        update_s = _minutes(sts.custom_timeouts["update"]) * 60
        assert first_start_s <= create_s < first_start_s + 60, (name, sts.k8s_name, create_s, first_start_s)
        # A rolling update replaces the replicas one at a time.
        grace = sts.inputs["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        per_replica = grace + sync_s + _probe_budget_s(sts)
        assert update_s >= NODE_SCALE_UP_SECONDS + model.max_replicas * per_replica, (name, sts.k8s_name)


def test_the_70b_model_waits_longer_than_the_provider_default_and_its_probe(name="prod"):
    sts = next(s for s in stack(name).kubernetes_objects("StatefulSet") if s.k8s_name == "llama-3-70b")
    assert _probe_budget_s(sts) > PROVIDER_DEFAULT_S  # the finding: 22.5 min of probe against 10 min of await
    assert _minutes(sts.custom_timeouts["create"]) * 60 > _probe_budget_s(sts) + NODE_SCALE_UP_SECONDS


def test_larger_weights_wait_longer_in_the_same_stack():
    def bigger(raw):
        raw["llm-infra:models"][1]["weights_size_gib"] = 280

    base = next(s for s in stack("prod").kubernetes_objects("StatefulSet") if s.k8s_name == "llama-3-70b")
    grown = next(s for s in with_changed_config("prod", bigger).kubernetes_objects("StatefulSet")
                 if s.k8s_name == "llama-3-70b")
    # 140 GiB more to copy (and to read in the probe's budget) on each start.
    assert _minutes(grown.custom_timeouts["create"]) - _minutes(base.custom_timeouts["create"]) >= \
        140 * 1024 / WEIGHT_SYNC_MIB_PER_SECOND / 60


def test_the_plan_summary_shows_how_long_pulumi_waits():
    text = summary("prod", stack("prod"))
    sts = next(s for s in stack("prod").kubernetes_objects("StatefulSet") if s.k8s_name == "llama-3-70b")
    assert (f"pulumi up waits for readiness up to: create {sts.custom_timeouts['create']}, "
            f"update {sts.custom_timeouts['update']}") in text


def test_a_slower_cache_volume_makes_pulumi_wait_longer():
    from llm_infra.triton.await_timeouts import await_budget

    fast = await_budget(weights_size_gib=140, startup_probe_period_s=10, startup_probe_failures=135,
                        termination_grace_s=75, max_replicas=4, volume_mib_s=200)
    slow = await_budget(weights_size_gib=140, startup_probe_period_s=10, startup_probe_failures=135,
                        termination_grace_s=75, max_replicas=4, volume_mib_s=25)
    assert fast.weight_sync_s == 1434 and slow.weight_sync_s == 5735
    assert slow.create_s - fast.create_s == 5735 - 1434
