"""The deployer's path to the cluster: what a stack exports and the plan shows (docs/access.md).

Every cluster a stack creates has a private API endpoint in a network the same stack
creates, so the first `pulumi up` must run from a network routed into it: a self-hosted
runner (or an admin's VPN) in one of `access.deployer_cidrs`. Each cloud opens its
endpoint to exactly those networks; this module says so in one shape for every cloud.
"""

from __future__ import annotations

from typing import Any

from .config import StackConfig

RUNNER = ("GitHub workflows: a self-hosted runner labelled by the repository variable PULUMI_RUNNER, "
          "in one of these networks")


def deployer_path(config: StackConfig, endpoint: str, rule: str) -> dict[str, Any]:
    """The stack output `deployer_access`: the endpoint, the networks it admits, how, and the runner."""
    cidrs = list(config.access.deployer_cidrs)
    return {
        "endpoint": endpoint,
        "from": cidrs or ["inside the stack's own network only"],
        "ingress": rule if cidrs else "none beyond the stack's own network",
        "runner": RUNNER if cidrs else "run `pulumi up` from inside the stack's network",
    }
