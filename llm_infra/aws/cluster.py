"""EksCluster: a private EKS control plane, its system nodes, add-ons, IRSA and an encrypted StorageClass.

- Secrets envelope-encrypted with the customer key; control-plane logs (api, audit,
  authenticator, controllerManager, scheduler) into a KMS-encrypted log group that exists
  before the cluster, with retention.
- Private endpoint always; the public endpoint only for an explicit CIDR allowlist.
- Authentication mode API: access entries only, the creator is not made admin; the
  configured principals get `AmazonEKSClusterAdminPolicy`.
- An IAM OIDC provider for IRSA; vpc-cni and aws-ebs-csi-driver run with their own IRSA
  roles (so the node role needs no CNI policy); the VPC CNI enforces NetworkPolicies.
- A small, untainted system node group for CoreDNS, the EBS CSI controller and the
  cluster autoscaler: GPU pools are tainted and may scale to zero.
- An explicit Kubernetes provider from the cluster's endpoint and CA with an
  `aws eks get-token` exec credential; the kubeconfig output is a secret.
"""

import json
from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from .. import versions
from ..config import CACHE_READ_MIB_S
from . import naming
from ..catalog.aws_facts import gp3_iops_for
from .launch_template import node_launch_template, node_role
from .policy import document, irsa_trust, managed_policy_arn, role_arn_after, service_trust

CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
STORAGE_CLASS = "llm-encrypted-gp3"
SYSTEM_NODE_LABEL = "llm-infra.io/node-role"
EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")
VPC_CNI_SERVICE_ACCOUNT = ("kube-system", "aws-node")
CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"


class EksClusterArgs(TypedDict):
    cluster_name: str
    """Name of the EKS cluster."""
    region: str
    """AWS region."""
    account_id: pulumi.Input[str]
    """The AWS account (for ARNs in policies)."""
    key_arn: pulumi.Input[str]
    """Customer KMS key for secrets, logs, node volumes and the StorageClass."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Private subnets (at least two zones) for the control-plane interfaces and the system nodes."""
    kubernetes_version: NotRequired[str]
    """Kubernetes minor version. Defaults to `versions.EKS_KUBERNETES_VERSION`."""
    public_access_cidrs: NotRequired[Sequence[str]]
    """CIDRs allowed to reach a public API endpoint. Defaults to none: no public endpoint."""
    admin_principal_arns: NotRequired[Sequence[str]]
    """IAM principals given cluster admin through access entries. Defaults to none."""
    log_retention_days: NotRequired[int]
    """Retention of the control-plane log group. Defaults to 365."""
    system_instance_type: NotRequired[str]
    """Instance type of the system nodes. Defaults to `m7i.large`."""
    system_nodes: NotRequired[int]
    """Number of system nodes. Defaults to 2."""
    ami_family: NotRequired[str]
    """`AL2023` or `BOTTLEROCKET` for the system nodes. Defaults to `AL2023`."""
    tenancy: NotRequired[str]
    """Tenancy of the system nodes: `default`, `dedicated` or `host`. Defaults to `dedicated`."""
    host_resource_group_arn: NotRequired[str | None]
    """Host resource group for tenancy `host`. Defaults to none."""
    volume_size_gib: NotRequired[int]
    """Volume size of each system node. Defaults to 50."""
    deletion_protection: NotRequired[bool]
    """EKS deletion protection. Defaults to `True`."""


