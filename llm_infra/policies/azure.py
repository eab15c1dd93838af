"""Rules over Azure resources (SECURITY.md 23-30), as the azure-native provider receives them."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from . import ADVISORY, Context, Resource, Rule, get, known

CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
VAULT = "azure-native:keyvault:Vault"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
WORKSPACE = "azure-native:operationalinsights:Workspace"
AUDIT_CATEGORIES = ("kube-audit", "kube-audit-admin", "guard")
ISOLATION_TAG = "llm-infra.io/isolation"
NETWORK_POLICIES = ("azure", "cilium", "calico")


def _false(value: Any) -> bool:
    """Explicitly off (an unknown or absent value is not judged)."""
    return value is False


# --- 23: private API server or an allowlist without 0.0.0.0/0 ----------------------------

def aks_api_server_private(r: Resource, _: Context) -> Iterator[str]:
    profile = get(r.inputs, "apiServerAccessProfile") or {}
    private = profile.get("enablePrivateCluster")
    # azure-native spells it authorizedIPRanges (ManagedClusterAPIServerAccessProfileArgs).
    ranges = profile.get("authorizedIPRanges")
    if not known(private) and not known(ranges):
        if not isinstance(profile, Mapping) or not profile:
            yield "set apiServerAccessProfile: a private cluster or authorized IP ranges"
        return
    if private is True:
        return
    if not isinstance(ranges, list) or not ranges:
        yield "make the API server private (enablePrivateCluster) or limit it to authorizedIPRanges"
        return
    for cidr in ranges:
        if isinstance(cidr, str) and cidr.strip().endswith("/0"):
            yield f"authorizedIPRanges contains {cidr}: list the networks that may reach the API server"


# --- 24: etcd KMS with the Key Vault key; user-assigned control-plane identity -----------------

def aks_etcd_kms(r: Resource, _: Context) -> Iterator[str]:
    kms = get(r.inputs, "securityProfile", "azureKeyVaultKms") or {}
    enabled, key_id = kms.get("enabled"), kms.get("keyId")
    if known(enabled) and enabled is not True or not kms:
        yield "enable securityProfile.azureKeyVaultKms (etcd encrypted with the Key Vault key)"
    elif "keyId" not in kms or (known(key_id) and not str(key_id).startswith("https://")):
        yield f"set securityProfile.azureKeyVaultKms.keyId to the key's versioned URI, got {key_id!r}"
    kind = get(r.inputs, "identity", "type")
    if known(kind) and kind != "UserAssigned":
        yield f"use a UserAssigned control-plane identity (KMS does not work with {kind!r})"


# --- 25: host encryption everywhere; disks through the Disk Encryption Set ----------------------

def aks_disks_encrypted(r: Resource, _: Context) -> Iterator[str]:
    if r.type == CLUSTER:
        if not r.inputs.get("diskEncryptionSetID") and "diskEncryptionSetID" not in r.inputs:
            yield "set diskEncryptionSetID: node OS disks encrypted with the customer key"
        for pool in r.inputs.get("agentPoolProfiles") or []:
            if isinstance(pool, Mapping) and pool.get("enableEncryptionAtHost") is not True:
                yield f"agent pool {pool.get('name')!r}: set enableEncryptionAtHost (temp and cache disks encrypted)"
    elif r.type == AGENT_POOL:
        if r.inputs.get("enableEncryptionAtHost") is not True:
            yield "set enableEncryptionAtHost on the GPU pool"
    elif r.inputs.get("provisioner") == "disk.csi.azure.com":
        if not get(r.inputs, "parameters", "diskEncryptionSetID"):
            yield "set parameters.diskEncryptionSetID: volumes encrypted with the customer key"


# --- 26: workload identity, no local accounts, Entra ID with Azure RBAC ---------------------------

def aks_identity_entra_only(r: Resource, _: Context) -> Iterator[str]:
    if get(r.inputs, "oidcIssuerProfile", "enabled") is not True:
        yield "enable oidcIssuerProfile (workload identity federation)"
    if get(r.inputs, "securityProfile", "workloadIdentity", "enabled") is not True:
        yield "enable securityProfile.workloadIdentity"
    if r.inputs.get("disableLocalAccounts") is not True:
        yield "set disableLocalAccounts: no static cluster-admin credential"
    aad = r.inputs.get("aadProfile") or {}
    if aad.get("managed") is not True or aad.get("enableAzureRBAC") is not True:
        yield "set aadProfile managed with enableAzureRBAC: Entra ID authenticates, Azure RBAC authorizes"


# --- 27: dedicated isolation uses a dedicated host group -----------------------------------------

def aks_dedicated_isolation(r: Resource, context: Context) -> Iterator[str]:
    isolation = get(r.inputs, "tags", ISOLATION_TAG)
    host_group = r.inputs.get("hostGroupID")
    if isolation == "dedicated-host" and not host_group and "hostGroupID" not in r.inputs:
        yield "a pool tagged dedicated-host needs hostGroupID (an Azure Dedicated Host group)"
    if context.production and isolation not in ("dedicated-host", "shared-host-accepted") and not host_group:
        yield ("production GPU pools run on a dedicated host group, or name the pool in "
               "azure.shared_host_gpu_pools (an explicit exception)")


def aks_shared_host_exception(r: Resource, _: Context) -> Iterator[str]:
    if get(r.inputs, "tags", ISOLATION_TAG) == "shared-host-accepted":
        yield ("GPU pool runs on multi-tenant hosts by an explicit exception (azure.shared_host_gpu_pools): "
               "Azure Dedicated Host runs no NC/ND size")


# --- 28: network policy -------------------------------------------------------------------------

def aks_network_policy(r: Resource, _: Context) -> Iterator[str]:
    policy = get(r.inputs, "networkProfile", "networkPolicy")
    if known(policy) and policy not in NETWORK_POLICIES or policy is None:
        yield f"set networkProfile.networkPolicy to one of {list(NETWORK_POLICIES)}, got {policy!r}"


# --- 29: Key Vault ------------------------------------------------------------------------------

def key_vault_hardened(r: Resource, _: Context) -> Iterator[str]:
    props = r.inputs.get("properties") or {}
    if props.get("enablePurgeProtection") is not True:
        yield "set enablePurgeProtection: a deleted key can never be purged early"
    if _false(props.get("enableSoftDelete")):
        yield "keep soft delete on"
    if props.get("enableRbacAuthorization") is not True:
        yield "set enableRbacAuthorization: Azure RBAC, not access policies"
    access = props.get("publicNetworkAccess")
    if known(access) and access != "Disabled" or access is None:
        yield f"set publicNetworkAccess Disabled (reach the vault through a private endpoint), got {access!r}"


# --- 30: model storage --------------------------------------------------------------------------

def model_storage_hardened(r: Resource, _: Context) -> Iterator[str]:
    i = r.inputs
    if get(i, "encryption", "keySource") != "Microsoft.Keyvault":
        yield "encrypt with the customer key (encryption.keySource Microsoft.Keyvault)"
    if i.get("allowBlobPublicAccess") is not False:
        yield "set allowBlobPublicAccess false"
    if i.get("enableHttpsTrafficOnly") is not True:
        yield "set enableHttpsTrafficOnly true"
    if i.get("minimumTlsVersion") not in ("TLS1_2", "TLS1_3"):
        yield f"set minimumTlsVersion TLS1_2 or newer, got {i.get('minimumTlsVersion')!r}"
    if i.get("allowSharedKeyAccess") is not False:
        yield "set allowSharedKeyAccess false: Entra ID only, no account keys or SAS"
    if get(i, "networkRuleSet", "defaultAction") != "Deny":
        yield "set networkRuleSet.defaultAction Deny"


# --- 9, 30, 43 on Azure: no public node IPs or blobs; identities scoped to one model -----------

BLOB_CONTAINER = "azure-native:storage:BlobContainer"
FEDERATED_CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
SERVICE_ACCOUNT_SUBJECT = re.compile(r"^system:serviceaccount:[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
# Built-in role definition ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles, read 2026-12).
BLOB_DATA_ROLES = {
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
}
BROAD_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
}


def aks_nodes_without_public_ips(r: Resource, _: Context) -> Iterator[str]:
    pools = r.inputs.get("agentPoolProfiles") if r.type == CLUSTER else [r.inputs]
    for pool in pools if isinstance(pools, list) else []:
        if isinstance(pool, Mapping) and pool.get("enableNodePublicIP") is True:
            yield f"agent pool {pool.get('name') or r.name!r}: set enableNodePublicIP false (nodes stay private)"


def blob_containers_private(r: Resource, _: Context) -> Iterator[str]:
    access = r.inputs.get("publicAccess")
    if known(access) and access not in ("None", None):
        yield f"set publicAccess None: anyone on the internet could read the weights, got {access!r}"


def federated_credentials_scoped(r: Resource, context: Context) -> Iterator[str]:
    subject = r.inputs.get("subject")
    if isinstance(subject, str) and known(subject) and not SERVICE_ACCOUNT_SUBJECT.match(subject):
        yield (f"subject {subject!r}: name exactly one Kubernetes service account "
               "('system:serviceaccount:<namespace>:<name>')")
    audiences = r.inputs.get("audiences")
    if isinstance(audiences, list) and audiences != [TOKEN_EXCHANGE_AUDIENCE]:
        yield f"audiences must be [{TOKEN_EXCHANGE_AUDIENCE!r}], got {audiences!r}"
    issuer = r.inputs.get("issuer")
    if isinstance(issuer, str) and known(issuer) and not issuer.startswith("https://"):
        yield f"issuer must be the cluster's https OIDC issuer, got {issuer!r}"


def _role_id(r: Resource) -> str | None:
    role = r.inputs.get("roleDefinitionId")
    return role.rsplit("/", 1)[-1].lower() if isinstance(role, str) and known(role) else None


def role_assignments_scoped(r: Resource, context: Context) -> Iterator[str]:
    scope, role = r.inputs.get("scope"), _role_id(r)
    if not isinstance(scope, str) or not known(scope) or role is None:
        return
    parts = scope.strip("/").split("/")
    subscription = parts[1] if len(parts) > 1 and parts[0].lower() == "subscriptions" else None
    if context.accounts and subscription is not None and subscription not in context.accounts:
        yield f"scope {scope!r} is in subscription {subscription}, not the stack's {sorted(context.accounts)}"
    if role in BLOB_DATA_ROLES and "/blobServices/default/containers/" not in scope:
        yield (f"{BLOB_DATA_ROLES[role]} at {scope!r}: grant it on the model's own container "
               "(.../blobServices/default/containers/<model>), never the account or above")
    if role in BROAD_ROLES and "/providers/" not in scope:
        yield f"{BROAD_ROLES[role]} on a whole subscription or resource group ({scope!r}): grant on one resource"


# --- 4 (as on EKS): control-plane audit logs kept, with retention ----------------------------

def aks_control_plane_logs(resources: list[Resource], _: Context) -> Iterator[str]:
    settings = [r for r in resources if r.type == DIAGNOSTIC_SETTING]
    workspaces = [r for r in resources if r.type == WORKSPACE]
    for cluster in (r for r in resources if r.type == CLUSTER):
        name = cluster.inputs.get("resourceName") or cluster.name
        mine = [s for s in settings if isinstance(s.inputs.get("resourceUri"), str)
                and s.inputs["resourceUri"].endswith(f"/managedClusters/{name}")]
        if not mine:
            yield f"cluster {name}: add a diagnostic setting that sends {', '.join(AUDIT_CATEGORIES)} to a Log Analytics workspace"
            continue
        enabled = {log.get("category") for s in mine for log in (s.inputs.get("logs") or [])
                   if isinstance(log, Mapping) and log.get("enabled") is True}
        missing = [c for c in AUDIT_CATEGORIES if c not in enabled]
        if missing:
            yield f"cluster {name}: enable the {', '.join(missing)} log categories in its diagnostic setting"
        for s in mine:
            target = s.inputs.get("workspaceId")
            if target in (None, ""):
                yield f"cluster {name}: send the diagnostic setting to a Log Analytics workspace (workspaceId)"
                continue
            for w in workspaces:
                if isinstance(target, str) and target.endswith(f"/workspaces/{w.inputs.get('workspaceName')}"):
                    days = w.inputs.get("retentionInDays")
                    if known(days) and (not isinstance(days, int) or days < 90):
                        yield f"workspace {w.inputs.get('workspaceName')}: keep audit logs at least 90 days, got {days!r}"


RULES: list[Rule] = [
    Rule("aks-nodes-without-public-ips", "AKS nodes have no public IPs.", "9, 23", "resource",
         aks_nodes_without_public_ips, resource_types=(CLUSTER, AGENT_POOL)),
    Rule("blob-containers-private", "Blob containers allow no public access.", "30", "resource",
         blob_containers_private, resource_types=(BLOB_CONTAINER,)),
    Rule("federated-credentials-scoped", "Federated credentials trust one service account with the token-exchange "
         "audience.", "26, 43", "resource", federated_credentials_scoped, resource_types=(FEDERATED_CREDENTIAL,)),
    Rule("azure-role-assignments-scoped", "Blob data roles on one container; no Owner/Contributor/UAA on a "
         "subscription or resource group; scopes in the stack's subscription.", "43", "resource",
         role_assignments_scoped, resource_types=(ROLE_ASSIGNMENT,)),
    Rule("aks-control-plane-logs", "AKS kube-audit, kube-audit-admin and guard logs go to a Log Analytics workspace "
         "with retention.", "4", "stack", aks_control_plane_logs, resource_types=(CLUSTER, DIAGNOSTIC_SETTING, WORKSPACE)),
    Rule("aks-api-server-private", "AKS API server private, or authorized IP ranges without 0.0.0.0/0.", "23",
         "resource", aks_api_server_private, resource_types=(CLUSTER,)),
    Rule("aks-etcd-kms", "etcd encrypted with the Key Vault key; user-assigned control-plane identity.", "24",
         "resource", aks_etcd_kms, resource_types=(CLUSTER,)),
    Rule("aks-disks-encrypted", "Host encryption on every pool; disks through the Disk Encryption Set.", "25",
         "resource", aks_disks_encrypted, resource_types=(CLUSTER, AGENT_POOL, STORAGE_CLASS)),
    Rule("aks-identity-entra-only", "OIDC issuer and workload identity on; local accounts off; Entra ID with Azure RBAC.",
         "26", "resource", aks_identity_entra_only, resource_types=(CLUSTER,)),
    Rule("aks-dedicated-isolation", "Dedicated isolation puts GPU pools on a dedicated host group.", "27",
         "resource", aks_dedicated_isolation, resource_types=(AGENT_POOL,)),
    Rule("aks-shared-host-exception", "GPU pools on multi-tenant hosts by explicit exception are reported.", "27",
         "resource", aks_shared_host_exception, enforcement=ADVISORY, resource_types=(AGENT_POOL,)),
    Rule("aks-network-policy", "AKS network policy enabled.", "28", "resource", aks_network_policy,
         resource_types=(CLUSTER,)),
    Rule("key-vault-hardened", "Key Vault: purge protection, soft delete, RBAC, no public network access.", "29",
         "resource", key_vault_hardened, resource_types=(VAULT,)),
    Rule("model-storage-hardened", "Model storage: customer key, no public blobs, HTTPS, TLS 1.2+, no shared keys.", "30",
         "resource", model_storage_hardened, resource_types=(STORAGE_ACCOUNT,)),
]
