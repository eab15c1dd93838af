"""AwsPlatformCluster: the whole AWS side of a stack, built from config, handing out the `ClusterContract`.

Order: explicit AWS provider (pinned to the configured account) -> network -> key ->
EKS cluster with its system nodes -> GPU pools -> cluster autoscaler -> model store.
Every IAM role name is fixed by the cluster name, so the key policy can name the roles
before they exist, and the plan shows real ARNs.
"""

from typing import TypedDict

import pulumi
import pulumi_aws as aws

from ..access import deployer_path
from ..config import AwsConfig, StackConfigSpec, cloud_stack_config, parse_weights_uri
from ..contract import ClusterContract
from ..guardrails import device_list_strategy
from . import naming
from .access import open_api_endpoint
from .cluster import EksCluster
from .cluster_autoscaler import AwsClusterAutoscaler
from .gpu_node_pool import GPU_POOL_LABEL, AwsGpuNodePool
from .key import AwsKey
from .model_store import AwsModelStore
from .network import AwsNetwork, AwsNetworkArgs


class AwsPlatformClusterArgs(TypedDict):
    config: StackConfigSpec
    """A whole stack config with `cloud: aws` (the fields of a stack's `llm-infra:*` keys), validated like one.
    Python programs may pass a validated `StackConfig`."""


