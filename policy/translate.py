"""Turns llm_infra.policies rules into Pulumi CrossGuard policies (no server is started here).

`__main__.py` hands the result to `PolicyPack`, which starts the analyzer server and never
returns; keeping the translation here lets the tests exercise it in the pack's own
environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

# The rules live in the library; importing llm_infra.policies loads neither Pulumi's
# program SDK extras nor pydantic, so the pack needs only pulumi-policy.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llm_infra.policies import MANDATORY, Context, Resource, Rule, all_rules  # noqa: E402

CONFIG_SCHEMA = PolicyConfigSchema(
    properties={"production": {"type": "boolean", "default": True}},
)


def _context(config) -> Context:
    return Context(production=bool((config or {}).get("production", True)))


def _level(rule: Rule) -> EnforcementLevel:
    return EnforcementLevel.MANDATORY if rule.enforcement == MANDATORY else EnforcementLevel.ADVISORY


def to_resource(r: ResourceValidationArgs | PolicyResource) -> Resource:
    # retainOnDelete is not visible to policies: rules skip what they cannot see.
    return Resource(type=r.resource_type, name=r.name, inputs=r.props,
                    protect=bool(getattr(r.opts, "protect", False)), retain_on_delete=None, urn=r.urn)


def _policy(rule: Rule) -> ResourceValidationPolicy | StackValidationPolicy:
    if rule.scope == "stack":
        def validate(args, report_violation) -> None:
            resources = [to_resource(r) for r in args.resources]
            for message in rule.check(resources, _context(args.get_config())):
                report_violation(f"[{rule.id}] {message}", None)
        cls = StackValidationPolicy
    else:
        def validate(args, report_violation) -> None:
            if rule.applies_to(args.resource_type):
                for message in rule.check(to_resource(args), _context(args.get_config())):
                    report_violation(f"[{rule.id}] {message}", None)
        cls = ResourceValidationPolicy
    return cls(
        name=rule.id,
        description=f"{rule.description} (SECURITY.md {rule.invariant})",
        validate=validate,
        enforcement_level=_level(rule),
        config_schema=CONFIG_SCHEMA,
    )


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    return [_policy(r) for r in all_rules()]
