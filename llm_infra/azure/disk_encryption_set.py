"""AzureDiskEncryptionSet: node OS disks and model-cache volumes encrypted with the customer key.

The set has its own user-assigned identity, granted exactly `Key Vault Crypto Service
Encryption User` (get, wrap and unwrap key) on the key itself, not on the vault. It
follows the versionless key URI with `rotation_to_latest_key_version_enabled`, so a
rotated key version re-wraps the disks' keys without a change here. The set is created
after the role assignment: Azure checks access to the key when the set is created.
"""

from typing import TypedDict

import pulumi
import pulumi_azure_native as azure_native

from .naming import after, assignment_name, resource_id, role_definition_id

KEY_ROLE = "Key Vault Crypto Service Encryption User"


class AzureDiskEncryptionSetArgs(TypedDict):
    subscription_id: str
    """Subscription of the set (for role definitions and resource ids)."""
    resource_group_name: str
    """Resource group of the set and its identity."""
    location: str
    """Azure region (the same as the cluster's)."""
    set_name: str
    """Name of the Disk Encryption Set."""
    vault_id: pulumi.Input[str]
    """Resource id of the Key Vault that holds the key."""
    key_uri: pulumi.Input[str]
    """Versionless URI of the key."""
    key_resource_id: pulumi.Input[str]
    """Resource id of the key (the scope of the identity's single role assignment)."""


class AzureDiskEncryptionSet(pulumi.ComponentResource):
    """A Disk Encryption Set over the customer key, through an identity that may use that key and nothing else."""

    disk_encryption_set_id: pulumi.Output[str]
    """Resource id of the Disk Encryption Set."""
    identity_principal_id: pulumi.Output[str]
    """Principal id of the set's user-assigned identity."""

    def __init__(self, name: str, args: AzureDiskEncryptionSetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-infra:index:AzureDiskEncryptionSet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        sub, rg, set_name = args["subscription_id"], args["resource_group_name"], args["set_name"]
        identity_name = f"{set_name}-identity"
        identity = azure_native.managedidentity.UserAssignedIdentity(
            f"{name}-identity", resource_name_=identity_name, resource_group_name=rg, location=args["location"],
            opts=child)
        identity_id = after(identity, resource_id(sub, rg, "Microsoft.ManagedIdentity", "userAssignedIdentities",
                                                  identity_name))
        grant = azure_native.authorization.RoleAssignment(
            f"{name}-key-access",
            role_assignment_name=assignment_name(set_name, "des-key", KEY_ROLE),
            principal_id=identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition_id(sub, KEY_ROLE),
            scope=args["key_resource_id"],
            description=f"llm-infra: Disk Encryption Set {set_name} wraps disk keys with the customer key",
            opts=child,
        )
        des = azure_native.compute.DiskEncryptionSet(
            f"{name}-des",
            disk_encryption_set_name=set_name,
            resource_group_name=rg,
            location=args["location"],
            encryption_type="EncryptionAtRestWithCustomerKey",
            identity=azure_native.compute.EncryptionSetIdentityArgs(
                type="UserAssigned", user_assigned_identities=[identity_id]),
            active_key=azure_native.compute.KeyForDiskEncryptionSetArgs(
                key_url=args["key_uri"], source_vault=azure_native.compute.SourceVaultArgs(id=args["vault_id"])),
            rotation_to_latest_key_version_enabled=True,
            opts=child.merge(pulumi.ResourceOptions(depends_on=[grant])),
        )
        self.identity = identity
        self.des = des
        self.disk_encryption_set_id = after(des, resource_id(sub, rg, "Microsoft.Compute", "diskEncryptionSets", set_name))
        self.identity_principal_id = identity.principal_id
        self.register_outputs({"disk_encryption_set_id": self.disk_encryption_set_id,
                               "identity_principal_id": self.identity_principal_id})