class AwsPlatformCluster(pulumi.ComponentResource):
    """Network, key, private EKS cluster, GPU pools, autoscaler and model store of one environment."""

    cluster_name: pulumi.Output[str]
    """Name of the EKS cluster."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig of the cluster (`aws eks get-token` credential); a secret."""
    key_arn: pulumi.Output[str]
    """ARN of the customer KMS key."""
    model_bucket: pulumi.Output[str]
    """Name of the S3 bucket that holds the weights."""
    oidc_issuer: pulumi.Output[str]
    """OIDC issuer of the cluster (IRSA)."""

    def __init__(self, name: str, args: AwsPlatformClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        config = cloud_stack_config(args.get("config"), "aws")
        assert config.region is not None  # StackConfig requires a region on a cloud
        super().__init__("llm-infra:index:AwsPlatformCluster", name, None, opts)
        aws_config = config.aws or AwsConfig()
        region = config.region
        part = naming.partition(region)
        cluster_name = naming.cluster_name(config.environment)
        zones = aws_config.zones(region)

        provider = aws.Provider(
            f"{name}-aws", region=region,
            allowed_account_ids=[aws_config.account_id] if aws_config.account_id else None,
            default_tags=aws.ProviderDefaultTagsArgs(tags={
                "llm-infra.io/environment": config.environment, "llm-infra.io/managed-by": "pulumi"}),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        account: pulumi.Output[str] = (
            pulumi.Output.from_input(aws_config.account_id) if aws_config.account_id
            else aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider)).account_id
        )

        def role_arn(role_name: str) -> pulumi.Output[str]:
            return account.apply(lambda a: naming.role_arn(part, a, role_name))

        network_args: AwsNetworkArgs = {
            "cluster_name": cluster_name,
            "zones": zones,
            "vpc_cidr": aws_config.vpc_cidr,
            "single_nat_gateway": aws_config.single_nat_gateway,
        }
        if aws_config.vpc_id and aws_config.private_subnet_ids:  # the config holds them together
            network_args["existing_vpc_id"] = aws_config.vpc_id
            network_args["existing_private_subnet_ids"] = aws_config.private_subnet_ids
        network = AwsNetwork(f"{name}-network", network_args, opts=child)

        models = [m.name for m in config.models]
        key = AwsKey(f"{name}-key", {
            "account_id": account,
            "region": region,
            "cluster_name": cluster_name,
            "cluster_role_arn": role_arn(naming.role_name(cluster_name, "cluster")),
            "ebs_csi_role_arn": role_arn(naming.role_name(cluster_name, "ebs-csi")),
            "model_role_arns": [role_arn(naming.model_role_name(cluster_name, m)) for m in models],
            "publisher_arns": aws_config.model_publisher_arns,
            # The deployer is one of the admin principals (AwsConfig.admin_principal_arns says so).
            "cluster_creator_arns": aws_config.admin_principal_arns,
        }, opts=child)

        dedicated = config.isolation == "dedicated"
        tenancy = aws_config.dedicated_tenancy if dedicated else "default"
        host_group = aws_config.host_resource_group_arn if tenancy == "host" else None
        bottlerocket = aws_config.ami_type.startswith("BOTTLEROCKET")
        eks = EksCluster(f"{name}-eks", {
            "cluster_name": cluster_name,
            "region": region,
            "account_id": account,
            "key_arn": key.key_arn,
            "subnet_ids": network.private_subnet_ids,
            "kubernetes_version": aws_config.kubernetes_version,
            "public_access_cidrs": aws_config.public_access_cidrs,
            "admin_principal_arns": aws_config.admin_principal_arns,
            "log_retention_days": aws_config.log_retention_days,
            "system_instance_type": aws_config.system_instance_type,
            "system_nodes": aws_config.system_nodes,
            "ami_family": "BOTTLEROCKET" if bottlerocket else "AL2023",
            "tenancy": tenancy,
            "host_resource_group_arn": host_group,
            "deletion_protection": (config.production if config.teardown.cluster_deletion_protection is None
                                    else config.teardown.cluster_deletion_protection),
        }, opts=child)

        # The deployer's path to the private endpoint (docs/access.md).
        open_api_endpoint(f"{name}-api", eks.cluster, config.access.deployer_cidrs, child)
        self.deployer_access = deployer_path(config, "private EKS endpoint",
                                             "443 from each deployer network on the EKS cluster security group")

        self.pools: dict[str, AwsGpuNodePool] = {}
        for pool in config.gpu_pools:
            self.pools[pool.name] = AwsGpuNodePool(f"{name}-pool-{pool.name}", {
                "cluster_name": eks.cluster_name,
                "cluster_name_tag": cluster_name,
                "pool": pool.name,
                "gpu": pool.gpu,
                "gpus_per_node": pool.gpus_per_node,
                "instance_type": pool.instance_type,
                "min_nodes": pool.min_nodes,
                "max_nodes": pool.max_nodes,
                "spot": pool.spot,
                "subnet_ids": network.subnet_ids(pool.zones),
                "key_arn": key.key_arn,
                "region": region,
                "tenancy": tenancy,
                "host_resource_group_arn": host_group,
                "ami_type": aws_config.ami_type,
                "volume_size_gib": aws_config.node_volume_size_gib,
                "device_list_strategy": device_list_strategy(config) or "envvar",
            }, opts=child.merge(pulumi.ResourceOptions(depends_on=eks.before_nodes)))

        AwsClusterAutoscaler(f"{name}-autoscaler", {
            "cluster_name": cluster_name,
            "region": region,
            "account_id": account,
            "oidc_provider_arn": eks.oidc_provider_arn,
            "oidc_issuer": eks.oidc_issuer,
            "provider": eks.provider,
            "kubernetes_version": aws_config.kubernetes_version,
            "monitoring_namespace": config.monitoring.namespace,
        }, opts=child)

        bucket = parse_weights_uri(config.models[0].weights_uri)[1]
        store = AwsModelStore(f"{name}-models", {
            "bucket_name": bucket,
            "key_arn": key.key_arn,
            "region": region,
            "account_id": account,
            "cluster_name": cluster_name,
            "oidc_provider_arn": eks.oidc_provider_arn,
            "oidc_issuer": eks.oidc_issuer,
            "models": models,
            "aws_provider": provider,
            "retain_data": not config.teardown.delete_model_data, "force_destroy": config.teardown.delete_model_data,
        }, opts=child)

        self.provider = provider
        self.network = network
        self.key = key
        self.eks = eks
        self.model_store = store
        self.contract = ClusterContract(
            provider=eks.provider,
            storage_class=eks.storage_class,
            encryption_key=key.key_arn,
            manages_device_plugin=False,  # EKS leaves the NVIDIA device plugin to us
            bind_model_identity=store.bind,
            oidc_issuer=eks.oidc_issuer,
            metadata_identity_egress=False,
            zone_label="topology.kubernetes.io/zone",
            gpu_pool_label=GPU_POOL_LABEL,
        )
        self.cluster_name = eks.cluster_name
        self.kubeconfig = eks.kubeconfig
        self.key_arn = key.key_arn
        self.model_bucket = store.bucket_name
        self.oidc_issuer = eks.oidc_issuer
        self.register_outputs({"cluster_name": self.cluster_name, "kubeconfig": self.kubeconfig,
                               "key_arn": self.key_arn, "model_bucket": self.model_bucket,
                               "oidc_issuer": self.oidc_issuer})

    def stack_outputs(self) -> dict[str, pulumi.Output]:
        """What a stack should export: the kubeconfig (secret) and the names users need."""
        return {"kubeconfig": pulumi.Output.secret(self.kubeconfig), "cluster_name": self.cluster_name,
                "model_bucket": self.model_bucket, "kms_key_arn": self.key_arn,
                "deployer_access": pulumi.Output.from_input(self.deployer_access)}
