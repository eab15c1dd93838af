"""The clouds llm-infra builds on: ONE registry, one line per cloud plug-in.

A cloud is a plug-in: its folder `llm_infra/<cloud>/` declares it in `plugin.py` (`PLUGIN`, a
`llm_infra.cloud_plugin.Cloud`) with every answer llm-infra asks a cloud for: its settings model and
checks, its catalog and facts, the weights URI schemes its identities read, its node allocatable, its
gateway defaults, its pricing rules, its policies, its components for other languages, its platform
cluster and its mock outputs. Adding a cloud is its folder (and its bottom-layer tables) plus one line
here; docs/architecture.md has the checklist.

This registry and every `plugin.py` sit at the bottom layer (they import only config, the catalogs,
the planning rules and the policies), so config, fit, cost and the gateway facts look a cloud up here
(on use, not at import: the registry imports config) without importing up a layer. A cloud's
components load on first use (its package's `__getattr__`), so importing this registry never
imports a cloud SDK.
"""

from __future__ import annotations

from .aws import plugin as aws
from .azure import plugin as azure
from .cloud_plugin import Cloud
from .gcp import plugin as gcp

CLOUDS: dict[str, Cloud] = {cloud.name: cloud for cloud in (aws.PLUGIN, gcp.PLUGIN, azure.PLUGIN)}
"""Every cloud llm-infra builds a cluster on, by the name stack config's `cloud` uses."""


def by_provider(provider: str) -> Cloud | None:
    """The cloud whose provider registers resources of a type token's first segment."""
    return next((cloud for cloud in CLOUDS.values() if cloud.provider == provider), None)


__all__ = ["CLOUDS", "Cloud", "by_provider"]
