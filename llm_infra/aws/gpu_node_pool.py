"""AwsGpuNodePool: one EKS managed node group of identical GPU nodes.

Tainted `nvidia.com/gpu=true:NoSchedule` so that only GPU workloads land there, labelled
with its pool name (Triton pods select it), spot or on-demand, scaling between
`min_nodes` (may be 0) and `max_nodes`. The cluster autoscaler's node-template tags let it
scale a pool up from zero: they sit on the node group and, since EKS does not copy node
group tags to the Auto Scaling group, on the Auto Scaling group itself.
"""

from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ..contract import DEFAULT_GPU_POOL_LABEL as GPU_POOL_LABEL
from ..contract import GPU_TAINT_KEY
from . import naming
from ..catalog.aws import default_instance_type
from ..device_list import DEVICE_LIST_STRATEGIES
from ..catalog.aws_facts import DEVICE_LIST_STRATEGY_BY_AMI
from .launch_template import node_launch_template, node_role
from .node_bootstrap import gpu_isolation_user_data

NVIDIA_AMI_TYPES = ("AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA")


def autoscaler_tags(cluster_name: str, pool: str, gpus_per_node: int, gpu: str) -> dict[str, str]:
    """Auto-discovery and scale-from-zero node-template tags of the cluster autoscaler (AWS provider)."""
    template = "k8s.io/cluster-autoscaler/node-template"
    return {
        "k8s.io/cluster-autoscaler/enabled": "true",
        f"k8s.io/cluster-autoscaler/{cluster_name}": "owned",
        f"{template}/resources/{GPU_TAINT_KEY}": str(gpus_per_node),
        f"{template}/taint/{GPU_TAINT_KEY}": "true:NoSchedule",
        f"{template}/label/{GPU_POOL_LABEL}": pool,
        f"{template}/label/llm-infra.io/gpu": gpu,
    }


class AwsGpuNodePoolArgs(TypedDict):
    cluster_name: pulumi.Input[str]
    """Name of the EKS cluster that owns the pool."""
    pool: str
    """Pool name (a DNS label): the value of the `llm-infra.io/gpu-pool` node label."""
    gpu: str
    """GPU model, e.g. `nvidia-l4`."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Private subnets to launch nodes in."""
    key_arn: pulumi.Input[str]
    """Customer KMS key for the node volumes."""
    region: str
    """AWS region (for the partition of managed policy ARNs)."""
    gpus_per_node: NotRequired[int]
    """GPUs per node. Defaults to 1."""
    instance_type: NotRequired[str | None]
    """EC2 instance type. Defaults to the smallest known type with `gpus_per_node` GPUs of `gpu` (see `instance_types`)."""
    min_nodes: NotRequired[int]
    """Minimum nodes (0 lets the pool scale to zero). Defaults to 0."""
    max_nodes: NotRequired[int]
    """Maximum nodes. Defaults to 2."""
    spot: NotRequired[bool]
    """Spot capacity. Defaults to `False` (on-demand)."""
    tenancy: NotRequired[str]
    """`default`, `dedicated` or `host`. Defaults to `dedicated`."""
    host_resource_group_arn: NotRequired[str | None]
    """Host resource group for tenancy `host`. Defaults to none."""
    ami_type: NotRequired[str]
    """`AL2023_x86_64_NVIDIA` or `BOTTLEROCKET_x86_64_NVIDIA`. Defaults to `AL2023_x86_64_NVIDIA`."""
    volume_size_gib: NotRequired[int]
    """Size of the node's (data) volume. Defaults to 200."""
    device_list_strategy: NotRequired[str]
    """The device plugin's strategy: `volume-mounts` writes the NVIDIA toolkit settings it needs into the
    nodes' user data (AL2023 only); `envvar` leaves the toolkit as the AMI ships it. Defaults to
    `catalog.aws_facts.DEVICE_LIST_STRATEGY_BY_AMI` for the AMI type."""
    cluster_name_tag: NotRequired[str]
    """Plain cluster name for the autoscaler tags when `cluster_name` is an Output. Defaults to `cluster_name`."""


