"""GcsModelStore: the encrypted GCS bucket that holds the weights, and one read-only identity per model.

The bucket: the customer key as default CMEK, uniform bucket-level access (no object
ACLs), public access prevention enforced, versioning (an overwritten or deleted weight
file can be restored), never force-destroyed.

Each model gets its own Google service account that may read its own prefix and nothing
else, through a *managed folder* `<prefix>/` with `roles/storage.objectViewer` on the folder
rather than an IAM condition on a bucket-level binding. Why: the weights sync lists the
prefix (`gcloud storage rsync`), and GCS checks `storage.objects.list` against the bucket,
not against object names, so a `resource.name.startsWith("projects/_/buckets/B/objects/P/")`
condition either blocks the listing or, widened to the bucket, reveals every other
model's object names. A managed folder scopes both list (with the folder as prefix) and
get (GCS docs, "About managed folders"; they need uniform bucket-level access). The
Kubernetes service account `<ns>/<sa>` may impersonate it through Workload Identity
(`roles/iam.workloadIdentityUser` for `serviceAccount:<project>.svc.id.goog[<ns>/<sa>]`), and
the pod's service account carries `iam.gke.io/gcp-service-account`. Readers need no
permission on the key: Cloud Storage's service agent decrypts.
"""

from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp

from ..config import parse_weights_uri
from ..contract import ModelIdentityRequest, WorkloadIdentity
from . import naming

GSA_ANNOTATION = "iam.gke.io/gcp-service-account"
READER_ROLE = "roles/storage.objectViewer"
WORKLOAD_IDENTITY_ROLE = "roles/iam.workloadIdentityUser"


class GcsModelStoreArgs(TypedDict):
    project: str
    """Project of the bucket and of the model service accounts."""
    bucket_name: str
    """Name of the bucket (global); every model's weights_uri points into it."""
    location: str
    """Location of the bucket: the stack's region (the key must be in the same location)."""
    key_id: pulumi.Input[str]
    """Customer key, the bucket's default encryption key."""
    cluster_name: str
    """Name of the GKE cluster (prefix of the model service account ids)."""
    models: Sequence[str]
    """Names of the models that may get an identity."""
    force_destroy: NotRequired[bool]
    """Delete the bucket even with objects in it. Defaults to `False`."""
    retain_data: NotRequired[bool]
    """Leave the bucket, its objects and the models' managed folders in the project on `pulumi destroy`.
    Defaults to `True`."""


class GcsModelStore(pulumi.ComponentResource):
    """A CMEK, uniform-access, public-access-prevented, versioned bucket; one reader per model prefix."""

    bucket_name: pulumi.Output[str]
    """Name of the bucket."""
    bucket_url: pulumi.Output[str]
    """`gs://<bucket>`."""

    def __init__(self, name: str, args: GcsModelStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-infra:index:GcsModelStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The data and its folders outlive the stack unless the stack is told to delete them.
        self._keep = pulumi.ResourceOptions(retain_on_delete=args.get("retain_data", True))
        self._force = args.get("force_destroy", False)
        project, bucket_name = args["project"], args["bucket_name"]
        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            name=bucket_name,
            project=project,
            location=args["location"].upper(),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=True),
            encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=args["key_id"]),
            force_destroy=args.get("force_destroy", False),
            labels={"llm-infra-cluster": args["cluster_name"]},
            opts=child.merge(self._keep),
        )
        self.bucket = bucket
        self._bucket = bucket_name
        self._project = project
        self._cluster = args["cluster_name"]
        self._models = set(args["models"])
        self._name = name
        self.accounts: dict[str, gcp.serviceaccount.Account] = {}
        self.bucket_name = bucket.name
        self.bucket_url = bucket.name.apply(lambda n: f"gs://{n}")
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_url": self.bucket_url})

    def bind(self, request: ModelIdentityRequest, opts: pulumi.ResourceOptions) -> WorkloadIdentity:
        """One Google service account for the model: read its prefix only, usable by its Kubernetes service account."""
        if request.model not in self._models:
            raise ValueError(f"model {request.model!r}: expected one of the store's models {sorted(self._models)}")
        scheme, bucket, prefix = parse_weights_uri(request.weights_uri)
        if scheme != "gs" or bucket != self._bucket or not prefix:
            raise ValueError(f"weights_uri of model {request.model!r}: expected gs://{self._bucket}/PREFIX, "
                             f"got {request.weights_uri!r}")
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        base = f"{self._name}-{request.model}"
        account_id = naming.model_service_account_id(self._cluster, request.model)
        email = naming.service_account_email(account_id, self._project)
        account = gcp.serviceaccount.Account(
            f"{base}-gsa", account_id=account_id, project=self._project,
            display_name=f"llm-infra model {request.model}",
            description=f"Reads gs://{bucket}/{prefix}/ only", opts=child)
        self.accounts[request.model] = account
        member = account.id.apply(lambda _: f"serviceAccount:{email}")
        folder = gcp.storage.ManagedFolder(
            f"{base}-folder", bucket=self.bucket.name, name=f"{prefix}/", force_destroy=self._force,
            opts=child.merge(self._keep))
        read = gcp.storage.ManagedFolderIamMember(
            f"{base}-read", bucket=self.bucket.name, managed_folder=folder.name, role=READER_ROLE, member=member,
            opts=child)
        impersonate = gcp.serviceaccount.IAMMember(
            f"{base}-workload-identity",
            service_account_id=account.id.apply(lambda _: f"projects/{self._project}/serviceAccounts/{email}"),
            role=WORKLOAD_IDENTITY_ROLE,
            member=naming.workload_identity_member(self._project, request.namespace, request.service_account),
            opts=child,
        )
        # The annotation waits for both grants: a pod started earlier would fail its first sync.
        annotated = pulumi.Output.all(read.id, impersonate.id).apply(lambda _: email)
        return WorkloadIdentity(
            service_account_annotations={GSA_ANNOTATION: annotated},
            description=f"{request.namespace}/{request.service_account} -> {email} "
                        f"(read gs://{bucket}/{prefix}/ only)",
        )
