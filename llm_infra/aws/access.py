"""The deployer's path to a private EKS endpoint: 443 on the cluster security group from the deployer's networks.

EKS creates the cluster security group and lets in only itself (the control plane and the
nodes). A runner in a peered VPC, behind a Transit Gateway or on a VPN reaches the private
endpoint's addresses but is dropped there: "you must ensure that your Amazon EKS control
plane security group contains rules to allow ingress traffic on port 443 from your
connected network" (EKS User Guide, Cluster API server endpoint,
https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html, read 2026-12-01).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws


def open_api_endpoint(name: str, cluster: aws.eks.Cluster, cidrs: Sequence[str],
                      opts: pulumi.ResourceOptions) -> list[aws.vpc.SecurityGroupIngressRule]:
    """One ingress rule (TCP 443) per deployer network on the cluster security group."""
    group = cluster.vpc_config.apply(lambda c: c.cluster_security_group_id if c else None)
    return [
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-deployer-{i}",
            security_group_id=group,
            cidr_ipv4=cidr,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description=f"llm-infra: deployer network {cidr} to the private API endpoint",
            opts=opts,
        )
        for i, cidr in enumerate(cidrs)
    ]
