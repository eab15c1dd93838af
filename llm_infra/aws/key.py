"""AwsKey: the environment's customer-managed KMS key and its policy.

The key policy names every principal that may use the key and what for; nothing is
granted to `*`, and no action is a wildcard. Principals that are created after the key
(the cluster role, the EBS CSI role, the model roles) are named through an
`aws:PrincipalArn` condition on the account principal, so the key does not wait for
them and their ARNs are known up front (their names are deterministic). Each of them
also needs its own IAM policy on the key: the key policy alone grants nothing to them.
"""

from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from . import naming
from ..catalog.aws_facts import CREATE_CLUSTER_GRANT_SOURCE  # noqa: F401 (the source of the ClusterCreatorGrant statement)
from .policy import document

# Key administration, spelled out (no kms:* for anyone): enough to manage, rotate,
# tag, re-policy and schedule deletion of the key, but not to use it.
ADMIN_ACTIONS = [
    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:RotateKeyOnDemand", "kms:ListKeyRotations",
    "kms:EnableKey", "kms:DisableKey", "kms:UpdateKeyDescription", "kms:ListResourceTags",
    "kms:TagResource", "kms:UntagResource", "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias",
    "kms:ListGrants", "kms:RevokeGrant", "kms:ListKeyPolicies", "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
]
# Envelope encryption for a service acting for a principal (EBS volumes, EKS secrets, logs).
USE_ACTIONS = [
    "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey",
]
GRANT_ACTIONS = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
# EKS envelope-encrypts Secrets with these (terraform-aws-eks grants the cluster role the same).
CLUSTER_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
AUTOSCALING_SERVICE_ROLE = "aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"


class AwsKeyArgs(TypedDict):
    account_id: pulumi.Input[str]
    """The AWS account that owns the key."""
    region: str
    """Region of the key, the cluster and the log group."""
    cluster_name: str
    """Name of the EKS cluster whose secrets, logs, volumes and models the key encrypts."""
    cluster_role_arn: pulumi.Input[str]
    """IAM role of the EKS control plane (secrets envelope encryption)."""
    ebs_csi_role_arn: pulumi.Input[str]
    """IRSA role of the EBS CSI driver (encrypted persistent volumes)."""
    model_role_arns: NotRequired[Sequence[pulumi.Input[str]]]
    """IRSA roles of the model workloads: decrypt through S3 only. Defaults to none."""
    cluster_creator_arns: NotRequired[Sequence[str]]
    """Principals that create the EKS cluster (the deployer): `kms:DescribeKey` and `kms:CreateGrant` without
    `kms:GrantIsForAWSResource`, which CreateCluster does not support. Defaults to any principal of the
    account whose IAM policy allows it (the EKS default key policy's delegation to IAM)."""
    publisher_arns: NotRequired[Sequence[str]]
    """Principals that upload weights to the model bucket (encrypt through S3 only). Defaults to none."""
    deletion_window_in_days: NotRequired[int]
    """Waiting period before a scheduled deletion takes effect, 7-30. Defaults to 30."""


