"""Every object the stack puts in a namespace it creates waits for that namespace.

The API server refuses an object whose namespace does not exist yet; pulumi-kubernetes then
retries a few times with backoff and gives up, so an object that does not wait for its
namespace makes `pulumi up` depend on timing. Depending on a component waits for all of its
children, so a dependency on the component that creates the namespace counts, and so
does waiting for something that itself waits for the namespace.
"""

from __future__ import annotations

import pytest
from _stacks import STACKS, stack


def _descendants(result) -> dict[str, set[str]]:
    """URN -> the URNs of itself and everything under it."""
    parent = {r.urn: r.parent for r in result.resources}
    under: dict[str, set[str]] = {r.urn: {r.urn} for r in result.resources}
    for urn in parent:
        p = parent[urn]
        while p is not None:
            under.setdefault(p, {p}).add(urn)
            p = parent.get(p)
    return under


def _waits_for(urn: str, deps: dict[str, list[str]], under: dict[str, set[str]]) -> set[str]:
    """Everything `urn` waits for: its dependencies, their children, and what those wait for."""
    seen: set[str] = set()
    todo = [d for d in deps.get(urn, [])]
    while todo:
        d = todo.pop()
        for u in under.get(d, {d}):
            if u not in seen:
                seen.add(u)
                todo.extend(deps.get(u, []))
    return seen


@pytest.mark.parametrize("name", STACKS)
def test_every_object_in_a_namespace_the_stack_creates_waits_for_it(name):
    result = stack(name)
    namespaces = {r.k8s_name: r.urn for r in result.kubernetes_objects("Namespace")}
    under = _descendants(result)
    deps = {r.urn: r.dependencies for r in result.resources}
    late = []
    for r in result.kubernetes_objects():
        ns_urn = namespaces.get(r.k8s_namespace)
        if ns_urn is None:
            continue
        if ns_urn not in _waits_for(r.urn, deps, under):
            late.append(f"{r.kind} {r.k8s_namespace}/{r.k8s_name}")
    assert not late, late
