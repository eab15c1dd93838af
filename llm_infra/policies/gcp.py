"""Rules over GCP resources (SECURITY.md 13-22, and 2 and 31 where GCP spells them its own way).

Each rule reads the inputs of one resource type as the engine receives them (camelCase);
a value a preview cannot know yet is skipped, never guessed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import Any

from . import Context, Resource, Rule, get, known

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
NODE_GROUP = "gcp:compute/nodeGroup:NodeGroup"
BUCKET = "gcp:storage/bucket:Bucket"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
KEY_IAM = ("gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding", "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
           "gcp:kms/cryptoKeyIAMPolicy:CryptoKeyIAMPolicy", "gcp:kms/keyRingIAMBinding:KeyRingIAMBinding",
           "gcp:kms/keyRingIAMMember:KeyRingIAMMember")
NODE_GROUP_AFFINITY_KEY = "compute.googleapis.com/node-group-name"
DEFAULT_COMPUTE_SA = re.compile(r"^\d+-compute@developer\.gserviceaccount\.com$")
# The Google-managed agents that encrypt disks, etcd and objects with a customer key.
KEY_SERVICE_AGENT = re.compile(
    r"^serviceAccount:service-\d+@(container-engine-robot|compute-system|gs-project-accounts)\.iam\.gserviceaccount\.com$")
MAX_ROTATION_SECONDS = 365 * 86400


def _within(net: Any, outer: Any) -> bool:
    """`net` lies inside `outer` (both IPv4 or both IPv6 networks; mixed versions never do)."""
    if isinstance(net, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return net.subnet_of(outer)
    if isinstance(net, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return net.subnet_of(outer)
    return False


def _node_configs(r: Resource) -> Iterator[tuple[str, Mapping]]:
    """(where, nodeConfig) of a node pool, or of a cluster's default pool and inline pools."""
    if r.type == NODE_POOL:
        config = r.inputs.get("nodeConfig")
        yield "nodeConfig", config if isinstance(config, Mapping) else {}
        return
    config = r.inputs.get("nodeConfig")
    if isinstance(config, Mapping):
        yield "nodeConfig", config
    for i, pool in enumerate(r.inputs.get("nodePools") or []):
        if isinstance(pool, Mapping):
            yield f"nodePools[{i}].nodeConfig", pool.get("nodeConfig") or {}


def _is_gpu_pool(r: Resource) -> bool:
    return r.type == NODE_POOL and bool(get(r.inputs, "nodeConfig", "guestAccelerators"))


# --- 13: Secrets encrypted in etcd with the customer key ---------------------------------


def gke_secrets_encrypted(r: Resource, _: Context) -> Iterator[str]:
    enc = r.inputs.get("databaseEncryption")
    state, key = get(enc, "state"), get(enc, "keyName")
    if known(state) and state != "ENCRYPTED" or enc is None:
        yield f"set databaseEncryption.state ENCRYPTED with the stack key (application-layer secrets encryption), got {state!r}"
    elif known(state) and not key:
        yield "set databaseEncryption.keyName to the stack's Cloud KMS key"


# --- 14: boot disks use the customer key ------------------------------------------------


def gke_boot_disks_cmek(r: Resource, _: Context) -> Iterator[str]:
    for where, config in _node_configs(r):
        if "bootDiskKmsKey" not in config or config.get("bootDiskKmsKey") in ("", None):
            yield f"set {where}.bootDiskKmsKey to the stack key: node boot disks hold images, logs and model data"


# --- 15: shielded nodes with secure boot and integrity monitoring -----------------------


def gke_shielded_nodes(r: Resource, _: Context) -> Iterator[str]:
    if r.type == CLUSTER and r.inputs.get("enableShieldedNodes") is False:
        yield "set enableShieldedNodes true"
    for where, config in _node_configs(r):
        shielded = config.get("shieldedInstanceConfig") or {}
        for field in ("enableSecureBoot", "enableIntegrityMonitoring"):
            value = shielded.get(field)
            if known(value) and value is not True or value is None:
                yield f"set {where}.shieldedInstanceConfig.{field} true, got {value!r}"


# --- 16: Workload Identity; pods see the GKE metadata server, not the node's ------------


