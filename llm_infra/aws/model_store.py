"""AwsModelStore: the S3 bucket that holds model weights, and one read-only IRSA role per model.

The bucket is named by the stack's `models[].weights_uri` (all models of an AWS stack
share it, each under its own prefix): SSE-KMS with the customer key and an S3 bucket key,
every public-access block on, ACLs disabled, versioning, and a bucket policy that refuses
plain HTTP and objects not encrypted with the key. `bind` gives a model's service account
a role that can list and read that model's prefix and decrypt through S3, nothing else.
"""

from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ..config import parse_weights_uri
from ..contract import ModelIdentityRequest, WorkloadIdentity
from . import naming
from .policy import document, irsa_trust, role_arn_after

ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


def model_read_statements(partition: str, bucket: str, prefix: str, key_arn: pulumi.Input[str],
                          region: str) -> list[dict]:
    """List and read one prefix, decrypt through S3 only."""
    return [
        {"Sid": "ListOwnPrefix", "Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": f"arn:{partition}:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/", f"{prefix}/*"]}}},
        {"Sid": "ReadOwnPrefix", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": f"arn:{partition}:s3:::{bucket}/{prefix}/*"},
        {"Sid": "DecryptViaS3", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key_arn,
         "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.{naming.dns_suffix(region)}"}}},
    ]


class AwsModelStoreArgs(TypedDict):
    bucket_name: str
    """Name of the bucket to create (from the models' `weights_uri`)."""
    key_arn: pulumi.Input[str]
    """Customer KMS key for SSE-KMS."""
    region: str
    """AWS region."""
    account_id: pulumi.Input[str]
    """AWS account of the model roles."""
    cluster_name: str
    """EKS cluster whose service accounts may read (names the model roles)."""
    oidc_provider_arn: pulumi.Input[str]
    """IAM OIDC provider of the cluster."""
    oidc_issuer: pulumi.Input[str]
    """OIDC issuer URL of the cluster."""
    models: Sequence[str]
    """Models that may be bound; the key policy lets exactly their roles decrypt."""
    aws_provider: NotRequired[aws.Provider]
    """AWS provider for the model roles, which live under the model workloads. Defaults to the inherited one."""
    force_destroy: NotRequired[bool]
    """Delete the bucket with its objects on `pulumi destroy`. Defaults to `False`: destroy fails while weights exist."""
    retain_data: NotRequired[bool]
    """Leave the bucket, its objects and its guards (encryption, public access block, TLS-only policy, versioning,
    ownership) in the account on `pulumi destroy`. Defaults to `True`."""


class AwsModelStore(pulumi.ComponentResource):
    """An encrypted, private, versioned, TLS-only S3 bucket for weights, and per-model read roles."""

    bucket_name: pulumi.Output[str]
    """Name of the model bucket."""
    bucket_arn: pulumi.Output[str]
    """ARN of the model bucket."""

    def __init__(self, name: str, args: AwsModelStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-infra:index:AwsModelStore", name, None, opts)
        # The data and what guards it outlive the stack unless the stack is told to delete them.
        child = pulumi.ResourceOptions(parent=self, retain_on_delete=args.get("retain_data", True))
        bucket_name = args["bucket_name"]
        region = args["region"]
        part = naming.partition(region)
        key_arn = args["key_arn"]
        bucket_arn = f"arn:{part}:s3:::{bucket_name}"
        tags = {"llm-infra.io/cluster": args["cluster_name"]}

        bucket = aws.s3.Bucket(f"{name}-bucket", bucket=bucket_name, force_destroy=args.get("force_destroy", False),
                               tags=tags, opts=child)
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"), opts=child)
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=key_arn),
                bucket_key_enabled=True,
            )],
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"), opts=child)
        deny = {"Effect": "Deny", "Principal": {"AWS": "*"}}
        self.policy = document([
            {"Sid": "DenyInsecureTransport", **deny, "Action": "s3:*", "Resource": [bucket_arn, f"{bucket_arn}/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "DenyObjectsNotEncryptedWithTheKey", **deny, "Action": "s3:PutObject",
             "Resource": f"{bucket_arn}/*",
             "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}}},
            {"Sid": "DenyOtherEncryption", **deny, "Action": "s3:PutObject", "Resource": f"{bucket_arn}/*",
             "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
        ])
        aws.s3.BucketPolicy(f"{name}-policy", bucket=bucket.id, policy=self.policy,
                            opts=child.merge(pulumi.ResourceOptions(depends_on=[block, ownership])))

        self._bucket = bucket_name
        self._partition = part
        self._region = region
        self._key_arn = key_arn
        self._cluster = args["cluster_name"]
        self._oidc_arn = args["oidc_provider_arn"]
        self._issuer = args["oidc_issuer"]
        self._models = set(args["models"])
        self._account = pulumi.Output.from_input(args["account_id"])
        self._provider = args.get("aws_provider")
        self._name = name
        self.roles: dict[str, aws.iam.Role] = {}
        self.bucket_name = bucket.bucket
        self.bucket_arn = pulumi.Output.from_input(bucket_arn)
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})

    def bind(self, request: ModelIdentityRequest, opts: pulumi.ResourceOptions) -> WorkloadIdentity:
        """One IRSA role for the model's service account: list and read its prefix, decrypt through S3."""
        if request.model not in self._models:
            raise ValueError(f"model {request.model!r}: expected one of the store's models {sorted(self._models)} "
                             "(the key policy lets only their roles decrypt)")
        scheme, bucket, prefix = parse_weights_uri(request.weights_uri)
        if scheme != "s3" or bucket != self._bucket or not prefix:
            raise ValueError(f"weights_uri of model {request.model!r}: expected s3://{self._bucket}/PREFIX, "
                             f"got {request.weights_uri!r}")
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(provider=self._provider))
        role = aws.iam.Role(
            f"{self._name}-{request.model}-role",
            name=naming.model_role_name(self._cluster, request.model),
            assume_role_policy=irsa_trust(self._oidc_arn, self._issuer, request.namespace, request.service_account),
            description=f"llm-infra model {request.model}: read s3://{bucket}/{prefix}/ only",
            tags={"llm-infra.io/cluster": self._cluster, "llm-infra.io/model": request.model},
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{self._name}-{request.model}-read",
            role=role.id, name="read-model-weights",
            policy=document(model_read_statements(self._partition, bucket, prefix, self._key_arn, self._region)),
            opts=child,
        )
        self.roles[request.model] = role
        role_name = naming.model_role_name(self._cluster, request.model)
        arn = role_arn_after(role, self._account.apply(lambda a: naming.role_arn(self._partition, a, role_name)))
        return WorkloadIdentity(
            service_account_annotations={ROLE_ANNOTATION: arn},
            description=f"{request.namespace}/{request.service_account} -> IAM role "
                        f"{naming.model_role_name(self._cluster, request.model)} (read s3://{bucket}/{prefix}/)",
        )