class EksCluster(pulumi.ComponentResource):
    """A private, encrypted, audited EKS cluster with IRSA and an encrypted gp3 StorageClass."""

    cluster_name: pulumi.Output[str]
    """Name of the EKS cluster."""
    endpoint: pulumi.Output[str]
    """API server endpoint (private unless a public allowlist is set)."""
    oidc_issuer: pulumi.Output[str]
    """The cluster's OIDC issuer URL (IRSA)."""
    oidc_provider_arn: pulumi.Output[str]
    """ARN of the IAM OIDC provider for the issuer."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig with an `aws eks get-token` exec credential (a secret)."""
    storage_class: pulumi.Output[str]
    """Name of the gp3 StorageClass encrypted with the customer key."""

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        cidrs = list(args.get("public_access_cidrs") or [])
        for cidr in cidrs:
            if cidr.endswith("/0"):
                raise ValueError(f"public_access_cidrs: expected an explicit allowlist, got {cidr!r}")
        ami_family = args.get("ami_family", "AL2023")
        if ami_family not in ("AL2023", "BOTTLEROCKET"):
            raise ValueError(f"ami_family: expected 'AL2023' or 'BOTTLEROCKET', got {ami_family!r}")
        super().__init__("llm-infra:index:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster_name = args["cluster_name"]
        region = args["region"]
        part = naming.partition(region)
        key_arn = args["key_arn"]
        account = pulumi.Output.from_input(args["account_id"])
        tags = {"llm-infra.io/cluster": cluster_name}

        # --- control-plane role and logs -------------------------------------------------
        cluster_role = aws.iam.Role(
            f"{name}-cluster-role", name=naming.role_name(cluster_name, "cluster"),
            assume_role_policy=service_trust("eks.amazonaws.com"),
            description="llm-infra EKS control plane", tags=tags, opts=child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-role-policy", role=cluster_role.name,
            policy_arn=managed_policy_arn(part, "AmazonEKSClusterPolicy"), opts=child,
        )
        cluster_kms = aws.iam.RolePolicy(
            f"{name}-cluster-role-kms", role=cluster_role.id, name="secrets-encryption",
            policy=document([{"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants",
                                                           "kms:DescribeKey"], "Resource": key_arn}]),
            opts=child,
        )
        # EKS would create this group itself, unencrypted and kept forever: create it first.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-log-group", name=naming.log_group_name(cluster_name),
            retention_in_days=args.get("log_retention_days", 365), kms_key_id=key_arn, tags=tags, opts=child,
        )

        public = bool(cidrs)
        cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=cluster_name,
            version=args.get("kubernetes_version", versions.EKS_KUBERNETES_VERSION),
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args["subnet_ids"],
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=cidrs if public else None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"], provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key_arn),
            ),
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False,
            ),
            # vpc-cni, kube-proxy and CoreDNS come as managed add-ons below, not as unmanaged defaults.
            bootstrap_self_managed_addons=False,
            deletion_protection=args.get("deletion_protection", True),
            tags=tags,
            opts=child.merge(pulumi.ResourceOptions(depends_on=[log_group, cluster_policy, cluster_kms])),
        )
        self.cluster = cluster

        # --- access entries ----------------------------------------------------------------
        admin_access: list[pulumi.Resource] = []
        for i, principal in enumerate(args.get("admin_principal_arns") or []):
            entry = aws.eks.AccessEntry(f"{name}-admin-{i}", cluster_name=cluster.name, principal_arn=principal,
                                        type="STANDARD", tags=tags, opts=child)
            admin_access.append(aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{i}", cluster_name=cluster.name, principal_arn=principal,
                policy_arn=f"arn:{part}:eks::aws:cluster-access-policy/{CLUSTER_ADMIN_POLICY}",
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=child.merge(pulumi.ResourceOptions(depends_on=[entry])),
            ))

        # --- IRSA --------------------------------------------------------------------------
        issuer = cluster.identities.apply(
            lambda ids: (ids[0].oidcs[0].issuer if ids and ids[0].oidcs else None))
        oidc = aws.iam.OpenIdConnectProvider(f"{name}-oidc", url=issuer, client_id_lists=["sts.amazonaws.com"],
                                             tags=tags, opts=child)
        self.oidc_provider = oidc

        def irsa_role(purpose: str, service_account: tuple[str, str], policies: Sequence[str],
                      inline: pulumi.Output[str] | None = None) -> pulumi.Output[str]:
            role_name = naming.role_name(cluster_name, purpose)
            role = aws.iam.Role(
                f"{name}-{purpose}-role", name=role_name,
                assume_role_policy=irsa_trust(oidc.arn, issuer, *service_account),
                description=f"llm-infra IRSA {service_account[0]}/{service_account[1]}", tags=tags, opts=child,
            )
            for policy in policies:
                aws.iam.RolePolicyAttachment(f"{name}-{purpose}-{policy.split('/')[-1]}", role=role.name,
                                             policy_arn=managed_policy_arn(part, policy), opts=child)
            if inline is not None:
                aws.iam.RolePolicy(f"{name}-{purpose}-kms", role=role.id, name="customer-key", policy=inline,
                                   opts=child)
            return role_arn_after(role, account.apply(lambda a: naming.role_arn(part, a, role_name)))

        cni_role = irsa_role("vpc-cni", VPC_CNI_SERVICE_ACCOUNT, ["AmazonEKS_CNI_Policy"])
        csi_role = irsa_role(
            "ebs-csi", EBS_CSI_SERVICE_ACCOUNT, ["service-role/AmazonEBSCSIDriverPolicy"],
            # What the EBS CSI driver needs on a customer key (aws-ebs-csi-driver docs, KMS key policy).
            inline=document([
                {"Effect": "Allow", "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                 "Resource": key_arn, "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
                {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                                               "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
                                               "kms:DescribeKey"], "Resource": key_arn},
            ]),
        )

        def addon(addon_name: str, depends_on: Sequence[pulumi.Resource] = (), **kwargs) -> aws.eks.Addon:
            return aws.eks.Addon(
                f"{name}-{addon_name}", cluster_name=cluster.name, addon_name=addon_name,
                resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="PRESERVE", tags=tags,
                opts=child.merge(pulumi.ResourceOptions(depends_on=list(depends_on))), **kwargs,
            )

        # The CNI must be in place, with its IRSA role, before any node joins.
        vpc_cni = addon("vpc-cni", service_account_role_arn=cni_role,
                        configuration_values=json.dumps({"enableNetworkPolicy": "true"}))
        kube_proxy = addon("kube-proxy")

        # --- system nodes ------------------------------------------------------------------
        tenancy = args.get("tenancy", "dedicated")
        system_role, system_attachments = node_role(
            f"{name}-system-node-role", role_name=naming.role_name(cluster_name, "system-node"), partition=part,
            tags=tags, opts=child)
        system_lt = node_launch_template(
            f"{name}-system-lt", key_arn=key_arn, ami_type=ami_family, volume_size_gib=args.get("volume_size_gib", 50),
            tenancy=tenancy, host_resource_group_arn=args.get("host_resource_group_arn"),
            tags={**tags, "Name": f"{cluster_name}-system"}, opts=child,
        )
        count = args.get("system_nodes", 2)
        system_nodes = aws.eks.NodeGroup(
            f"{name}-system-nodes",
            cluster_name=cluster.name,
            node_group_name=naming.fit(f"{cluster_name}-system", 63),
            node_role_arn=system_role.arn,
            subnet_ids=args["subnet_ids"],
            ami_type="AL2023_x86_64_STANDARD" if ami_family == "AL2023" else "BOTTLEROCKET_x86_64",
            capacity_type="ON_DEMAND",
            instance_types=[args.get("system_instance_type", "m7i.large")],
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=count, max_size=count, desired_size=count),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=system_lt.id, version=system_lt.latest_version),
            labels={SYSTEM_NODE_LABEL: "system"},
            tags=tags,
            opts=child.merge(pulumi.ResourceOptions(depends_on=[vpc_cni, kube_proxy, *system_attachments])),
        )
        self.system_node_group = system_nodes
        # These run as pods: they need nodes to become ACTIVE.
        addon("coredns", depends_on=[system_nodes])
        ebs_csi = addon("aws-ebs-csi-driver", depends_on=[system_nodes], service_account_role_arn=csi_role)
        self.before_nodes: list[pulumi.Resource] = [vpc_cni, kube_proxy]

        # --- Kubernetes provider and StorageClass ------------------------------------------
        ca_data = cluster.certificate_authority.apply(lambda ca: ca.data if ca else None)
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.endpoint, ca_data, cluster.name).apply(
                lambda v: kubeconfig(v[0], v[1], v[2], region)))
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                     # Kubernetes objects wait for the admins' access entries.
                                     opts=child.merge(pulumi.ResourceOptions(depends_on=admin_access)))
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=STORAGE_CLASS, labels={"app.kubernetes.io/part-of": "llm-infra"}),
            provisioner="ebs.csi.aws.com",
            # gp3 gives 125 MiB/s unless told otherwise; the startup budget reads at CACHE_READ_MIB_S.
            parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": key_arn, "csi.storage.k8s.io/fstype": "ext4",
                        "throughput": str(CACHE_READ_MIB_S), "iops": str(gp3_iops_for(CACHE_READ_MIB_S))},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[ebs_csi]),
        )

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.oidc_issuer = issuer
        self.oidc_provider_arn = oidc.arn
        self.storage_class = storage_class.metadata.apply(lambda m: m.name if m and m.name else STORAGE_CLASS)
        self.register_outputs({
            "cluster_name": self.cluster_name, "endpoint": self.endpoint, "oidc_issuer": self.oidc_issuer,
            "oidc_provider_arn": self.oidc_provider_arn, "kubeconfig": self.kubeconfig,
            "storage_class": self.storage_class,
        })


def kubeconfig(endpoint: str | None, ca_data: str | None, cluster_name: str | None, region: str) -> str:
    """A kubeconfig whose credential is `aws eks get-token` (no long-lived token inside)."""
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["--region", region, "eks", "get-token", "--cluster-name", cluster_name, "--output", "json"],
            "interactiveMode": "Never",
        }}}],
    }, indent=2)
