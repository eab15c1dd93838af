"""Sourced facts about clouds and upstream projects: the row type every fact table uses.

A check or a default that rests on something a cloud documents reads it from a table in
the catalog (`catalog/aws_facts.py`, `catalog/gcp_facts.py`, `catalog/azure_facts.py`); each row carries
where it was read and when. Pure Python: config validation imports these tables.
"""

from __future__ import annotations

from dataclasses import dataclass

READ = "2026-12-01"
"""The day the rows below were read, unless a row says otherwise."""


@dataclass(frozen=True)
class Source:
    """Where a fact was read: a URL (or upstream `file@ref`), the date read, and what it says."""

    url: str
    says: str = ""
    read: str = READ


class MissingFact(LookupError):
    """A stack needs a fact the tables have no sourced row for."""


@dataclass(frozen=True)
class Allocatable:
    """What the scheduler can place on one node."""

    cpu_millicores: int
    memory_mib: int
    ephemeral_gib: float
    how: str
    """The formula, with its numbers, for error messages."""


def tiered_cpu_reserve_millicores(vcpus: int) -> int:
    """6% of the first core, 1% of the second, 0.5% of the third and fourth, 0.25% of the rest (nodeadm; GKE uses the same tiers)."""
    total = vcpus * 1000
    reserve = 0
    for start, end, basis_points in ((0, 1000, 600), (1000, 2000, 100), (2000, 4000, 50), (4000, total, 25)):
        if total > start:
            reserve += (min(total, end) - start) * basis_points // 10000
    return reserve
