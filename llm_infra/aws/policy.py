"""IAM policy documents as JSON built over Outputs (no invokes, so the offline plan shows them).

Every action is spelled out: no `*` and no `service:Prefix*` in any action we write.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

STS_AUDIENCE = "sts.amazonaws.com"


def document(statements: Sequence[Mapping[str, Any]] | pulumi.Output) -> pulumi.Output[str]:
    """A policy document (Version 2012-10-17) with Outputs anywhere inside, as a JSON string."""
    if not isinstance(statements, pulumi.Output):
        statements = list(statements)
    return pulumi.Output.from_input({"Version": "2012-10-17", "Statement": statements}).apply(
        lambda doc: json.dumps(doc, indent=None, separators=(",", ":"))
    )


def service_trust(service: str) -> pulumi.Output[str]:
    """Trust policy letting an AWS service principal assume the role."""
    return document([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])


def issuer_host(issuer: pulumi.Input[str | None]) -> pulumi.Output[str]:
    """The issuer URL without its scheme, as IAM condition keys spell it."""
    return pulumi.Output.from_input(issuer).apply(lambda url: (url or "").removeprefix("https://"))


def irsa_trust(oidc_provider_arn: pulumi.Input[str], issuer: pulumi.Input[str | None],
               namespace: str, service_account: str) -> pulumi.Output[str]:
    """Trust policy for IRSA: only `system:serviceaccount:<namespace>:<service_account>`, audience STS."""
    host = issuer_host(issuer)
    condition = host.apply(lambda h: {"StringEquals": {
        f"{h}:sub": f"system:serviceaccount:{namespace}:{service_account}",
        f"{h}:aud": STS_AUDIENCE,
    }})
    return document([{
        "Effect": "Allow",
        "Principal": {"Federated": oidc_provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    }])


def managed_policy_arn(partition: str, name: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


def actions_of(doc: str | Mapping[str, Any]) -> list[str]:
    """Every action of a policy document (for tests and policy rules)."""
    parsed = json.loads(doc) if isinstance(doc, str) else doc
    out: list[str] = []
    for statement in parsed["Statement"]:
        action = statement.get("Action", [])
        out += [action] if isinstance(action, str) else list(action)
    return out


def role_arn_after(role: pulumi.Resource, arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """`arn` (computed from the role's fixed name), available only once `role` exists.

    The value is known before the role is created (so the offline plan shows it), while
    whatever consumes it still waits for the role.
    """
    return pulumi.Output.all(role.urn, arn).apply(lambda v: v[1])
