"""Sourced facts about EC2 and EKS that llm-infra's checks and defaults rest on.

Pure Python (config validation imports it). Every row names where it was read and when
(`llm_infra.facts.Source`); a check that needs a fact with no row here refuses the config
rather than guessing. Rows: instance shapes (vCPUs, memory, the AMI's max pods), which
families run as Dedicated Instances and which sizes as Dedicated Spot, the EKS AMI's node
reservations, and gp3 volume performance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..facts import Allocatable, Source, tiered_cpu_reserve_millicores

INSTANCE_TYPES_SOURCE = Source(
    "https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html",
    "Accelerated computing instance specifications: vCPUs and memory (GiB) per instance type.")
MAX_PODS_SOURCE = Source(
    "https://github.com/awslabs/amazon-eks-ami/blob/main/nodeadm/internal/kubelet/eni-max-pods.txt",
    "max pods per instance type = ENIs x (IPv4 addresses per ENI - 1) + 2; nodeadm sizes kube-reserved "
    "memory from this value (GetClassicMaxPods).")


@dataclass(frozen=True)
class InstanceShape:
    """What the kubelet of one EC2 instance type starts from."""

    vcpus: int
    memory_gib: int
    eni_max_pods: int
    """The AMI's max pods for the type (MAX_PODS_SOURCE)."""


# Every GPU type of `instance_types.GPU_INSTANCE_TYPES` (a test holds the two lists together).
INSTANCE_SHAPES: dict[str, InstanceShape] = {
    "g4dn.xlarge": InstanceShape(4, 16, 29),
    "g4dn.2xlarge": InstanceShape(8, 32, 29),
    "g4dn.12xlarge": InstanceShape(48, 192, 234),
    "g4dn.metal": InstanceShape(96, 384, 737),
    "g5.xlarge": InstanceShape(4, 16, 58),
    "g5.2xlarge": InstanceShape(8, 32, 58),
    "g5.12xlarge": InstanceShape(48, 192, 737),
    "g5.48xlarge": InstanceShape(192, 768, 345),
    "g6.xlarge": InstanceShape(4, 16, 58),
    "g6.2xlarge": InstanceShape(8, 32, 58),
    "g6.12xlarge": InstanceShape(48, 192, 234),
    "g6.48xlarge": InstanceShape(192, 768, 737),
    "g6e.xlarge": InstanceShape(4, 32, 58),
    "g6e.2xlarge": InstanceShape(8, 64, 58),
    "g6e.12xlarge": InstanceShape(48, 384, 292),
    "g6e.48xlarge": InstanceShape(192, 1536, 492),
    "p4d.24xlarge": InstanceShape(96, 1152, 737),
    "p4de.24xlarge": InstanceShape(96, 1152, 737),
    "p5.48xlarge": InstanceShape(192, 2048, 100),
    "p5en.48xlarge": InstanceShape(192, 2048, 198),
}

# --- tenancy ------------------------------------------------------------------------------

DEDICATED_INSTANCES_SOURCE = Source(
    "https://aws.amazon.com/ec2/pricing/dedicated-instances/",
    "Dedicated Instances price list: the instance types offered with tenancy 'dedicated' (the EC2 User Guide, "
    "Dedicated Instances limitations, refers here: 'Some instance types can't be launched into a VPC with the "
    "instance tenancy set to dedicated').")
# Families whose GPU sizes the Dedicated Instances price list offers. p4de and p5en: not found
# there, so `isolation: dedicated` refuses them until a row says otherwise.
DEDICATED_INSTANCE_FAMILIES: frozenset[str] = frozenset({"g4dn", "g5", "g6", "g6e", "p4d", "p5"})

DEDICATED_SPOT_SOURCE = Source(
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-requests.html",
    "Spot Instance requests, tenancy: 'All instance families support Dedicated Spot Instances except T "
    "instances. For each supported instance family, only the largest instance size or metal size supports "
    "Dedicated Spot Instances.'")
# The largest and metal sizes of each family, from INSTANCE_TYPES_SOURCE.
LARGEST_SIZES: dict[str, tuple[str, ...]] = {
    "g4dn": ("16xlarge", "metal"), "g5": ("48xlarge",), "g6": ("48xlarge",), "g6e": ("48xlarge",),
    "p4d": ("24xlarge",), "p4de": ("24xlarge",), "p5": ("48xlarge",), "p5en": ("48xlarge",),
}
HOST_SPOT_SOURCE = Source(
    "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SpotPlacement.html",
    "SpotPlacement.Tenancy: 'The host tenancy is not supported for Spot Instances.'")


