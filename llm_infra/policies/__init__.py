"""Security and reliability rules as plain functions over resources (SECURITY.md).

A rule sees a resource as its type token and its inputs (what the engine receives), or
the whole list of resources. It returns violations whose messages say what to change.
The same functions run in three places: `llm-infra plan` (over the mock engine's
captured resources), the test suite, and the Pulumi CrossGuard pack in `policy/`
(over `args.props` at preview, where some values are still unknown: a rule that cannot
see a value does not guess, it stays silent).

This package imports neither Pulumi nor pydantic, so the policy pack's own environment
(which pins its own protobuf) can load it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MANDATORY = "mandatory"
ADVISORY = "advisory"


@dataclass(frozen=True)
class Resource:
    """What a rule sees of one resource."""

    type: str
    name: str
    inputs: Mapping[str, Any]
    protect: bool = False
    retain_on_delete: bool | None = False
    """None where the caller cannot see it (CrossGuard does not expose retainOnDelete)."""
    urn: str = ""

    @property
    def kind(self) -> str | None:
        kind = self.inputs.get("kind")
        return kind if isinstance(kind, str) else None

    @property
    def label(self) -> str:
        meta = self.inputs.get("metadata")
        if isinstance(meta, Mapping) and isinstance(meta.get("name"), str):
            ns = meta.get("namespace")
            return f"{self.kind} {ns + '/' if isinstance(ns, str) else ''}{meta['name']}"
        return f"{self.type} {self.name}"


@dataclass(frozen=True)
class Context:
    """What a rule knows about the stack."""

    production: bool = True
    accounts: frozenset[str] = frozenset()
    """The cloud accounts the stack deploys into (AWS account ids, Azure subscription ids, GCP projects); rules
    that judge principals and keys by owner stay with the wildcard checks where it is empty (not known)."""


@dataclass(frozen=True)
class Violation:
    rule: str
    resource: str
    message: str
    enforcement: str


@dataclass(frozen=True)
class Rule:
    """One invariant. `check` yields messages; the rule turns them into violations."""

    id: str
    description: str
    invariant: str
    """The SECURITY.md invariant number(s) it encodes."""
    scope: str
    """`resource` (check(resource, context)) or `stack` (check(resources, context))."""
    check: Callable[..., Iterable[str]]
    enforcement: str = MANDATORY
    resource_types: tuple[str, ...] = field(default_factory=tuple)
    """Type tokens (or prefixes ending in ':') the rule looks at; empty means all."""

    def applies_to(self, resource_type: str) -> bool:
        return not self.resource_types or any(
            resource_type == t or (t.endswith(":") and resource_type.startswith(t)) for t in self.resource_types
        )

    def evaluate(self, resources: list[Resource], context: Context) -> list[Violation]:
        out: list[Violation] = []
        if self.scope == "stack":
            for message in self.check(resources, context):
                out.append(Violation(self.id, "stack", message, self.enforcement))
            return out
        for r in resources:
            if self.applies_to(r.type):
                for message in self.check(r, context):
                    out.append(Violation(self.id, r.label, message, self.enforcement))
        return out


def all_rules() -> list[Rule]:
    """Every rule of every layer that has landed."""
    from . import aws, azure, gcp, gpu_admission, kubernetes, kubernetes_content, pulumi_options, tls

    return [*kubernetes.RULES, *kubernetes_content.RULES, *tls.RULES, *gpu_admission.RULES, *pulumi_options.RULES,
            *aws.RULES, *gcp.RULES, *azure.RULES]


def evaluate(resources: Iterable[Resource], context: Context, rules: list[Rule] | None = None) -> list[Violation]:
    resources = list(resources)
    return [v for rule in (rules or all_rules()) for v in rule.evaluate(resources, context)]


# The engine's placeholders for values a preview cannot know yet (pulumi_policy.proxy).
UNKNOWN_SENTINELS = frozenset({
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
})


def get(obj: Any, *path: str, unseen: Any = None) -> Any:
    """The value at `path` through nested mappings: None where a key (or a parent) is unset,
    `unseen` where a parent is not a mapping (at preview, an unknown value)."""
    for key in path:
        if obj is None:
            return None
        if not isinstance(obj, Mapping):
            return unseen
        obj = obj.get(key)
    return obj


def known(value: Any) -> bool:
    """False for values a preview cannot know yet (None, or an unknown sentinel)."""
    if value is None:
        return False
    return not (isinstance(value, str) and value in UNKNOWN_SENTINELS)
