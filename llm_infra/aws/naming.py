"""Deterministic AWS names and ARNs derived from stack config (pure Python, no pulumi_aws).

IAM role names are fixed rather than auto-suffixed so that their ARNs are known before
the roles exist: the key policy and the cluster autoscaler policy name them, and an
offline plan shows them.
"""

from ..naming import fit  # noqa: F401 (re-exported)


def partition(region: str) -> str:
    """The ARN partition of a region."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def dns_suffix(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def cluster_name(environment: str) -> str:
    return f"llm-{environment}"


def role_name(cluster: str, purpose: str) -> str:
    """IAM role names are at most 64 characters."""
    return fit(f"{cluster}-{purpose}", 64)


def model_role_name(cluster: str, model: str) -> str:
    return role_name(cluster, f"model-{model}")


def role_arn(part: str, account: str, name: str) -> str:
    return f"arn:{part}:iam::{account}:role/{name}"


def log_group_name(cluster: str) -> str:
    """The log group EKS writes control-plane logs to (its name is fixed by EKS)."""
    return f"/aws/eks/{cluster}/cluster"
