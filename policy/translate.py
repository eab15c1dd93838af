"""Turns llm_infra.policies rules into Pulumi CrossGuard policies (no server is started here).

`__main__.py` hands the result to `PolicyPack`, which starts the analyzer server and never
returns; keeping the translation here lets the tests exercise it in the pack's own
environment.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

# The pack's own copy of llm_infra.policies (scripts/vendor_policies.py keeps it equal):
# the published pack is this folder alone, and the rules need nothing but the standard library.
from llm_infra_policies import MANDATORY, Context, Resource, Rule, all_rules

CONFIG_SCHEMA = PolicyConfigSchema(
    properties={
        "production": {"type": "boolean", "default": True},
        # The stack's own AWS account ids, Azure subscription ids or GCP projects (rules on trust and keys).
        "accounts": {"type": "array", "items": {"type": "string"}, "default": []},
    },
)


def _context(config) -> Context:
    config = config or {}
    return Context(production=bool(config.get("production", True)),
                   accounts=frozenset(str(a) for a in config.get("accounts") or []))


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
