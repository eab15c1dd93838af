"""AwsClusterAutoscaler: the Kubernetes cluster autoscaler for this cluster's node groups, with its own IRSA role.

Typed objects (not a Helm chart), following the upstream AWS auto-discovery manifest
(kubernetes/autoscaler, cluster-autoscaler/cloudprovider/aws/examples) and tightened:
non-root, read-only root filesystem, no capabilities, probes, a NetworkPolicy, and an
IAM policy whose only write actions are conditioned on this cluster's ASG tag.
"""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from .. import versions
from ..checkov import checkov_skips
from . import naming
from .policy import document, irsa_trust, role_arn_after

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "cluster-autoscaler"
METRICS_PORT = 8085
# Describe* calls of Auto Scaling and EC2 have no resource-level permissions: they take "*".
DESCRIBE_ACTIONS = [
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
]
WRITE_ACTIONS = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]


def autoscaler_policy(partition: str, region: str, account: str, cluster_name: str) -> dict:
    """The IAM policy: reads where AWS offers no resource scoping, writes only on this cluster's ASGs."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Describe", "Effect": "Allow", "Action": DESCRIBE_ACTIONS, "Resource": "*"},
        {"Sid": "DescribeOwnNodegroups", "Effect": "Allow", "Action": ["eks:DescribeNodegroup"],
         "Resource": f"arn:{partition}:eks:{region}:{account}:nodegroup/{cluster_name}/*/*"},
        {"Sid": "ScaleOwnNodeGroups", "Effect": "Allow", "Action": WRITE_ACTIONS,
         "Resource": f"arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/*",
         "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}}},
    ]}


class AwsClusterAutoscalerArgs(TypedDict):
    cluster_name: str
    """Name of the EKS cluster whose node groups (tagged `k8s.io/cluster-autoscaler/<name>`) it scales."""
    region: str
    """AWS region."""
    account_id: pulumi.Input[str]
    """AWS account (for the ARNs in the IAM policy)."""
    oidc_provider_arn: pulumi.Input[str]
    """IAM OIDC provider of the cluster (IRSA)."""
    oidc_issuer: pulumi.Input[str]
    """OIDC issuer URL of the cluster."""
    provider: k8s.Provider
    """Explicit Kubernetes provider of the cluster."""
    kubernetes_version: NotRequired[str]
    """Cluster minor version; picks the matching autoscaler image. Defaults to `versions.EKS_KUBERNETES_VERSION`."""
    image: NotRequired[str]
    """Autoscaler image. Defaults to the one in `versions.CLUSTER_AUTOSCALER_IMAGES` for the cluster version."""
    node_selector: NotRequired[dict[str, str]]
    """Where the autoscaler runs. Defaults to the system nodes (`llm-infra.io/node-role: system`)."""
    monitoring_namespace: NotRequired[str]
    """Namespace allowed to scrape its metrics. Defaults to `monitoring`."""


class AwsClusterAutoscaler(pulumi.ComponentResource):
    """The cluster autoscaler (auto-discovery of this cluster's node groups) and its IRSA role."""

    role_arn: pulumi.Output[str]
    """The autoscaler's IRSA role."""
    deployment_name: pulumi.Output[str]
    """Name of the Deployment in `kube-system`."""

    def __init__(self, name: str, args: AwsClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        version = args.get("kubernetes_version", versions.EKS_KUBERNETES_VERSION)
        image = args.get("image") or versions.CLUSTER_AUTOSCALER_IMAGES.get(version)
        if image is None:
            raise ValueError(f"kubernetes_version: expected one of {sorted(versions.CLUSTER_AUTOSCALER_IMAGES)} "
                             f"(or an image), got {version!r}")
        super().__init__("llm-infra:index:AwsClusterAutoscaler", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kube = pulumi.ResourceOptions(parent=self, provider=args["provider"])
        cluster = args["cluster_name"]
        region = args["region"]
        part = naming.partition(region)

        role_name = naming.role_name(cluster, "cluster-autoscaler")
        role = aws.iam.Role(
            f"{name}-role", name=role_name,
            assume_role_policy=irsa_trust(args["oidc_provider_arn"], args["oidc_issuer"], NAMESPACE, SERVICE_ACCOUNT),
            description="llm-infra cluster autoscaler (IRSA)", tags={"llm-infra.io/cluster": cluster}, opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy", role=role.id, name="scale-own-node-groups",
            policy=document(pulumi.Output.from_input(args["account_id"]).apply(
                lambda a: autoscaler_policy(part, region, a, cluster)["Statement"])),
            opts=child,
        )

        labels = {"app.kubernetes.io/name": "cluster-autoscaler", "app.kubernetes.io/part-of": "llm-infra"}
        selector = {"app.kubernetes.io/name": "cluster-autoscaler"}
        sa = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVICE_ACCOUNT, namespace=NAMESPACE, labels=labels,
                                                annotations={"eks.amazonaws.com/role-arn": role_arn_after(
                                                    role, pulumi.Output.from_input(args["account_id"]).apply(
                                                        lambda a: naming.role_arn(part, a, role_name)))}),
            opts=kube,
        )
        cluster_role = k8s.rbac.v1.ClusterRole(
            f"{name}-cluster-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="cluster-autoscaler", labels=labels),
            rules=[
                {"apiGroups": [""], "resources": ["events", "endpoints"], "verbs": ["create", "patch"]},
                {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
                {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["update"]},
                {"apiGroups": [""], "resources": ["endpoints"], "resourceNames": ["cluster-autoscaler"],
                 "verbs": ["get", "update"]},
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["watch", "list", "get", "update"]},
                {"apiGroups": [""], "resources": ["namespaces", "pods", "services", "replicationcontrollers",
                                                  "persistentvolumeclaims", "persistentvolumes"],
                 "verbs": ["watch", "list", "get"]},
                {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["watch", "list", "get"]},
                {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["watch", "list"]},
                {"apiGroups": ["apps"], "resources": ["statefulsets", "replicasets", "daemonsets"],
                 "verbs": ["watch", "list", "get"]},
                {"apiGroups": ["storage.k8s.io"],
                 "resources": ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities", "volumeattachments"],
                 "verbs": ["watch", "list", "get"]},
                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["cluster-autoscaler"],
                 "verbs": ["get", "update"]},
            ],
            opts=kube,
        )
        role_ns = k8s.rbac.v1.Role(
            f"{name}-role-kube-system",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="cluster-autoscaler", namespace=NAMESPACE, labels=labels),
            rules=[
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "list", "watch"]},
                {"apiGroups": [""], "resources": ["configmaps"],
                 "resourceNames": ["cluster-autoscaler-status", "cluster-autoscaler-priority-expander"],
                 "verbs": ["delete", "get", "update", "watch"]},
            ],
            opts=kube,
        )
        subjects = [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}]
        crb = k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-cluster-role-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="cluster-autoscaler", labels=labels),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-autoscaler"},
            subjects=subjects, opts=kube,
        )
        rb = k8s.rbac.v1.RoleBinding(
            f"{name}-role-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="cluster-autoscaler", namespace=NAMESPACE, labels=labels),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cluster-autoscaler"},
            subjects=subjects, opts=kube,
        )
        probe = {"httpGet": {"path": "/health-check", "port": METRICS_PORT}, "periodSeconds": 10,
                 "timeoutSeconds": 5, "failureThreshold": 3}
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="cluster-autoscaler", namespace=NAMESPACE, labels=labels,
                annotations=checkov_skips({
                    "CKV_K8S_38": "the autoscaler reads pods and nodes and scales through the Kubernetes API: "
                                  "it needs its service account token",
                    "CKV_K8S_43": "pinned to an immutable release tag in llm_infra.versions; override image with "
                                  "a digest where the registry mirror publishes one",
                }),
            ),
            spec={
                # One active instance: the autoscaler is a singleton (leader election guards restarts).
                "replicas": 1,
                "selector": {"matchLabels": selector},
                "strategy": {"type": "Recreate"},
                "template": {
                    "metadata": {"labels": labels,
                                 "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT)}},
                    "spec": {
                        "serviceAccountName": SERVICE_ACCOUNT,
                        "priorityClassName": "system-cluster-critical",
                        "nodeSelector": args.get("node_selector") or {"llm-infra.io/node-role": "system"},
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                                            "fsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
                        "containers": [{
                            "name": "cluster-autoscaler",
                            "image": image,
                            "imagePullPolicy": "Always",
                            "command": [
                                "./cluster-autoscaler",
                                "--cloud-provider=aws",
                                f"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
                                f"k8s.io/cluster-autoscaler/{cluster}",
                                "--balance-similar-node-groups",
                                "--expander=least-waste",
                                # Triton pods keep /dev/shm in an emptyDir: that must not pin GPU nodes forever.
                                "--skip-nodes-with-local-storage=false",
                                "--scale-down-unneeded-time=10m",
                                "--stderrthreshold=info",
                                "--v=2",
                            ],
                            "env": [{"name": "AWS_REGION", "value": region}],
                            "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
                            "livenessProbe": probe,
                            "readinessProbe": probe,
                            "resources": {"requests": {"cpu": "100m", "memory": "600Mi"},
                                          "limits": {"cpu": "1", "memory": "600Mi"}},
                            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                "runAsNonRoot": True, "runAsUser": 65534,
                                                "capabilities": {"drop": ["ALL"]},
                                                "seccompProfile": {"type": "RuntimeDefault"}},
                        }],
                    },
                },
            },
            opts=kube.merge(pulumi.ResourceOptions(depends_on=[sa, cluster_role, role_ns, crb, rb, policy])),
        )
        # Egress only to HTTPS (the API server and AWS APIs) and DNS; ingress only for metrics from monitoring.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="cluster-autoscaler", namespace=NAMESPACE, labels=labels),
            spec={
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{
                    "from": [{"namespaceSelector": {"matchLabels": {
                        "kubernetes.io/metadata.name": args.get("monitoring_namespace", "monitoring")}}}],
                    "ports": [{"protocol": "TCP", "port": METRICS_PORT}],
                }],
                "egress": [
                    # Not the node's metadata service: the autoscaler's credentials come from IRSA.
                    {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}],
                     "ports": [{"protocol": "TCP", "port": 443}]},
                    {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                             "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                     "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                ],
            },
            opts=kube,
        )
        self.role_arn = role.arn
        self.deployment_name = deployment.metadata.apply(lambda m: m.name if m else "cluster-autoscaler")
        self.register_outputs({"role_arn": self.role_arn, "deployment_name": self.deployment_name})
