"""GcpKey: the environment's Cloud KMS key ring and customer-managed encryption key.

One symmetric key encrypts everything the stack stores: Kubernetes Secrets in etcd
(application-layer secrets encryption), node boot disks, the model caches' persistent
disks and the model bucket. Google encrypts with it through three service agents, and
those three are exactly the members of the key's `cryptoKeyEncrypterDecrypter` binding
(authoritative for the role, so nobody else can be added to it beside the stack):

- GKE: `service-<project number>@container-engine-robot.iam.gserviceaccount.com`
- Compute Engine: `service-<project number>@compute-system.iam.gserviceaccount.com`
- Cloud Storage: `service-<project number>@gs-project-accounts.iam.gserviceaccount.com`, looked up
  through the provider (`gcp.storage.get_project_service_account`), which also creates it on a
  project that has none yet

Workloads never get the key: GCS decrypts for any reader allowed to read the object.
The key ring and key are Pulumi-protected and retained on delete (Cloud KMS cannot delete
key rings anyway; destroying the key would destroy every disk, secret and weight it encrypted).
"""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp

from . import naming

SECONDS_PER_DAY = 86400


class GcpKeyArgs(TypedDict):
    project: str
    """Project of the key ring."""
    project_number: str
    """The project's number: it names the service agents that may use the key."""
    location: str
    """Region of the key ring; it must be the region of the cluster, disks and bucket."""
    name: str
    """Name of the key ring and of the key."""
    rotation_days: NotRequired[int]
    """Days between automatic rotations. Defaults to 90."""
    protection_level: NotRequired[str]
    """`SOFTWARE` or `HSM`. Defaults to `SOFTWARE`."""
    destroy_scheduled_days: NotRequired[int]
    """Days a destroyed key version can still be restored. Defaults to 30."""


class GcpKey(pulumi.ComponentResource):
    """A rotating, protected, retained Cloud KMS key that only the GKE, Compute Engine and Cloud Storage agents may use."""

    key_id: pulumi.Output[str]
    """Resource id of the key (`projects/P/locations/L/keyRings/R/cryptoKeys/K`)."""
    key_ring_id: pulumi.Output[str]
    """Resource id of the key ring."""
    members: pulumi.Output[list[str]]
    """The only members with `roles/cloudkms.cryptoKeyEncrypterDecrypter` on the key."""

    def __init__(self, name: str, args: GcpKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        rotation = args.get("rotation_days", 90)
        if not 1 <= rotation <= 3650:
            raise ValueError(f"rotation_days: expected 1 to 3650, got {rotation!r}")
        level = args.get("protection_level", "SOFTWARE")
        if level not in ("SOFTWARE", "HSM"):
            raise ValueError(f"protection_level: expected 'SOFTWARE' or 'HSM', got {level!r}")
        destroy_days = args.get("destroy_scheduled_days", 30)
        if not 1 <= destroy_days <= 120:
            raise ValueError(f"destroy_scheduled_days: expected 1 to 120, got {destroy_days!r}")
        super().__init__("llm-infra:index:GcpKey", name, None, opts)
        project, location = args["project"], args["location"]
        # The key must outlive every mistake: deleting it destroys all data it encrypted.
        keep = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)
        ring = gcp.kms.KeyRing(f"{name}-ring", name=args["name"], project=project, location=location, opts=keep)
        key = gcp.kms.CryptoKey(
            f"{name}-key",
            name=args["name"],
            key_ring=ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=f"{rotation * SECONDS_PER_DAY}s",
            destroy_scheduled_duration=f"{destroy_days * SECONDS_PER_DAY}s",
            version_template=gcp.kms.CryptoKeyVersionTemplateArgs(
                algorithm="GOOGLE_SYMMETRIC_ENCRYPTION", protection_level=level),
            labels={"llm-infra-managed-by": "pulumi"},
            opts=keep,
        )
        # GKE's and Compute Engine's agents exist once their APIs are on; the Cloud Storage agent does
        # not exist on a fresh project until it is first looked up, and the lookup creates it
        # (facts.SERVICE_AGENTS["storage.googleapis.com"]): ask the provider rather than spell its e-mail.
        storage_agent = gcp.storage.get_project_service_account_output(
            project=project, opts=pulumi.InvokeOutputOptions(parent=self))
        members: list[pulumi.Input[str]] = [
            f"serviceAccount:{naming.gke_service_agent(args['project_number'])}",
            f"serviceAccount:{naming.compute_service_agent(args['project_number'])}",
            storage_agent.email_address.apply(lambda email: f"serviceAccount:{email}"),
        ]
        # Authoritative for the role: exactly these three agents may encrypt and decrypt.
        binding = gcp.kms.CryptoKeyIAMBinding(
            f"{name}-encrypters",
            crypto_key_id=key.id,
            role=naming.KEY_USER_ROLE,
            members=members,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.key = key
        self.binding = binding
        # Consumers wait for the binding: a disk or cluster created before it cannot use the key.
        # The id is spelled out from known parts, so that the plan shows the real resource path.
        ring_path = f"projects/{project}/locations/{location}/keyRings/{args['name']}"
        key_path = f"{ring_path}/cryptoKeys/{args['name']}"
        self.key_id = pulumi.Output.all(key.id, binding.id).apply(lambda _: key_path)
        self.key_ring_id = ring.id.apply(lambda _: ring_path)
        self.members = pulumi.Output.all(*members)
        self.register_outputs({"key_id": self.key_id, "key_ring_id": self.key_ring_id, "members": self.members})
