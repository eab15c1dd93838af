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
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
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


def to_resource(args: ResourceValidationArgs) -> Resource:
    # retainOnDelete is not visible to policies: rules skip what they cannot see.
    return Resource(type=args.resource_type, name=args.name, inputs=args.props,
                    protect=bool(getattr(args.opts, "protect", False)), retain_on_delete=None, urn=args.urn)


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation) -> None:
        if not rule.applies_to(args.resource_type):
            return
        for message in rule.check(to_resource(args), _context(args.get_config())):
            report_violation(f"[{rule.id}] {message}", None)

    return ResourceValidationPolicy(
        name=rule.id,
        description=f"{rule.description} (SECURITY.md {rule.invariant})",
        validate=validate,
        enforcement_level=_level(rule),
        config_schema=CONFIG_SCHEMA,
    )


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation) -> None:
        resources = [Resource(type=r.resource_type, name=r.name, inputs=r.props,
                              protect=bool(getattr(r.opts, "protect", False)), retain_on_delete=None, urn=r.urn)
                     for r in args.resources]
        for message in rule.check(resources, _context(args.get_config())):
            report_violation(f"[{rule.id}] {message}", None)

    return StackValidationPolicy(
        name=rule.id,
        description=f"{rule.description} (SECURITY.md {rule.invariant})",
        validate=validate,
        enforcement_level=_level(rule),
        config_schema=CONFIG_SCHEMA,
    )


def policies() -> list:
    return [_stack_policy(r) if r.scope == "stack" else _resource_policy(r) for r in all_rules()]