def family(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def dedicated_spot_sizes(instance_type: str) -> list[str] | None:
    """The sizes of the type's family that run as Dedicated Spot, or None where no row covers the family."""
    sizes = LARGEST_SIZES.get(family(instance_type))
    if sizes is None:
        return None
    return [f"{family(instance_type)}.{size}" for size in sizes]


def tenancy_problem(instance_type: str, *, tenancy: str, spot: bool) -> tuple[str, str] | None:
    """(field, problem) when EC2 does not offer `instance_type` with this tenancy and capacity type."""
    if tenancy == "default":
        return None
    if tenancy == "host":
        if spot:
            return "spot", ("expected false: EC2 runs no Spot Instances on Dedicated Hosts (aws.dedicated_tenancy "
                            f"'host'; {HOST_SPOT_SOURCE.url}), got true")
        return None
    if family(instance_type) not in DEDICATED_INSTANCE_FAMILIES:
        return "instance_type", (f"expected an instance type offered as a Dedicated Instance (families "
                                 f"{sorted(DEDICATED_INSTANCE_FAMILIES)}; {DEDICATED_INSTANCES_SOURCE.url}), "
                                 f"got {instance_type!r}")
    if spot:
        sizes = dedicated_spot_sizes(instance_type)
        if sizes is None or instance_type not in sizes:
            offered = f" ({' or '.join(sizes)})" if sizes else ""
            return "spot", (f"expected false or the largest size of the family{offered}: EC2 offers Dedicated "
                            f"Spot Instances only on the largest or metal size of a family "
                            f"({DEDICATED_SPOT_SOURCE.url}), got spot with dedicated {instance_type!r}")
    return None


# --- node allocatable (EKS-optimized AL2023 and Bottlerocket AMIs) --------------------------

KUBE_RESERVED_SOURCE = Source(
    "https://github.com/awslabs/amazon-eks-ami/blob/main/nodeadm/internal/kubelet/config.go",
    "nodeadm: kubeReserved memory = 11 x maxPods + 255 MiB; cpu = 6% of the first core, 1% of the second, 0.5% "
    "of cores 3-4, 0.25% above 4; ephemeral-storage 1Gi; evictionHard memory.available 100Mi, "
    "nodefs.available 10%.")
VM_OVERHEAD_SOURCE = Source(
    "https://karpenter.sh/docs/reference/settings/",
    "VM_MEMORY_OVERHEAD_PERCENT defaults to 0.075: the share of an instance type's memory the hypervisor and "
    "kernel keep, so the kubelet's memory capacity is below the nominal size.")
VM_MEMORY_OVERHEAD = 0.075
EVICTION_MEMORY_MIB = 100
EVICTION_NODEFS = 0.10
KUBE_RESERVED_EPHEMERAL_GIB = 1


def node_allocatable(instance_type: str, volume_gib: int) -> Allocatable | None:
    """The kubelet's allocatable on an EKS node of this type, or None where no row covers the type."""
    shape = INSTANCE_SHAPES.get(instance_type)
    if shape is None:
        return None
    return shape_allocatable(instance_type, shape.vcpus, shape.memory_gib, shape.eni_max_pods, volume_gib)


def shape_allocatable(name: str, vcpus: int, memory_gib: float, max_pods: int, volume_gib: int) -> Allocatable:
    """The kubelet's allocatable on an EKS node with these vCPUs, memory, max pods and root volume."""
    cpu = vcpus * 1000 - tiered_cpu_reserve_millicores(vcpus)
    capacity_mib = math.floor(memory_gib * 1024 * (1 - VM_MEMORY_OVERHEAD))
    reserved_mib = 11 * max_pods + 255
    memory = capacity_mib - reserved_mib - EVICTION_MEMORY_MIB
    ephemeral = volume_gib * (1 - EVICTION_NODEFS) - KUBE_RESERVED_EPHEMERAL_GIB
    how = (f"{name}: {vcpus} vCPU, {memory_gib:g} GiB less {VM_MEMORY_OVERHEAD:.1%} VM overhead, "
           f"kube-reserved 11 x {max_pods} pods + 255 MiB, eviction {EVICTION_MEMORY_MIB} MiB")
    return Allocatable(cpu, memory, ephemeral, how)


# --- EBS gp3 (model caches) -----------------------------------------------------------------

GP3_SOURCE = Source(
    "https://docs.aws.amazon.com/ebs/latest/userguide/general-purpose.html",
    "gp3: baseline 3,000 IOPS and 125 MiB/s at any size; throughput can be provisioned up to 1,000 MiB/s at "
    "0.25 MiB/s per provisioned IOPS; IOPS up to 16,000 at 500 per GiB.")
GP3_BASELINE_MIB_S = 125
GP3_MAX_MIB_S = 1000
GP3_MIB_S_PER_IOPS = 0.25
GP3_BASELINE_IOPS = 3000


def gp3_iops_for(throughput_mib_s: int) -> int:
    """The IOPS a gp3 volume needs to be allowed `throughput_mib_s` (at least the free baseline)."""
    return max(GP3_BASELINE_IOPS, math.ceil(throughput_mib_s / GP3_MIB_S_PER_IOPS))


# --- KMS key policy for EKS secrets encryption ----------------------------------------------

CREATE_CLUSTER_GRANT_SOURCE = Source(
    "https://docs.aws.amazon.com/eks/latest/userguide/create-cluster.html",
    "Secrets encryption: make sure kms:DescribeKey and kms:CreateGrant are permitted on the key policy for the "
    "principal that calls create-cluster; Amazon EKS does not support the key policy condition "
    "kms:GrantIsForAWSResource, and creating a cluster will not work if it is in the key policy statement.")


# --- what EKS leaves to us -------------------------------------------------------------------

MANAGES_DEVICE_PLUGIN = False
"""EKS does not run the NVIDIA device plugin on managed node groups: the stack deploys it."""
MANAGES_GPU_METRICS = False
"""EKS collects no DCGM metrics: the stack deploys the exporter."""

# --- GPU node runtime: how a pod gets only its GPUs -----------------------------------------

GPU_NODE_RUNTIME_SOURCES = (
    Source("https://github.com/awslabs/amazon-eks-ami/blob/81fec2e/templates/al2023/provisioners/install-nvidia-driver.sh",
           "AL2023 NVIDIA AMI: `dnf -y install nvidia-container-toolkit` (unpinned: the NVIDIA repository's "
           "release at build time); nodeadm makes /usr/bin/nvidia-container-runtime containerd's runtime "
           "(nodeadm/internal/containerd/runtime_config_nvidia.go)."),
    Source("https://github.com/awslabs/amazon-eks-ami/blob/81fec2e/nodeadm/internal/containerd/config.go",
           "`EnableCDI: semver.Compare(KubeletVersion, \"v1.32.0\") >= 0`: containerd's CDI is on from Kubernetes 1.32 "
           "(nodeadm/doc/api-concepts.md: 'Enable CDI in the default containerd configuration | 1.32')."),
    Source("https://github.com/awslabs/amazon-eks-ami/blob/81fec2e/templates/al2023/runtime/rootfs/etc/systemd/system/nodeadm-run.service",
           "nodeadm-run (which starts containerd and the kubelet) runs `After=... cloud-final.service`: a user-data "
           "shell script runs before the first container (nodeadm-config.service: 'run before cloud-init, then user "
           "can still execute their own workflows from ec2 userdata cloud-init scripts')."),
    Source("https://github.com/NVIDIA/nvidia-container-toolkit/blob/v1.20.0/api/config/v1/toml.go",
           "Toolkit defaults: accept-nvidia-visible-devices-envvar-when-unprivileged = true, "
           "accept-nvidia-visible-devices-as-volume-mounts = false; `nvidia-ctk config --in-place --set key=value` "
           "exists since v1.14.0 (CHANGELOG.md). internal/config/image/cuda_image.go@v1.20.0 `VisibleDevices`: mounts "
           "first when accepted, the env var only for privileged containers or when accepted."),
)
# Device list strategy per EKS node AMI family. AL2023: `volume-mounts`, with the toolkit settings written
# by the launch template's user data before containerd starts (`llm_infra.aws.node_bootstrap`).
# Bottlerocket: settings are TOML through its API, not a shell; no row read for its toolkit, so `envvar`.
DEVICE_LIST_STRATEGY_BY_AMI: dict[str, str] = {
    "AL2023_x86_64_NVIDIA": "volume-mounts",
    "BOTTLEROCKET_x86_64_NVIDIA": "envvar",
}
