"""GkeNodeServiceAccount: the dedicated, minimal Google service account every GKE node runs as.

Never the project's default compute account (which holds Editor on the project). The
roles are the ones GKE documents for a least-privilege node service account
(`roles/container.defaultNodeServiceAccount` bundles the first four) plus reading images
from Artifact Registry, as terraform-google-kubernetes-engine's safer-cluster grants:
logging.logWriter, monitoring.metricWriter, monitoring.viewer,
stackdriver.resourceMetadata.writer, artifactregistry.reader. Pods never see this
identity: node metadata mode `GKE_METADATA` serves each pod its own Workload Identity.
"""

from typing import TypedDict

import pulumi
import pulumi_gcp as gcp

from . import naming

NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)


class GkeNodeServiceAccountArgs(TypedDict):
    project: str
    """Project of the service account and of its role bindings."""
    account_id: str
    """Service account id (6-30 characters)."""


class GkeNodeServiceAccount(pulumi.ComponentResource):
    """A node service account with only logging, monitoring and image-pull roles."""

    email: pulumi.Output[str]
    """Email of the service account (available once its roles are bound)."""

    def __init__(self, name: str, args: GkeNodeServiceAccountArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-infra:index:GkeNodeServiceAccount", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project, account_id = args["project"], args["account_id"]
        email = naming.service_account_email(account_id, project)
        account = gcp.serviceaccount.Account(
            f"{name}-account", account_id=account_id, project=project, display_name="llm-infra GKE nodes",
            description="Minimal GKE node identity: logs, metrics, image pulls", opts=child)
        bindings = [
            gcp.projects.IAMMember(f"{name}-{role.split('/')[-1].replace('.', '-')}", project=project, role=role,
                                   member=account.id.apply(lambda _: f"serviceAccount:{email}"), opts=child)
            for role in NODE_ROLES
        ]
        # Nodes that start before their roles are bound cannot write logs or pull images.
        self.email = pulumi.Output.all(account.id, *[b.id for b in bindings]).apply(lambda _: email)
        self.register_outputs({"email": self.email})