class AwsGpuNodePool(pulumi.ComponentResource):
    """A GPU-only managed node group: tainted, labelled, encrypted volumes, IMDSv2, least-privilege role."""

    node_group_name: pulumi.Output[str]
    """Name of the EKS managed node group."""
    instance_type: pulumi.Output[str]
    """EC2 instance type of the nodes."""
    node_role_arn: pulumi.Output[str]
    """The nodes' IAM role."""

    def __init__(self, name: str, args: AwsGpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        gpus = args.get("gpus_per_node", 1)
        instance_type = args.get("instance_type") or default_instance_type(args["gpu"], gpus)
        if instance_type is None:
            raise ValueError(f"instance_type: expected an EC2 instance type: no known {args['gpu']} type has "
                             f"{gpus} GPUs, got nothing")
        ami_type = args.get("ami_type", "AL2023_x86_64_NVIDIA")
        if ami_type not in NVIDIA_AMI_TYPES:
            raise ValueError(f"ami_type: expected one of {list(NVIDIA_AMI_TYPES)}, got {ami_type!r}")
        strategy = args.get("device_list_strategy", DEVICE_LIST_STRATEGY_BY_AMI[ami_type])
        if strategy not in DEVICE_LIST_STRATEGIES or (strategy == "volume-mounts" and ami_type.startswith("BOTTLEROCKET")):
            raise ValueError(f"device_list_strategy: expected 'envvar' or, on AL2023 nodes, 'volume-mounts', got {strategy!r}")
        tenancy = args.get("tenancy", "dedicated")
        spot = args.get("spot", False)
        if spot and tenancy == "host":
            raise ValueError("spot: EC2 runs no Spot Instances on Dedicated Hosts (tenancy 'host')")
        min_nodes, max_nodes = args.get("min_nodes", 0), args.get("max_nodes", 2)
        if not 0 <= min_nodes <= max_nodes or max_nodes < 1:
            raise ValueError(f"max_nodes: expected >= max(1, min_nodes {min_nodes}), got {max_nodes}")
        super().__init__("llm-infra:index:AwsGpuNodePool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        pool = args["pool"]
        cluster_tag = args.get("cluster_name_tag") or str(args["cluster_name"])
        part = naming.partition(args["region"])
        tags = {"llm-infra.io/cluster": cluster_tag, GPU_POOL_LABEL: pool}
        ca_tags = autoscaler_tags(cluster_tag, pool, gpus, args["gpu"])

        role, attachments = node_role(f"{name}-node-role", role_name=naming.role_name(cluster_tag, f"{pool}-node"),
                                      partition=part, tags=tags, opts=child)
        template = node_launch_template(
            f"{name}-lt", key_arn=args["key_arn"], ami_type=ami_type, volume_size_gib=args.get("volume_size_gib", 200),
            tenancy=tenancy, host_resource_group_arn=args.get("host_resource_group_arn"),
            tags={**tags, "Name": f"{cluster_tag}-{pool}"}, opts=child,
            user_data=gpu_isolation_user_data() if strategy == "volume-mounts" else None,
        )
        node_group = aws.eks.NodeGroup(
            f"{name}-node-group",
            cluster_name=args["cluster_name"],
            node_group_name=naming.fit(f"{cluster_tag}-{pool}", 63),
            node_role_arn=role.arn,
            subnet_ids=args["subnet_ids"],
            ami_type=ami_type,
            capacity_type="SPOT" if spot else "ON_DEMAND",
            instance_types=[instance_type],
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=min_nodes, max_size=max_nodes,
                                                             desired_size=min_nodes),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=template.id, version=template.latest_version),
            labels={GPU_POOL_LABEL: pool, "llm-infra.io/gpu": args["gpu"]},
            taints=[aws.eks.NodeGroupTaintArgs(key=GPU_TAINT_KEY, value="true", effect="NO_SCHEDULE")],
            tags={**tags, **ca_tags},
            # The cluster autoscaler owns the desired size once the group exists.
            opts=child.merge(pulumi.ResourceOptions(depends_on=attachments,
                                                    ignore_changes=["scalingConfig.desiredSize"])),
        )
        asg_name = node_group.resources.apply(
            lambda rs: (rs[0].autoscaling_groups[0].name if rs and rs[0].autoscaling_groups else None))
        template_prefix = "k8s.io/cluster-autoscaler/node-template/"
        for key, value in ca_tags.items():
            if not key.startswith(template_prefix):
                continue  # EKS puts the auto-discovery tags on the Auto Scaling group itself
            short = key.removeprefix(template_prefix).replace("/", "-").replace(".", "-")
            aws.autoscaling.Tag(
                f"{name}-asg-{short}", autoscaling_group_name=asg_name,
                tag=aws.autoscaling.TagTagArgs(key=key, value=value, propagate_at_launch=False), opts=child,
            )

        self.node_group = node_group
        self.launch_template = template
        self.node_group_name = node_group.node_group_name
        self.instance_type = pulumi.Output.from_input(instance_type)
        self.node_role_arn = role.arn
        self.register_outputs({"node_group_name": self.node_group_name, "instance_type": self.instance_type,
                               "node_role_arn": self.node_role_arn})