def gke_workload_identity(r: Resource, _: Context) -> Iterator[str]:
    if r.type == CLUSTER:
        pool = get(r.inputs, "workloadIdentityConfig", "workloadPool")
        if pool is None or (known(pool) and not str(pool).endswith(".svc.id.goog")):
            yield f"set workloadIdentityConfig.workloadPool to '<project>.svc.id.goog', got {pool!r}"
    for where, config in _node_configs(r):
        mode = get(config, "workloadMetadataConfig", "mode")
        if mode is None or (known(mode) and mode != "GKE_METADATA"):
            yield (f"set {where}.workloadMetadataConfig.mode GKE_METADATA (otherwise pods can read the node's "
                   f"credentials from the metadata server), got {mode!r}")


# --- 17: nodes run as a dedicated minimal service account -------------------------------


def gke_nodes_minimal_service_account(r: Resource, _: Context) -> Iterator[str]:
    for where, config in _node_configs(r):
        sa = config.get("serviceAccount")
        if sa is None or sa == "" or sa == "default" or (isinstance(sa, str) and DEFAULT_COMPUTE_SA.match(sa)):
            yield (f"set {where}.serviceAccount to a dedicated minimal service account; the default compute "
                   f"account has Editor on the project, got {sa!r}")


# --- 18: private nodes, private endpoint, authorized networks ---------------------------


def gke_private_cluster(r: Resource, _: Context) -> Iterator[str]:
    private = r.inputs.get("privateClusterConfig") or {}
    for field in ("enablePrivateNodes", "enablePrivateEndpoint"):
        value = private.get(field)
        if value is None or (known(value) and value is not True):
            yield f"set privateClusterConfig.{field} true, got {value!r}"
    blocks = get(r.inputs, "masterAuthorizedNetworksConfig", "cidrBlocks")
    if not isinstance(blocks, list):
        if known(blocks) or blocks is None:
            yield "set masterAuthorizedNetworksConfig.cidrBlocks to the networks that may reach the control plane"
        return
    if not blocks:
        yield "set masterAuthorizedNetworksConfig.cidrBlocks to the networks that may reach the control plane"
    for i, block in enumerate(blocks):
        cidr = get(block, "cidrBlock")
        if isinstance(cidr, str) and known(cidr) and cidr.endswith("/0"):
            yield f"remove masterAuthorizedNetworksConfig.cidrBlocks[{i}] {cidr!r}: it opens the control plane to everyone"
    if get(r.inputs, "masterAuthorizedNetworksConfig", "gcpPublicCidrsAccessEnabled") is True:
        yield "set masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled false: any Google Cloud VM could reach the control plane"


# --- 19: legacy access off, deletion protection on --------------------------------------


def gke_legacy_access_off(r: Resource, _: Context) -> Iterator[str]:
    if r.inputs.get("enableLegacyAbac") is True:
        yield "set enableLegacyAbac false: ABAC bypasses RBAC"
    issue = get(r.inputs, "masterAuth", "clientCertificateConfig", "issueClientCertificate")
    if issue is True:
        yield "set masterAuth.clientCertificateConfig.issueClientCertificate false: client certificates cannot be revoked"
    if r.inputs.get("deletionProtection") is False:
        yield "set deletionProtection true"


# --- 20: dedicated isolation uses sole-tenant node affinity -----------------------------


def gke_dedicated_gpu_pools_sole_tenant(resources: list[Resource], context: Context) -> Iterator[str]:
    groups = {get(r.inputs, "name") for r in resources if r.type == NODE_GROUP}
    # Production stacks are dedicated (StackConfig), and a stack with node groups chose sole tenancy.
    if not (context.production or groups):
        return
    for r in resources:
        if not _is_gpu_pool(r):
            continue
        affinities = get(r.inputs, "nodeConfig", "soleTenantConfig", "nodeAffinities")
        node_group = get(r.inputs, "nodeConfig", "nodeGroup")
        if node_group:
            continue
        if not isinstance(affinities, list):
            if affinities is None or known(affinities):
                yield (f"GPU node pool {r.name}: set nodeConfig.soleTenantConfig.nodeAffinities to the pool's "
                       "sole-tenant node groups (isolation dedicated)")
            continue
        values = [v for a in affinities if isinstance(a, Mapping) and a.get("key") == NODE_GROUP_AFFINITY_KEY
                  and a.get("operator") == "IN" for v in a.get("values") or []]
        if not values:
            yield (f"GPU node pool {r.name}: expected a '{NODE_GROUP_AFFINITY_KEY} IN [...]' node affinity "
                   "(isolation dedicated)")
        unknown = sorted(v for v in values if isinstance(v, str) and known(v) and groups and v not in groups)
        if unknown:
            yield f"GPU node pool {r.name}: node affinity names node groups the stack does not create: {unknown}"


