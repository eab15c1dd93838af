"""What AWS computes on create (ARNs, the OIDC issuer, ...), for the offline plan (pure Python).

Derived deterministically from names and the stack's region and account, so that the plan and
the tests can follow a reference ("this key encrypts that volume").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any


def _place(config: Callable[[str], Any]) -> tuple[str, str]:
    aws = config("llm-infra:aws")
    account = aws.get("account_id") if isinstance(aws, Mapping) else None
    return config("llm-infra:region") or config("aws:region") or "us-east-1", account or "000000000000"


def resource_outputs(type_: str, name: str, inputs: Mapping[str, Any], config: Callable[[str], Any]) -> dict[str, Any]:
    """The outputs AWS adds to resource `name` of type `type_`; `config` reads a stack config key."""
    region, account = _place(config)
    if type_ == "aws:kms/key:Key":
        return {"arn": f"arn:aws:kms:{region}:{account}:key/{name}-id", "keyId": f"{name}-id"}
    if type_ == "aws:iam/role:Role" and inputs.get("name"):
        return {"arn": f"arn:aws:iam::{account}:role/{inputs['name']}"}
    if type_ == "aws:eks/cluster:Cluster":
        cluster = inputs.get("name", name)
        return {
            "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{cluster.upper()}"}]}],
            "endpoint": f"https://{cluster}.eks.{region}.example",
            "vpcConfig": {**(inputs.get("vpcConfig") or {}),
                          "clusterSecurityGroupId": f"sg-{hashlib.sha1(cluster.encode()).hexdigest()[:17]}"},
            "certificateAuthority": {"data": "bW9jayBjbHVzdGVyIENB"},
        }
    if type_ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider" and inputs.get("url"):
        return {"arn": f"arn:aws:iam::{account}:oidc-provider/{inputs['url'].removeprefix('https://')}"}
    if type_ == "aws:eks/nodeGroup:NodeGroup":
        return {"resources": [{"autoscalingGroups": [{"name": f"eks-{inputs.get('nodeGroupName', name)}-asg"}]}]}
    return {}


def call_outputs(token: str, args: Mapping[str, Any], config: Callable[[str], Any]) -> dict[str, Any]:
    """AWS provider functions the stack calls: none need an answer offline."""
    return {}
