"""The launch template every llm-infra EKS node group uses (a helper, not a component).

IMDSv2 only with a hop limit of 1 (pods cannot reach the node's credentials through the
metadata service), every volume gp3 and encrypted with the customer key, no key pair,
no public IP, and the tenancy that the stack's isolation asks for.
"""

import pulumi
import pulumi_aws as aws

# AL2023 boots from one volume; Bottlerocket keeps its OS on xvda and everything else on xvdb.
from ..config.aws import BOTTLEROCKET_OS_VOLUME_GIB  # noqa: F401 (its home is the AWS settings, which price it)


def node_launch_template(
    name: str,
    *,
    key_arn: pulumi.Input[str],
    ami_type: str,
    volume_size_gib: int,
    tenancy: str,
    host_resource_group_arn: str | None,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    user_data: str | None = None,
) -> aws.ec2.LaunchTemplate:
    """`tenancy` is `default`, `dedicated` or `host` (with `host_resource_group_arn`); `user_data` is base64
    MIME multi-part (EKS adds its own nodeadm part)."""
    if tenancy not in ("default", "dedicated", "host"):
        raise ValueError(f"tenancy: expected 'default', 'dedicated' or 'host', got {tenancy!r}")
    if (tenancy == "host") != bool(host_resource_group_arn):
        raise ValueError("host_resource_group_arn: expected exactly with tenancy 'host'")

    def volume(device: str, size: int) -> aws.ec2.LaunchTemplateBlockDeviceMappingArgs:
        return aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
            device_name=device,
            ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                volume_type="gp3", volume_size=size, encrypted="true", kms_key_id=key_arn,
                delete_on_termination="true",
            ),
        )

    if ami_type.startswith("BOTTLEROCKET"):
        volumes = [volume("/dev/xvda", BOTTLEROCKET_OS_VOLUME_GIB), volume("/dev/xvdb", volume_size_gib)]
    else:
        volumes = [volume("/dev/xvda", volume_size_gib)]
    placement = None
    if tenancy != "default":
        placement = aws.ec2.LaunchTemplatePlacementArgs(tenancy=tenancy, host_resource_group_arn=host_resource_group_arn)
    instance_tags = {k: v for k, v in tags.items() if not k.startswith("k8s.io/cluster-autoscaler")}
    return aws.ec2.LaunchTemplate(
        name,
        description="llm-infra EKS node: IMDSv2 hop limit 1, volumes encrypted with the stack key",
        update_default_version=True,
        block_device_mappings=volumes,
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            http_put_response_hop_limit=1,
            instance_metadata_tags="disabled",
        ),
        placement=placement,
        user_data=user_data,
        monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="instance", tags=instance_tags),
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="volume", tags=instance_tags),
        ],
        tags=tags,
        opts=opts,
    )


def node_role(name: str, *, role_name: str, partition: str, tags: dict[str, str],
              opts: pulumi.ResourceOptions) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """A node role with only the worker-node and ECR read-only policies (the CNI policy is on the vpc-cni IRSA role)."""
    from .policy import managed_policy_arn, service_trust

    role = aws.iam.Role(name, name=role_name, assume_role_policy=service_trust("ec2.amazonaws.com"),
                        description="llm-infra EKS node: worker and ECR read-only only", tags=tags, opts=opts)
    attachments = [
        aws.iam.RolePolicyAttachment(f"{name}-{policy}", role=role.name,
                                     policy_arn=managed_policy_arn(partition, policy), opts=opts)
        for policy in NODE_POLICIES
    ]
    return role, attachments


NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly")