# --- 21: GKE runs the NVIDIA device plugin; ours is not deployed there -------------------


def gke_no_own_device_plugin(resources: list[Resource], _: Context) -> Iterator[str]:
    if not any(r.type == CLUSTER for r in resources):
        return
    for r in resources:
        if r.kind != "DaemonSet":
            continue
        containers = get(r.inputs, "spec", "template", "spec", "containers") or []
        if any(isinstance(c, Mapping) and "k8s-device-plugin" in str(c.get("image") or "") for c in containers):
            yield (f"{r.label}: GKE installs the driver and runs the NVIDIA device plugin on GPU pools; a second "
                   "plugin races it for the same GPUs: remove it")


# --- 43: model pods reach Google's APIs at private.googleapis.com only ----------------------

DNS_ZONE = "gcp:dns/managedZone:ManagedZone"
# llm_infra.catalog.gcp_facts.PRIVATE_GOOGLE_APIS_CIDR (a test keeps them equal).
PRIVATE_GOOGLE_APIS_CIDR = "199.36.153.8/30"
_PRIVATE_NETS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")


def gke_model_egress_private_google_apis(resources: list[Resource], _: Context) -> Iterator[str]:
    import ipaddress

    zoned = any(r.type == DNS_ZONE and get(r.inputs, "dnsName") == "googleapis.com."
                and get(r.inputs, "visibility") == "private" for r in resources)
    if not zoned:
        return
    allowed = [ipaddress.ip_network(PRIVATE_GOOGLE_APIS_CIDR), *map(ipaddress.ip_network, _PRIVATE_NETS)]
    for r in resources:
        if r.kind != "NetworkPolicy" or get(r.inputs, "spec", "podSelector", "matchLabels",
                                             "app.kubernetes.io/name") != "triton":
            continue
        for i, rule in enumerate(get(r.inputs, "spec", "egress") or []):
            ports = rule.get("ports") if isinstance(rule, Mapping) else None
            if not any(isinstance(p, Mapping) and p.get("port") == 443 for p in ports or []):
                continue
            for peer in rule.get("to") or [{}]:
                cidr = get(peer, "ipBlock", "cidr") if isinstance(peer, Mapping) else None
                if cidr is None or not known(cidr):
                    continue
                try:
                    net = ipaddress.ip_network(cidr, strict=False)
                except ValueError:
                    continue
                if not any(_within(net, a) for a in allowed):
                    yield (f"{r.label}: egress[{i}] reaches {cidr} on 443, but the stack's private googleapis.com "
                           f"zone sends every Google API to {PRIVATE_GOOGLE_APIS_CIDR}: name that range only")


# --- 22: model bucket -------------------------------------------------------------------


def gcs_bucket_hardened(r: Resource, _: Context) -> Iterator[str]:
    key = get(r.inputs, "encryption", "defaultKmsKeyName")
    if not key:
        yield "set encryption.defaultKmsKeyName to the stack's Cloud KMS key"
    ubla = r.inputs.get("uniformBucketLevelAccess")
    if ubla is None or (known(ubla) and ubla is not True):
        yield f"set uniformBucketLevelAccess true (no object ACLs), got {ubla!r}"
    pap = r.inputs.get("publicAccessPrevention")
    if pap is None or (known(pap) and pap != "enforced"):
        yield f"set publicAccessPrevention 'enforced', got {pap!r}"
    versioning = get(r.inputs, "versioning", "enabled")
    if versioning is None or (known(versioning) and versioning is not True):
        yield f"set versioning.enabled true (overwritten weights stay recoverable), got {versioning!r}"


# --- 2 on GCP: keys rotate and only the encrypting service agents use them ---------------


def kms_key_rotates(r: Resource, _: Context) -> Iterator[str]:
    period = r.inputs.get("rotationPeriod")
    if period is None:
        yield "set rotationPeriod (e.g. '7776000s', 90 days)"
        return
    if isinstance(period, str) and known(period):
        m = re.match(r"^(\d+(?:\.\d+)?)s$", period)
        if not m or float(m.group(1)) > MAX_ROTATION_SECONDS:
            yield f"set rotationPeriod to at most a year ('31536000s'), got {period!r}"