class AwsKey(pulumi.ComponentResource):
    """A rotating, protected, retained KMS key with a least-privilege key policy, and its alias."""

    key_arn: pulumi.Output[str]
    """ARN of the key."""
    key_id: pulumi.Output[str]
    """Id of the key."""
    alias_name: pulumi.Output[str]
    """The key's alias (`alias/<cluster>`)."""
    policy: pulumi.Output[str]
    """The key policy (JSON)."""

    def __init__(self, name: str, args: AwsKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        window = args.get("deletion_window_in_days", 30)
        if not 7 <= window <= 30:
            raise ValueError(f"deletion_window_in_days: expected 7 to 30, got {window!r}")
        super().__init__("llm-infra:index:AwsKey", name, None, opts)
        region = args["region"]
        part = naming.partition(region)
        account = pulumi.Output.from_input(args["account_id"])
        cluster = args["cluster_name"]
        root = account.apply(lambda a: f"arn:{part}:iam::{a}:root")
        autoscaling = account.apply(lambda a: f"arn:{part}:iam::{a}:role/{AUTOSCALING_SERVICE_ROLE}")
        log_group_arn = account.apply(
            lambda a: f"arn:{part}:logs:{region}:{a}:log-group:{naming.log_group_name(cluster)}")
        s3_service = f"s3.{region}.{naming.dns_suffix(region)}"
        for_aws_resource = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
        creators = list(args.get("cluster_creator_arns") or [])

        def only(principals: Sequence[pulumi.Input[str]]) -> dict:
            return {"ArnEquals": {"aws:PrincipalArn": list(principals)}}

        statements: list[dict] = [
            {"Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": root},
             "Action": ADMIN_ACTIONS, "Resource": "*"},
            # CreateCluster with secrets encryption creates a grant as the deployer, and the EKS User Guide
            # says it does not support kms:GrantIsForAWSResource: the creator needs CreateGrant without it
            # (CREATE_CLUSTER_GRANT_SOURCE).
            {"Sid": "ClusterCreatorGrant", "Effect": "Allow", "Principal": {"AWS": root},
             "Action": ["kms:CreateGrant", "kms:DescribeKey"], "Resource": "*",
             **({"Condition": only(creators)} if creators else {})},
            {"Sid": "EksSecretsEncryption", "Effect": "Allow", "Principal": {"AWS": root},
             "Action": CLUSTER_ACTIONS, "Resource": "*", "Condition": only([args["cluster_role_arn"]])},
            # EC2 Auto Scaling launches the node groups' encrypted volumes as this service-linked role.
            {"Sid": "NodeVolumesViaAutoScaling", "Effect": "Allow", "Principal": {"AWS": autoscaling},
             "Action": USE_ACTIONS, "Resource": "*"},
            {"Sid": "NodeVolumeGrantsViaAutoScaling", "Effect": "Allow", "Principal": {"AWS": autoscaling},
             "Action": ["kms:CreateGrant"], "Resource": "*", "Condition": for_aws_resource},
            {"Sid": "ControlPlaneLogs", "Effect": "Allow",
             "Principal": {"Service": f"logs.{region}.{naming.dns_suffix(region)}"},
             "Action": USE_ACTIONS, "Resource": "*",
             "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn}}},
            {"Sid": "PersistentVolumesViaEbsCsi", "Effect": "Allow", "Principal": {"AWS": root},
             "Action": USE_ACTIONS, "Resource": "*", "Condition": only([args["ebs_csi_role_arn"]])},
            {"Sid": "PersistentVolumeGrantsViaEbsCsi", "Effect": "Allow", "Principal": {"AWS": root},
             "Action": GRANT_ACTIONS, "Resource": "*",
             "Condition": {**only([args["ebs_csi_role_arn"]]), **for_aws_resource}},
        ]
        models = list(args.get("model_role_arns") or [])
        if models:
            statements.append(
                {"Sid": "ModelWeightsDecryptViaS3", "Effect": "Allow", "Principal": {"AWS": root},
                 "Action": ["kms:Decrypt"], "Resource": "*",
                 "Condition": {**only(models), "StringEquals": {"kms:ViaService": s3_service}}})
        publishers = list(args.get("publisher_arns") or [])
        if publishers:
            statements.append(
                {"Sid": "ModelWeightsUploadViaS3", "Effect": "Allow", "Principal": {"AWS": root},
                 "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*",
                 "Condition": {**only(publishers), "StringEquals": {"kms:ViaService": s3_service}}})
        self.policy = document(statements)

        key = aws.kms.Key(
            f"{name}-key",
            description=f"llm-infra {cluster}: EKS secrets, node and model-cache volumes, control-plane logs, model weights",
            enable_key_rotation=True,
            deletion_window_in_days=window,
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            policy=self.policy,
            # The key must outlive every mistake: deleting it destroys all data it encrypts.
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )
        alias = aws.kms.Alias(f"{name}-alias", name=f"alias/{cluster}", target_key_id=key.key_id,
                              opts=pulumi.ResourceOptions(parent=self))
        self.key = key
        self.key_arn = key.arn
        self.key_id = key.key_id
        self.alias_name = alias.name
        self.register_outputs({"key_arn": self.key_arn, "key_id": self.key_id, "alias_name": self.alias_name,
                               "policy": self.policy})
