"""llm-infra's CrossGuard pack: `pulumi preview --policy-pack policy/`."""

from pulumi_policy import PolicyPack

from translate import policies

PolicyPack(name="llm-infra", policies=policies())