def kms_key_users_are_service_agents(r: Resource, _: Context) -> Iterator[str]:
    members = r.inputs.get("members")
    if members is None and "member" in r.inputs:
        members = [r.inputs.get("member")]
    if r.type.endswith("IAMPolicy:CryptoKeyIAMPolicy"):
        yield "manage key access with bindings for the service agents, not a whole IAM policy"
        return
    for member in members or []:
        if isinstance(member, str) and known(member) and not KEY_SERVICE_AGENT.match(member):
            yield (f"remove {member!r}: only the GKE, Compute Engine and Cloud Storage service agents use the key; "
                   "readers of encrypted objects and disks need no key permission")


# --- 31 on GKE: GPU node pools carry the nvidia.com/gpu NoSchedule taint ----------------


def gke_gpu_pools_tainted(r: Resource, _: Context) -> Iterator[str]:
    if not _is_gpu_pool(r):
        return
    taints = get(r.inputs, "nodeConfig", "taints")
    if not isinstance(taints, list) or not any(
            isinstance(t, Mapping) and t.get("key") == "nvidia.com/gpu" and t.get("effect") == "NO_SCHEDULE"
            for t in taints):
        yield "taint the GPU node pool nvidia.com/gpu=present:NO_SCHEDULE so that only GPU workloads land there"


# --- 28 on GKE: NetworkPolicies are enforced (Dataplane V2, or Calico) ----------------------


def gke_network_policy_enforced(r: Resource, _: Context) -> Iterator[str]:
    datapath = r.inputs.get("datapathProvider")
    calico = get(r.inputs, "networkPolicy", "enabled")
    if not known(datapath) and datapath is not None:
        return
    if datapath != "ADVANCED_DATAPATH" and calico is not True:
        yield (f"set datapathProvider ADVANCED_DATAPATH (GKE Dataplane V2): without it GKE does not enforce "
               f"NetworkPolicies, and every default deny is decoration, got {datapath!r}")


# --- 11 and 43 on GCP: each model's identity reads its own folder, and only its pods use it ------

WORKLOAD_IDENTITY_MEMBER = re.compile(r"^serviceAccount:[a-z0-9-]+\.svc\.id\.goog\[[a-z0-9-]+/[a-z0-9-]+\]$")
READ_ROLES = ("roles/storage.objectViewer", "roles/storage.legacyObjectReader")
BUCKET_IAM = ("gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:storage/bucketIAMBinding:BucketIAMBinding",
              "gcp:storage/bucketIAMPolicy:BucketIAMPolicy")
PROJECT_IAM = ("gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding")
SERVICE_ACCOUNT_IAM = ("gcp:serviceaccount/iAMMember:IAMMember", "gcp:serviceaccount/iAMBinding:IAMBinding")
FOLDER_IAM = ("gcp:storage/managedFolderIamMember:ManagedFolderIamMember",
              "gcp:storage/managedFolderIamBinding:ManagedFolderIamBinding")
# Project roles that reach every bucket, key or identity of the project.
BROAD_PROJECT_ROLES = re.compile(r"^roles/(owner|editor|storage\.|iam\.serviceAccount(TokenCreator|User|Admin)|"
                                 r"iam\.workloadIdentityUser|cloudkms\.)")


def _members(r: Resource) -> list[Any]:
    """`member` of an *IAMMember, `members` of an *IAMBinding."""
    members = r.inputs.get("members") if "Binding:" in r.type else [r.inputs.get("member")]
    return members if isinstance(members, list) else []


