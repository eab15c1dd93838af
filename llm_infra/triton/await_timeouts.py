"""How long `pulumi up` waits for a model's StatefulSet, from the numbers its pods start by.

pulumi-kubernetes waits for a StatefulSet until every replica is ready, and gives up after
10 minutes unless the resource says otherwise (`customTimeouts`). A replica of a large
model needs far longer on the first `pulumi up`: a GPU node must be added by the
cluster autoscaler, the init container copies the weights into the empty cache, and the
startup probe then allows the engine its worst-case load. So the create timeout is the sum
of exactly those three, and the update timeout repeats the per-replica part for each
replica, because a rolling update replaces one replica at a time (`podManagementPolicy:
Parallel` only affects scaling).

Readiness stays checked by Pulumi's own await (no `pulumi.com/skipAwait`): a `pulumi up`
that returns means every replica answered `/v2/health/ready`, which a CI apply relies on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Assumptions, not cloud facts: each is a conservative bound for a first start.
NODE_SCALE_UP_SECONDS = 900
"""A new GPU node: autoscaler scan, instance launch, node registration, device plugin and
the Triton image pull (about 10-15 GiB). 15 minutes."""
WEIGHT_SYNC_MIB_PER_SECOND = 100
"""Copy rate of the init container's cloud CLI from the bucket into the cache. The cache
volume's own rate bounds it further where the stack knows it (`llm_infra.cache_volume`:
provisioned gp3 and Premium SSD v2, and the documented rate of GCP persistent disks and
Azure Premium SSD tiers for the cache's size)."""


@dataclass(frozen=True)
class AwaitBudget:
    """The seconds a model's StatefulSet may take to become ready, and what they are made of."""

    node_scale_up_s: int
    weight_sync_s: int
    startup_probe_s: int
    termination_grace_s: int
    replicas: int

    @property
    def create_s(self) -> int:
        """First `pulumi up`: the replicas start in parallel, each on a new node, from an empty cache."""
        return self.node_scale_up_s + self.weight_sync_s + self.startup_probe_s

    @property
    def update_s(self) -> int:
        """A rolling update: one replica at a time stops, re-syncs a new revision and loads again."""
        per_replica = self.termination_grace_s + self.weight_sync_s + self.startup_probe_s
        return self.node_scale_up_s + self.replicas * per_replica

    def custom_timeouts(self) -> dict[str, str]:
        """Engine durations (whole minutes, rounded up) for the `customTimeouts` resource option."""
        return {"create": f"{math.ceil(self.create_s / 60)}m", "update": f"{math.ceil(self.update_s / 60)}m"}


def weight_sync_mib_s(volume_mib_s: float | None) -> float:
    """The copy runs at the slower of the assumed network copy and the cache volume (where known)."""
    if volume_mib_s is None:
        return WEIGHT_SYNC_MIB_PER_SECOND
    if isinstance(volume_mib_s, bool) or not isinstance(volume_mib_s, int | float) or volume_mib_s <= 0:
        raise ValueError(f"cache_write_mib_s: expected a rate above 0 MiB/s, got {volume_mib_s!r}")
    return min(WEIGHT_SYNC_MIB_PER_SECOND, volume_mib_s)


def await_budget(*, weights_size_gib: float, startup_probe_period_s: int, startup_probe_failures: int,
                 termination_grace_s: int, max_replicas: int, volume_mib_s: float | None = None) -> AwaitBudget:
    """The budget of one model from its weights, its cache volume, its startup probe and its largest replica count."""
    return AwaitBudget(
        node_scale_up_s=NODE_SCALE_UP_SECONDS,
        weight_sync_s=math.ceil(weights_size_gib * 1024 / weight_sync_mib_s(volume_mib_s)),
        startup_probe_s=startup_probe_period_s * startup_probe_failures,
        termination_grace_s=termination_grace_s,
        replicas=max(max_replicas, 1),
    )
