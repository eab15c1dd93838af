"""Deterministic Azure names, ids and built-in role definitions (pure Python, no pulumi_azure_native).

Resource ids are built from the subscription, resource group and name, so that role
assignment scopes, the storage class and the offline plan show real ids before the
resources exist.
"""

import hashlib
import re
import uuid

from ..naming import fit

# Built-in role definition ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
ROLES: dict[str, str] = {
    "Key Vault Crypto Service Encryption User": "e147488a-f6f5-4113-8e2d-b22465e65bf6",
    "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
    "Key Vault Contributor": "f25e0fa2-a7c8-4377-a976-54943a77a395",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Network Contributor": "4d97b98b-1d4f-4787-a291-c67834d212e7",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
}
ROLE_NAMES_BY_ID = {v: k for k, v in ROLES.items()}

# Workload identity: the audience the federated credential accepts and the webhook's names.
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
USE_LABEL = "azure.workload.identity/use"
# The Entra ID application of the AKS API server (the audience kubelogin asks a token for).
AKS_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"


def role_definition_id(subscription_id: str, role: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{ROLES[role]}"


def assignment_name(*parts: str) -> str:
    """Role assignment names are GUIDs; derive a stable one from what the assignment is for."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "llm-infra:" + "/".join(parts)))


def resource_group_id(subscription_id: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"


def resource_id(subscription_id: str, resource_group: str, provider: str, *type_and_names: str) -> str:
    return f"{resource_group_id(subscription_id, resource_group)}/providers/{provider}/" + "/".join(type_and_names)


def cluster_name(environment: str) -> str:
    return f"llm-{environment}"


def key_vault_name(environment: str, subscription_id: str) -> str:
    """Key Vault names are global, 3-24 characters of letters, digits and '-'; add a stable suffix."""
    digest = hashlib.sha256(f"{subscription_id}/{environment}".encode()).hexdigest()[:6]
    return f"kv-llm-{environment}"[:17].rstrip("-") + f"-{digest}"


def short(name: str, limit: int) -> str:
    """`name` shortened to `limit` with a 6-hex hash (Azure's names have always carried 6)."""
    return fit(name, limit, digest_chars=6)


def agent_pool_name(pool: str) -> str:
    """AKS Linux agent pool names: lowercase alphanumerics, at most 12 characters, starting with a letter."""
    clean = re.sub(r"[^a-z0-9]", "", pool)
    if len(clean) <= 12 and clean == pool:
        return clean
    return (clean[:7] or "gpu") + hashlib.sha256(pool.encode()).hexdigest()[:5]


def after(resource, value):
    """`value` as an Output that waits for `resource` (a known name that still orders the graph)."""
    return resource.id.apply(lambda _: value)