def gcp_model_access_scoped(r: Resource, context: Context) -> Iterator[str]:
    role = r.inputs.get("role")
    members = [m for m in _members(r) if isinstance(m, str) and known(m)]
    if r.type in SERVICE_ACCOUNT_IAM and role == "roles/iam.workloadIdentityUser":
        for m in members:
            if not WORKLOAD_IDENTITY_MEMBER.match(m):
                yield (f"workloadIdentityUser member {m!r}: name exactly one Kubernetes service account, "
                       "'serviceAccount:<project>.svc.id.goog[<namespace>/<name>]'")
            elif context.accounts and m.split(":", 1)[1].split(".svc.id.goog", 1)[0] not in context.accounts:
                yield f"workloadIdentityUser member {m!r} is another project's workload pool: only the stack's cluster"
    elif r.type in FOLDER_IAM:
        if isinstance(role, str) and known(role) and role not in READ_ROLES:
            yield f"a model's folder grants {role!r}: model identities only read ({list(READ_ROLES)})"
        for m in members:
            if not m.startswith("serviceAccount:"):
                yield f"a model's folder grants {m!r}: only the model's own service account reads it"
    elif r.type in BUCKET_IAM:
        yield ("grant model identities read on their managed folder, never on the whole bucket "
               f"(role {role!r} for {members})")
    elif r.type in PROJECT_IAM:
        if isinstance(role, str) and known(role) and BROAD_PROJECT_ROLES.match(role):
            yield f"do not grant {role!r} on the project to {members}: it reaches every model's weights, key or identity"


POOLS = (CLUSTER, NODE_POOL)
RULES: list[Rule] = [
    Rule("gke-model-egress-private-google-apis", "Where the stack's VPC resolves googleapis.com privately, model "
         "pods reach 443 at private.googleapis.com only.", "43", "stack", gke_model_egress_private_google_apis),
    Rule("gke-network-policy-enforced", "GKE enforces NetworkPolicies (Dataplane V2).", "28, 34", "resource",
         gke_network_policy_enforced, resource_types=(CLUSTER,)),
    Rule("gcp-model-access-scoped", "Each model identity reads its own managed folder; only its Kubernetes service "
         "account may use it; no bucket-wide or broad project grants.", "11, 43", "resource", gcp_model_access_scoped,
         resource_types=(*SERVICE_ACCOUNT_IAM, *FOLDER_IAM, *BUCKET_IAM, *PROJECT_IAM)),
    Rule("gke-secrets-encrypted", "GKE Secrets are encrypted in etcd with the customer key.", "13",
         "resource", gke_secrets_encrypted, resource_types=(CLUSTER,)),
    Rule("gke-boot-disks-cmek", "GKE node boot disks are encrypted with the customer key.", "14",
         "resource", gke_boot_disks_cmek, resource_types=POOLS),
    Rule("gke-shielded-nodes", "GKE nodes are shielded with secure boot and integrity monitoring.", "15",
         "resource", gke_shielded_nodes, resource_types=POOLS),
    Rule("gke-workload-identity", "Workload Identity on the cluster; nodes serve pods the GKE metadata server.", "16",
         "resource", gke_workload_identity, resource_types=POOLS),
    Rule("gke-nodes-minimal-service-account", "GKE nodes never run as the default compute service account.", "17",
         "resource", gke_nodes_minimal_service_account, resource_types=POOLS),
    Rule("gke-private-cluster", "Private nodes and endpoint; master authorized networks without 0.0.0.0/0.", "18",
         "resource", gke_private_cluster, resource_types=(CLUSTER,)),
    Rule("gke-legacy-access-off", "Legacy ABAC and client certificates off; deletion protection on.", "19",
         "resource", gke_legacy_access_off, resource_types=(CLUSTER,)),
    Rule("gke-dedicated-gpu-pools-sole-tenant", "Dedicated GPU node pools run on the stack's sole-tenant node groups.",
         "20", "stack", gke_dedicated_gpu_pools_sole_tenant),
    Rule("gke-no-own-device-plugin", "On GKE, llm-infra deploys no NVIDIA device plugin of its own.", "21",
         "stack", gke_no_own_device_plugin),
    Rule("gcs-bucket-hardened", "Buckets: CMEK default key, uniform access, public access prevention, versioning.",
         "22", "resource", gcs_bucket_hardened, resource_types=(BUCKET,)),
    Rule("kms-key-rotates", "Cloud KMS keys rotate at least yearly.", "2", "resource", kms_key_rotates,
         resource_types=(CRYPTO_KEY,)),
    Rule("kms-key-users-are-service-agents", "Only the encrypting service agents may use Cloud KMS keys.", "2, 13, 14, 22",
         "resource", kms_key_users_are_service_agents, resource_types=KEY_IAM),
    Rule("gke-gpu-pools-tainted", "GKE GPU node pools carry the nvidia.com/gpu NoSchedule taint.", "31",
         "resource", gke_gpu_pools_tainted, resource_types=(NODE_POOL,)),
]
