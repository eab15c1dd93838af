"""Every key any rule reads exists in the real provider's inputs (schemas derived from the installed SDKs).

A rule that reads a key the provider does not use sees nothing, forever: it passes every
stack, and a test that breaks the same wrong key passes with it. Here every rule runs over
every shipped stack's plan with the inputs wrapped in a recorder; each key path it asks
for, present or not, is looked up in the provider SDK's `<Resource>Args` types.
"""

from __future__ import annotations

import pytest

from llm_infra.policies import Context, Resource, all_rules

from _stacks import STACKS, stack
from provider_schema import KeyRecorder, args_class, path_exists


def _recorded_reads() -> dict[str, set[tuple[str, ...]]]:
    reads: dict[str, set[tuple[str, ...]]] = {}
    for name in STACKS:
        resources = []
        for r in stack(name).resources:
            log = reads.setdefault(r.type, set())
            resources.append(Resource(r.type, r.name, KeyRecorder(r.inputs, (), log), r.protect,
                                      r.retain_on_delete, r.urn))
        for production in (True, False):
            for rule in all_rules():
                rule.evaluate(resources, Context(production=production))
    return reads


def _wrong_keys() -> list[str]:
    wrong = []
    for token, paths in sorted(_recorded_reads().items()):
        # A Helm release is a provider resource, not a Kubernetes object: it has no kind or metadata.
        kubernetes = token.startswith("kubernetes:") and not token.startswith("kubernetes:helm.sh/")
        for path in sorted(paths):
            # Resource.kind and Resource.label probe every resource for a Kubernetes object's kind and name;
            # `id` is what the engine reports for a resource that exists (the AWS rules follow references by it).
            if (not kubernetes and path[0] in ("kind", "metadata")) or path == ("id",):
                continue
            if path_exists(token, path) is False:
                wrong.append(f"{token}: {'.'.join(path)}")
    return wrong


def test_every_key_a_rule_reads_is_a_real_provider_input():
    assert _wrong_keys() == []


def test_the_schema_check_knows_every_cloud_type_the_stacks_use():
    untyped = {r.type for name in STACKS for r in stack(name).resources
               # A dynamic resource (the generated Grafana password) has no provider schema: it runs in the program.
               if r.custom and not r.type.startswith(("pulumi:providers:", "kubernetes:keda.sh", "kubernetes:monitoring",
                                                      "kubernetes:gateway.networking.k8s.io",
                                                      "kubernetes:inference.networking.k8s.io",
                                                      "kubernetes:cert-manager.io",  # CRs: the manifest gate checks them
                                                      "pulumi-python:dynamic:"))
               and args_class(r.type) is None}
    assert untyped == set()


@pytest.mark.parametrize(("token", "path", "real"), [
    # The key the review found: azure-native spells the allowlist authorizedIPRanges.
    ("azure-native:containerservice:ManagedCluster", ("apiServerAccessProfile", "authorizedIpRanges"), False),
    ("azure-native:containerservice:ManagedCluster", ("apiServerAccessProfile", "authorizedIPRanges"), True),
    ("kubernetes:apps/v1:StatefulSet", ("spec", "template", "spec", "containers", "[]", "securityContext",
                                        "capabilities", "add"), True),
    ("kubernetes:apps/v1:StatefulSet", ("spec", "template", "spec", "containers", "[]", "capabilities"), False),
    ("aws:eks/cluster:Cluster", ("vpcConfig", "publicAccessCidrs"), True),
    ("gcp:container/cluster:Cluster", ("masterAuthorizedNetworksConfig", "cidrBlocks", "[]", "cidr"), False),
    ("kubernetes:core/v1:ConfigMap", ("data", "any-key"), True),
])
def test_the_schema_check_tells_real_inputs_from_wrong_ones(token, path, real):
    assert path_exists(token, path) is real
