"""Rules over AWS resources (SECURITY.md 1-12), as the pulumi-aws provider receives them (camelCase).

Policy documents arrive as JSON strings and are parsed here. A value a preview cannot know
yet (an unknown sentinel, or a document built from one) is skipped, never guessed.

Stack rules follow references between resources (a node group's subnets, a bucket's
encryption configuration, a role's policies) by the strings the provider sees: a
resource's physical name where AWS uses it as the id (role and bucket names), its `id`
where the engine reports one, and `<name>-id`, the id the offline plan's mock engine
gives every resource. A reference that resolves to nothing in the stack is not judged.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from . import Context, Resource, Rule, get, known

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ADDON = "aws:eks/addon:Addon"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
EBS_PROVISIONERS = ("ebs.csi.aws.com", "kubernetes.io/aws-ebs")

BUCKET = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_ENCRYPTION = ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                     "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
BUCKET_PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
BUCKET_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
BUCKET_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")

# Resource type -> the inputs that hold IAM policy documents.
POLICY_DOCUMENTS: dict[str, tuple[str, ...]] = {
    "aws:iam/policy:Policy": ("policy",),
    ROLE_POLICY: ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
    ROLE: ("assumeRolePolicy",),
    KMS_KEY: ("policy",),
    KMS_KEY_POLICY: ("policy",),
    BUCKET_POLICY[0]: ("policy",),
}
POLICY_ARN_ATTACHMENTS = (ROLE_POLICY_ATTACHMENT, POLICY_ATTACHMENT, "aws:iam/userPolicyAttachment:UserPolicyAttachment",
                          "aws:iam/groupPolicyAttachment:GroupPolicyAttachment")
# AWS managed policies that grant every action (Action "*" or NotAction).
ADMIN_POLICIES = ("AdministratorAccess", "PowerUserAccess")

CONTROL_PLANE_LOGS = ("api", "audit", "authenticator")
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly",
                 # A narrower ECR policy than ReadOnly (pull only): fine in its place.
                 "AmazonEC2ContainerRegistryPullOnly")
CNI_POLICY = "AmazonEKS_CNI_Policy"
STS_AUDIENCE = "sts.amazonaws.com"
SERVICE_ACCOUNT_SUBJECT = re.compile(r"^system:serviceaccount:[a-z0-9]([-a-z0-9.]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
MODEL_TAG = "llm-infra.io/model"
MODEL_READ_ACTIONS = {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "kms:Decrypt"}
KEY_DELETION_WINDOW_DAYS = 30


# --- helpers ---------------------------------------------------------------------------

_UNSEEN = object()
"""What `_get` returns below a value that is not an object (unknown at preview): never judged."""


def _get(obj: Any, *path: str) -> Any:
    """The value at `path`; None where it is unset, `_UNSEEN` where a parent is unknown."""
    return get(obj, *path, unseen=_UNSEEN)


def _known(value: Any) -> bool:
    return value is not _UNSEEN and known(value)


def _list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _true(value: Any) -> bool:
    """True or "true" (launch templates spell their EBS booleans as strings)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _document(value: Any) -> Mapping | None:
    """A policy document, parsed; None where it is unknown at preview or not JSON."""
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str) or not _known(value):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, Mapping) else None


def _statements(doc: Mapping | None) -> list[Mapping]:
    if doc is None:
        return []
    return [s for s in _list(doc.get("Statement")) if isinstance(s, Mapping)]


def _allows(doc: Mapping | None) -> list[Mapping]:
    return [s for s in _statements(doc) if s.get("Effect") == "Allow"]


def _principals(statement: Mapping, kind: str) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    return [p for p in _list(_get(principal, kind)) if isinstance(p, str)]


def _wildcard_principal(statement: Mapping) -> bool:
    principal = statement.get("Principal")
    return principal == "*" or "*" in _principals(statement, "AWS")


def _refs(r: Resource, *physical: str) -> set[str]:
    """The strings other resources use to point at `r` (see the module docstring)."""
    out = {f"{r.name}-id"}
    for key in ("id", *physical):
        value = r.inputs.get(key)
        if isinstance(value, str) and _known(value) and value:
            out.add(value)
    return out


def _of(resources: Iterable[Resource], *types: str) -> list[Resource]:
    return [r for r in resources if r.type in types]


def _policy_name(arn: Any) -> str | None:
    """`AmazonEKSWorkerNodePolicy` of `arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy`."""
    if not isinstance(arn, str) or not _known(arn) or ":policy/" not in arn:
        return None
    return arn.rsplit("/", 1)[-1]


def _aws_managed(arn: Any) -> bool:
    return isinstance(arn, str) and re.match(r"^arn:aws[a-z-]*:iam::aws:policy/", arn) is not None


# --- 1: EKS secrets envelope-encrypted with the customer key -----------------------------

def eks_secrets_encrypted(r: Resource, _: Context) -> Iterator[str]:
    enc = r.inputs.get("encryptionConfig")
    if enc is None:
        yield ("set encryptionConfig: resources ['secrets'] with provider.keyArn the stack's KMS key "
               "(Secrets are otherwise only encrypted with an AWS-owned key)")
        return
    resources = _get(enc, "resources")
    if resources is None or (isinstance(resources, list) and "secrets" not in resources):
        yield f"set encryptionConfig.resources to ['secrets'], got {resources!r}"
    key = _get(enc, "provider", "keyArn")
    if key is None or key == "" or (isinstance(key, str) and _known(key) and ":kms:" not in key):
        yield f"set encryptionConfig.provider.keyArn to the ARN of the stack's customer KMS key, got {key!r}"


# --- 2: KMS keys rotate, wait 30 days before deletion, and trust no `*` principal ---------

def kms_key_hardened(r: Resource, _: Context) -> Iterator[str]:
    if r.type == KMS_KEY:
        rotation = r.inputs.get("enableKeyRotation")
        if rotation is None or (_known(rotation) and rotation is not True):
            yield f"set enableKeyRotation true (yearly automatic rotation), got {rotation!r}"
        window = r.inputs.get("deletionWindowInDays")
        if _known(window) and isinstance(window, int | float) and window < KEY_DELETION_WINDOW_DAYS:
            yield (f"set deletionWindowInDays {KEY_DELETION_WINDOW_DAYS}: a scheduled deletion must leave the "
                   f"longest time to notice and cancel it, got {window!r}")
    policy = r.inputs.get("policy")
    if policy is None and r.type == KMS_KEY:
        yield ("set an explicit key policy: the default one allows kms:* to every principal of the account "
               "that IAM allows")
        return
    for statement in _allows(_document(policy)):
        if _wildcard_principal(statement):
            yield (f"key policy statement {statement.get('Sid') or '(no Sid)'!r} allows principal '*': name the "
                   "account, roles or service that use the key")


# --- 3: private API endpoint; public only through an allowlist without 0.0.0.0/0 ---------

def eks_endpoint_private(r: Resource, _: Context) -> Iterator[str]:
    vpc = r.inputs.get("vpcConfig")
    if not isinstance(vpc, Mapping):
        if vpc is None:
            yield "set vpcConfig with endpointPrivateAccess true and endpointPublicAccess false"
        return
    private = vpc.get("endpointPrivateAccess")
    if private is None or (_known(private) and private is not True):
        yield f"set vpcConfig.endpointPrivateAccess true (nodes and operators reach the API inside the VPC), got {private!r}"
    public = vpc.get("endpointPublicAccess")
    if public is False or (public is not None and not _known(public)):
        return
    # Public endpoint on (AWS's default when unset): only for an explicit allowlist.
    cidrs = vpc.get("publicAccessCidrs")
    if cidrs is None or (isinstance(cidrs, list) and not cidrs):
        yield ("set vpcConfig.endpointPublicAccess false, or publicAccessCidrs to an explicit allowlist "
               "(unset, AWS opens the public endpoint to 0.0.0.0/0)")
        return
    for cidr in _list(cidrs) if isinstance(cidrs, list) else []:
        if isinstance(cidr, str) and _known(cidr) and cidr.strip().endswith("/0"):
            yield f"remove {cidr!r} from vpcConfig.publicAccessCidrs: it opens the API endpoint to everyone"


# --- 4: control-plane logs into a KMS-encrypted log group with retention -------------------

def eks_control_plane_logs(resources: list[Resource], _: Context) -> Iterator[str]:
    groups = _of(resources, LOG_GROUP)
    names_unknown = any(isinstance(g.inputs.get("name"), str) and not _known(g.inputs.get("name")) for g in groups)
    by_name = {g.inputs.get("name"): g for g in groups if isinstance(g.inputs.get("name"), str)}
    for cluster in _of(resources, CLUSTER):
        label = f"EKS cluster {cluster.inputs.get('name') or cluster.name}"
        types = cluster.inputs.get("enabledClusterLogTypes")
        if types is None or isinstance(types, list):
            missing = [t for t in CONTROL_PLANE_LOGS if t not in (types or [])]
            if missing:
                yield f"{label}: add {missing} to enabledClusterLogTypes (who did what to the cluster, and as whom)"
        name = cluster.inputs.get("name")
        if not isinstance(name, str) or not _known(name):
            continue
        group_name = f"/aws/eks/{name}/cluster"
        group = by_name.get(group_name)
        if group is None:
            if not names_unknown:
                yield (f"{label}: create the log group {group_name} (kmsKeyId, retentionInDays) before the cluster; "
                       "otherwise EKS creates it unencrypted and keeps it forever")
            continue
        if group.inputs.get("kmsKeyId") in (None, ""):
            yield f"log group {group_name}: set kmsKeyId to the stack's KMS key"
        retention = group.inputs.get("retentionInDays")
        if retention is None or (_known(retention) and not (isinstance(retention, int | float) and retention > 0)):
            yield f"log group {group_name}: set retentionInDays (unset or 0 keeps the audit log forever), got {retention!r}"


# --- 5: access entries only; the cluster creator is not a permanent admin -----------------

def eks_access_entries_only(r: Resource, _: Context) -> Iterator[str]:
    access = r.inputs.get("accessConfig")
    mode = _get(access, "authenticationMode")
    if mode is None or (_known(mode) and mode != "API"):
        yield (f"set accessConfig.authenticationMode 'API': access entries only, no aws-auth ConfigMap "
               f"(unset, EKS uses CONFIG_MAP), got {mode!r}")
    bootstrap = _get(access, "bootstrapClusterCreatorAdminPermissions")
    if bootstrap is None or (_known(bootstrap) and bootstrap is not False):
        yield ("set accessConfig.bootstrapClusterCreatorAdminPermissions false: whoever creates the cluster must "
               f"not stay its admin; grant admins through access entries (unset, it is true), got {bootstrap!r}")


# --- 6: IMDSv2 only, hop limit 1 -----------------------------------------------------------

def eks_node_imdsv2(r: Resource, _: Context) -> Iterator[str]:
    if r.type == NODE_GROUP:
        if r.inputs.get("launchTemplate") is None:
            yield ("set launchTemplate to a template with metadataOptions httpTokens 'required' and "
                   "httpPutResponseHopLimit 1 (EKS's default template lets pods reach the node's credentials)")
        return
    meta = r.inputs.get("metadataOptions")
    if not isinstance(meta, Mapping):
        if meta is None:
            yield ("set metadataOptions: httpTokens 'required', httpPutResponseHopLimit 1, httpEndpoint 'enabled' "
                   "(unset, IMDSv1 answers anyone on the node)")
        return
    tokens = meta.get("httpTokens")
    if tokens is None or (_known(tokens) and tokens != "required"):
        yield f"set metadataOptions.httpTokens 'required' (IMDSv2 only), got {tokens!r}"
    hops = meta.get("httpPutResponseHopLimit")
    if hops is None or (_known(hops) and (isinstance(hops, bool) or hops != 1)):
        yield (f"set metadataOptions.httpPutResponseHopLimit 1: pods are one hop further and must not reach the "
               f"node's credentials, got {hops!r}")
    endpoint = meta.get("httpEndpoint")
    if endpoint is not None and _known(endpoint) and endpoint != "enabled":
        yield f"set metadataOptions.httpEndpoint 'enabled' (EKS nodes bootstrap from instance metadata), got {endpoint!r}"


# --- 7: node and persistent volumes encrypted with the customer key ------------------------

def eks_node_volumes_encrypted(r: Resource, _: Context) -> Iterator[str]:
    if r.type == NODE_GROUP:
        if r.inputs.get("launchTemplate") is None:
            yield ("set launchTemplate to a template whose block devices are encrypted with the stack's KMS key "
                   "(EKS's default template uses the account's default EBS key at best)")
        return
    if r.type == STORAGE_CLASS:
        if r.inputs.get("provisioner") not in EBS_PROVISIONERS:
            return
        params = r.inputs.get("parameters") or {}
        if not isinstance(params, Mapping):
            return
        encrypted = params.get("encrypted")
        if encrypted is None or (_known(encrypted) and not _true(encrypted)):
            yield f"set parameters.encrypted 'true', got {encrypted!r}"
        if params.get("kmsKeyId") in (None, ""):
            yield "set parameters.kmsKeyId to the stack's KMS key: persistent volumes encrypted with the customer key"
        return
    mappings = r.inputs.get("blockDeviceMappings")
    if mappings is None or (isinstance(mappings, list) and not mappings):
        yield ("add blockDeviceMappings for the root volume (/dev/xvda) with ebs.encrypted 'true' and ebs.kmsKeyId "
               "the stack's KMS key: the AMI's own mapping does not use the customer key")
        return
    for m in mappings if isinstance(mappings, list) else []:
        if not isinstance(m, Mapping) or not isinstance(m.get("ebs"), Mapping):
            continue  # instance store or NoDevice
        device, ebs = m.get("deviceName") or "(device)", m["ebs"]
        encrypted = ebs.get("encrypted")
        if encrypted is None or (_known(encrypted) and not _true(encrypted)):
            yield f"blockDeviceMappings {device}: set ebs.encrypted 'true', got {encrypted!r}"
        if ebs.get("kmsKeyId") is None or ebs.get("kmsKeyId") == "":
            yield f"blockDeviceMappings {device}: set ebs.kmsKeyId to the stack's KMS key"


# --- 8: dedicated tenancy on the launch templates, never on the VPC ------------------------

def _launch_template_of(node_group: Resource, templates: list[Resource]) -> Resource | None:
    ref = node_group.inputs.get("launchTemplate")
    if not isinstance(ref, Mapping):
        return None
    for t in templates:
        if ref.get("id") in _refs(t) or (ref.get("name") and ref.get("name") == t.inputs.get("name")):
            return t
    return None


def eks_dedicated_tenancy(resources: list[Resource], context: Context) -> Iterator[str]:
    for vpc in _of(resources, VPC):
        tenancy = vpc.inputs.get("instanceTenancy")
        if tenancy is not None and _known(tenancy) and tenancy != "default":
            yield (f"VPC {vpc.name}: set instanceTenancy 'default' (EKS rejects dedicated-tenancy VPCs); set "
                   f"placement.tenancy on the node launch templates instead, got {tenancy!r}")
    templates = _of(resources, LAUNCH_TEMPLATE)
    for t in templates:
        placement = t.inputs.get("placement")
        tenancy = _get(placement, "tenancy")
        if tenancy == "host" and not _get(placement, "hostResourceGroupArn") \
                and "hostResourceGroupArn" not in (placement or {}):
            yield (f"launch template {t.name}: placement.tenancy 'host' needs placement.hostResourceGroupArn "
                   "(EC2 Auto Scaling launches onto Dedicated Hosts only through a host resource group)")
        if context.production and (tenancy is None or (_known(tenancy) and tenancy not in ("dedicated", "host"))):
            yield (f"launch template {t.name}: production nodes run on single-tenant hardware: set "
                   f"placement.tenancy 'dedicated' (or 'host'), got {tenancy!r}")
    for ng in _of(resources, NODE_GROUP):
        template = _launch_template_of(ng, templates)
        if ng.inputs.get("capacityType") == "SPOT" and template is not None \
                and _get(template.inputs, "placement", "tenancy") == "host":
            yield (f"node group {ng.name}: EC2 runs no Spot Instances on Dedicated Hosts: use capacityType "
                   "ON_DEMAND or tenancy 'dedicated'")


# --- 9: nodes in private subnets, no public IPs, no SSH -----------------------------------

def _public_subnets(resources: list[Resource]) -> dict[str, str]:
    """Subnet reference -> why it is public (maps public IPs, or routes to an internet gateway)."""
    gateways = set().union(*(_refs(g) for g in _of(resources, INTERNET_GATEWAY)))

    def to_internet(route: Any) -> bool:
        gw = _get(route, "gatewayId")
        return isinstance(gw, str) and _known(gw) and (gw in gateways or gw.startswith("igw-"))

    public_tables: set[str] = set()
    for table in _of(resources, ROUTE_TABLE):
        if any(to_internet(route) for route in _list(table.inputs.get("routes"))):
            public_tables |= _refs(table)
    for route in _of(resources, ROUTE):
        if to_internet(route.inputs) and isinstance(route.inputs.get("routeTableId"), str):
            public_tables.add(route.inputs["routeTableId"])
    routed = {a.inputs.get("subnetId") for a in _of(resources, ROUTE_TABLE_ASSOCIATION)
              if a.inputs.get("routeTableId") in public_tables}
    out: dict[str, str] = {}
    for subnet in _of(resources, SUBNET):
        refs = _refs(subnet)
        if subnet.inputs.get("mapPublicIpOnLaunch") is True:
            out.update(dict.fromkeys(refs, f"subnet {subnet.name} gives instances public IPs (mapPublicIpOnLaunch)"))
        elif refs & routed:
            out.update(dict.fromkeys(refs, f"subnet {subnet.name} routes to an internet gateway"))
    return out


def eks_nodes_private(resources: list[Resource], _: Context) -> Iterator[str]:
    public = _public_subnets(resources)
    for ng in _of(resources, NODE_GROUP):
        if ng.inputs.get("remoteAccess") not in (None, {}):
            yield (f"node group {ng.name}: remove remoteAccess: no SSH to nodes (use SSM Session Manager or "
                   "kubectl debug)")
        subnets = ng.inputs.get("subnetIds")
        for subnet in subnets if isinstance(subnets, list) else []:
            if isinstance(subnet, str) and subnet in public:
                yield f"node group {ng.name}: use private subnets only: {public[subnet]}"
    for t in _of(resources, LAUNCH_TEMPLATE):
        if t.inputs.get("keyName") not in (None, ""):
            yield f"launch template {t.name}: remove keyName: no SSH key pair on nodes"
        for i, nic in enumerate(_list(t.inputs.get("networkInterfaces"))):
            if _true(_get(nic, "associatePublicIpAddress")):
                yield f"launch template {t.name}: set networkInterfaces[{i}].associatePublicIpAddress false"


# --- 10: node roles minimal (CNI on its IRSA role); no `*` actions anywhere ----------------

def _managed_policies_by_role(resources: list[Resource]) -> dict[Any, list[tuple[str, Any]]]:
    """Role reference (as the input has it, None where unset) -> [(attachment resource name, policy ARN)]."""
    out: dict[Any, list[tuple[str, Any]]] = defaultdict(list)
    for a in _of(resources, ROLE_POLICY_ATTACHMENT):
        out[a.inputs.get("role")].append((a.name, a.inputs.get("policyArn")))
    for a in _of(resources, POLICY_ATTACHMENT):
        for role in _list(a.inputs.get("roles")):
            out[role].append((a.name, a.inputs.get("policyArn")))
    return out


def _inline_policies_by_role(resources: list[Resource]) -> dict[Any, list[Resource]]:
    out: dict[Any, list[Resource]] = defaultdict(list)
    for p in _of(resources, ROLE_POLICY):
        out[p.inputs.get("role")].append(p)
    return out


def _role_policies(role: Resource, managed: Mapping, inline: Mapping) -> tuple[list[Any], list[tuple[str, Any]]]:
    """(managed policy ARNs, [(where, inline document input)]) of one role."""
    refs = _refs(role, "name")
    arns = [arn for ref in refs for _, arn in managed.get(ref, [])]
    arns += [a for a in _list(role.inputs.get("managedPolicyArns"))]
    docs = [(f"role policy {p.name}", p.inputs.get("policy")) for ref in refs for p in inline.get(ref, [])]
    docs += [(f"inlinePolicies[{i}]", _get(p, "policy")) for i, p in enumerate(_list(role.inputs.get("inlinePolicies")))]
    return arns, docs


def _is_node_role(role: Resource) -> bool:
    trust = _document(role.inputs.get("assumeRolePolicy"))
    return any(s.startswith("ec2.amazonaws.com") for st in _allows(trust) for s in _principals(st, "Service"))


def eks_node_role_minimal(resources: list[Resource], _: Context) -> Iterator[str]:
    managed, inline = _managed_policies_by_role(resources), _inline_policies_by_role(resources)
    for role in _of(resources, ROLE):
        if not _is_node_role(role):
            continue
        label = f"node role {role.inputs.get('name') or role.name}"
        arns, docs = _role_policies(role, managed, inline)
        for arn in arns:
            name = _policy_name(arn)
            if name == CNI_POLICY:
                yield (f"{label}: detach {CNI_POLICY}; give it to the vpc-cni add-on's IRSA role "
                       "(kube-system/aws-node), so that pods cannot borrow it from the node")
            elif name is not None and not (_aws_managed(arn) and name in NODE_POLICIES):
                yield f"{label}: detach {arn}: a node role has only AmazonEKSWorkerNodePolicy and ECR read-only"
        for where, _doc in docs:
            yield f"{label}: remove {where}: a node role has only AmazonEKSWorkerNodePolicy and ECR read-only"
    for addon in _of(resources, ADDON):
        if addon.inputs.get("addonName") == "vpc-cni" and addon.inputs.get("serviceAccountRoleArn") in (None, ""):
            yield (f"add-on {addon.name}: set serviceAccountRoleArn to an IRSA role with {CNI_POLICY} (the node "
                   "role does not carry it)")


def _wildcard_actions(doc: Mapping | None) -> Iterator[str]:
    for statement in _allows(doc):
        sid = statement.get("Sid") or "(no Sid)"
        if "NotAction" in statement:
            yield f"statement {sid!r} allows NotAction (everything else): list the actions instead"
        for action in _list(statement.get("Action")):
            if isinstance(action, str) and "*" in action:
                yield f"statement {sid!r} allows {action!r}: spell out the actions it needs"


def iam_no_wildcard_actions(r: Resource, _: Context) -> Iterator[str]:
    for key in POLICY_DOCUMENTS.get(r.type, ()):
        for message in _wildcard_actions(_document(r.inputs.get(key))):
            yield f"{key}: {message}"
    if r.type == ROLE:
        for i, p in enumerate(_list(r.inputs.get("inlinePolicies"))):
            for message in _wildcard_actions(_document(_get(p, "policy"))):
                yield f"inlinePolicies[{i}]: {message}"
    if r.type == ROLE:
        arns = _list(r.inputs.get("managedPolicyArns"))
    elif r.type in POLICY_ARN_ATTACHMENTS:
        arns = [r.inputs.get("policyArn")]
    else:
        arns = []
    for arn in arns:
        if _aws_managed(arn) and _policy_name(arn) in ADMIN_POLICIES:
            yield f"do not attach {arn}: it allows every action; attach a policy that lists what is needed"


# --- 11: workload roles trust one service account, read one model's prefix ------------------

def _condition_values(statement: Mapping, operator: str, key: str) -> list | None:
    cond = _get(statement, "Condition", operator)
    if not isinstance(cond, Mapping) or key not in cond:
        return None
    return _list(cond[key])


def iam_irsa_trust_scoped(r: Resource, _: Context) -> Iterator[str]:
    for statement in _allows(_document(r.inputs.get("assumeRolePolicy"))):
        for provider in _principals(statement, "Federated"):
            if ":oidc-provider/" not in provider:
                continue
            host = provider.split(":oidc-provider/", 1)[1]
            sub = _condition_values(statement, "StringEquals", f"{host}:sub")
            like = _condition_values(statement, "StringLike", f"{host}:sub")
            if like is not None:
                yield (f"trust policy: match {host}:sub with StringEquals, not StringLike: exactly "
                       "'system:serviceaccount:<namespace>:<name>'")
            elif sub is None:
                yield (f"trust policy: add StringEquals {host}:sub = 'system:serviceaccount:<namespace>:<name>': "
                       "without it every service account of the cluster can assume the role")
            elif len(sub) != 1 or not all(isinstance(s, str) and SERVICE_ACCOUNT_SUBJECT.match(s) for s in sub):
                yield (f"trust policy: {host}:sub must name exactly one service account "
                       f"('system:serviceaccount:<namespace>:<name>', no wildcards), got {sub!r}")
            aud = _condition_values(statement, "StringEquals", f"{host}:aud")
            if aud != [STS_AUDIENCE]:
                yield f"trust policy: add StringEquals {host}:aud = '{STS_AUDIENCE}', got {aud!r}"


def _model_statement_problems(statement: Mapping) -> Iterator[str]:
    actions = [a for a in _list(statement.get("Action")) if isinstance(a, str)]
    extra = sorted(set(actions) - MODEL_READ_ACTIONS)
    if extra:
        yield f"allows {extra}: a model role only lists and reads its prefix and decrypts through S3"
    resources = [x for x in _list(statement.get("Resource")) if isinstance(x, str)]
    if {"s3:GetObject", "s3:GetObjectVersion"} & set(actions):
        for res in resources:
            m = re.match(r"^arn:aws[a-z-]*:s3:::[^/]+/(.+)/\*$", res)
            if not m or "*" in m.group(1):
                yield f"reads {res!r}: limit s3:GetObject to 'arn:aws:s3:::<bucket>/<model prefix>/*'"
    if "s3:ListBucket" in actions and _condition_values(statement, "StringLike", "s3:prefix") is None \
            and _condition_values(statement, "StringEquals", "s3:prefix") is None:
        yield "lists the whole bucket: add a condition on s3:prefix to the model's prefix"
    if "kms:Decrypt" in actions and "*" in resources:
        yield "decrypts with any key: limit kms:Decrypt to the stack's key"


def iam_model_roles_read_only(resources: list[Resource], _: Context) -> Iterator[str]:
    managed, inline = _managed_policies_by_role(resources), _inline_policies_by_role(resources)
    roles_of: dict[str, list[str]] = defaultdict(list)
    for role in _of(resources, ROLE):
        model = _get(role.inputs, "tags", MODEL_TAG)
        if not isinstance(model, str) or not _known(model):
            continue
        label = f"model role {role.inputs.get('name') or role.name}"
        roles_of[model].append(role.name)
        arns, docs = _role_policies(role, managed, inline)
        for arn in arns:
            if arn is not None:
                yield f"{label}: detach {arn}: a model role reads its own prefix through its inline policy only"
        for where, value in docs:
            for statement in _allows(_document(value)):
                for problem in _model_statement_problems(statement):
                    yield f"{label}: {where} statement {statement.get('Sid') or '(no Sid)'!r} {problem}"
    for model, names in sorted(roles_of.items()):
        if len(names) > 1:
            yield f"model {model!r} has {len(names)} roles {sorted(names)}: one role per model"


# --- 12: model bucket: SSE-KMS with the key, no public access, TLS only, versioning ------------

def _denies_insecure_transport(doc: Mapping | None) -> bool:
    for statement in _statements(doc):
        if statement.get("Effect") != "Deny" or not _wildcard_principal(statement):
            continue
        actions = _list(statement.get("Action"))
        secure = _condition_values(statement, "Bool", "aws:SecureTransport")
        if ("*" in actions or "s3:*" in actions) and secure is not None \
                and [str(v).lower() for v in secure] == ["false"]:
            return True
    return False


def _bucket_setting_problems(r: Resource) -> Iterator[str]:
    i = r.inputs
    if r.type in BUCKET_ENCRYPTION:
        rules = i.get("rules")
        for rule in rules if isinstance(rules, list) else []:
            default = _get(rule, "applyServerSideEncryptionByDefault")
            algorithm = _get(default, "sseAlgorithm")
            if algorithm is None or (_known(algorithm) and algorithm not in ("aws:kms", "aws:kms:dsse")):
                yield ("set applyServerSideEncryptionByDefault.sseAlgorithm 'aws:kms' (SSE-KMS with the stack's "
                       f"key), got {algorithm!r}")
            elif _get(default, "kmsMasterKeyId") in (None, ""):
                yield "set applyServerSideEncryptionByDefault.kmsMasterKeyId to the stack's KMS key"
        if isinstance(rules, list) and not rules:
            yield "add a rule with sseAlgorithm 'aws:kms' and kmsMasterKeyId the stack's KMS key"
    elif r.type in BUCKET_PUBLIC_ACCESS_BLOCK:
        for field in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
            value = i.get(field)
            if value is None or (_known(value) and value is not True):
                yield f"set {field} true, got {value!r}"
    elif r.type in BUCKET_VERSIONING:
        status = _get(i, "versioningConfiguration", "status")
        if status is None or (_known(status) and status != "Enabled"):
            yield f"set versioningConfiguration.status 'Enabled' (overwritten weights stay recoverable), got {status!r}"
    elif r.type in BUCKET_POLICY:
        doc = _document(i.get("policy"))
        if doc is not None and not _denies_insecure_transport(doc):
            yield ("add a statement denying s3:* to '*' when aws:SecureTransport is 'false' "
                   "(TLS only)")


def s3_bucket_hardened(resources: list[Resource], _: Context) -> Iterator[str]:
    settings = {
        "a server-side encryption configuration (SSE-KMS with the stack's key)": BUCKET_ENCRYPTION,
        "a public access block with all four settings true": BUCKET_PUBLIC_ACCESS_BLOCK,
        "a bucket policy that denies requests without TLS (aws:SecureTransport false)": BUCKET_POLICY,
        "versioning 'Enabled'": BUCKET_VERSIONING,
    }
    for types in settings.values():
        for r in _of(resources, *types):
            for problem in _bucket_setting_problems(r):
                yield f"{r.type.rsplit(':', 1)[-1]} {r.name} (bucket {r.inputs.get('bucket')}): {problem}"
    for bucket in _of(resources, *BUCKET):
        refs = _refs(bucket, "bucket")
        for what, types in settings.items():
            targets = [r.inputs.get("bucket") for r in _of(resources, *types)]
            if any(t in refs for t in targets if isinstance(t, str)) or any(not _known(t) for t in targets):
                continue  # present, or perhaps present where the bucket's id is not known yet
            yield f"bucket {bucket.inputs.get('bucket') or bucket.name}: add {what}"


# --- 43: trust and keys stay inside the stack's own account ---------------------------------

_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):")
KEY_REFERENCES = ("kmsKeyId", "kmsKeyArn", "keyArn", "kmsMasterKeyId")


def _account_of(value: Any) -> str | None:
    if isinstance(value, str) and _known(value):
        if re.fullmatch(r"\d{12}", value):
            return value
        m = _ACCOUNT.match(value)
        return m.group(1) if m else None
    return None


def _key_references(obj: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            where = f"{path}.{k}" if path else str(k)
            if k in KEY_REFERENCES:
                yield where, v
            else:
                yield from _key_references(v, where)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _key_references(v, f"{path}[{i}]")


def aws_trust_and_keys_in_own_account(r: Resource, context: Context) -> Iterator[str]:
    accounts = {a for a in context.accounts if re.fullmatch(r"\d{12}", a)}
    if r.type == ROLE:
        for statement in _allows(_document(r.inputs.get("assumeRolePolicy"))):
            sid = statement.get("Sid") or "(no Sid)"
            if _wildcard_principal(statement):
                yield f"trust policy statement {sid!r} lets principal '*' assume the role: name who may"
            for kind in ("AWS", "Federated"):
                for principal in _principals(statement, kind):
                    account = _account_of(principal)
                    if accounts and account is not None and account not in accounts:
                        yield (f"trust policy statement {sid!r} trusts {principal!r} of account {account}, not the "
                               f"stack's {sorted(accounts)}: name the foreign account in config if it is meant")
    if r.type in (KMS_KEY, KMS_KEY_POLICY) and accounts:
        for statement in _allows(_document(r.inputs.get("policy"))):
            for principal in _principals(statement, "AWS"):
                account = _account_of(principal)
                if account is not None and account not in accounts:
                    yield (f"key policy statement {statement.get('Sid') or '(no Sid)'!r} grants {principal!r} of "
                           f"account {account}: keys serve the stack's own account {sorted(accounts)}")
    if accounts:
        for where, value in _key_references(r.inputs):
            account = _account_of(value)
            if account is not None and account not in accounts:
                yield (f"{where} uses a key of account {account}: use the stack's own key (account "
                       f"{sorted(accounts)}); a foreign key's owner can read or revoke everything it encrypts")


# --- 31, 33: a pod sees only the GPUs it was allocated --------------------------------------------

# The NVIDIA toolkit settings `volume-mounts` needs on every GPU node (llm_infra.kubernetes.device_plugin.
# NODE_RUNTIME_SETTINGS; a test keeps them equal); GPU launch templates carry the pool tag.
GPU_NODE_RUNTIME_SETTINGS = (
    "accept-nvidia-visible-devices-envvar-when-unprivileged=false",
    "accept-nvidia-visible-devices-as-volume-mounts=true",
)
GPU_POOL_TAG = "llm-infra.io/gpu-pool"


def _device_list_strategies(resources: list[Resource]) -> set[str]:
    out = set()
    for r in resources:
        if r.kind != "DaemonSet":
            continue
        for c in _list(_get(r.inputs, "spec", "template", "spec", "containers")):
            if isinstance(c, Mapping) and "k8s-device-plugin" in str(c.get("image") or ""):
                env = {e.get("name"): e.get("value") for e in _list(c.get("env")) if isinstance(e, Mapping)}
                out.add(str(env.get("DEVICE_LIST_STRATEGY") or "envvar"))
    return out


def _user_data_sets_runtime(user_data: Any) -> bool:
    import base64
    import binascii

    try:
        text = base64.b64decode(str(user_data), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return False
    return all(setting in text for setting in GPU_NODE_RUNTIME_SETTINGS)


def eks_gpu_nodes_match_the_device_list(resources: list[Resource], _: Context) -> Iterator[str]:
    strategies = _device_list_strategies(resources)
    for r in resources:
        if r.type != LAUNCH_TEMPLATE or not _get(r.inputs, "tags", GPU_POOL_TAG):
            continue
        user_data = _get(r.inputs, "userData")
        if not _known(user_data) and user_data is not None:
            continue
        configured = user_data is not None and _user_data_sets_runtime(user_data)
        if "volume-mounts" in strategies and not configured:
            yield (f"{r.label}: the device plugin hands GPUs over as volume mounts, but this GPU node's user data "
                   "does not set the NVIDIA toolkit to honour only them: any pod setting NVIDIA_VISIBLE_DEVICES sees "
                   "every GPU")
        if configured and strategies and "volume-mounts" not in strategies:
            yield (f"{r.label}: the node's toolkit ignores NVIDIA_VISIBLE_DEVICES, but the device plugin uses "
                   f"{sorted(strategies)}: no container would get its GPUs")


RULES: list[Rule] = [
    Rule("eks-gpu-nodes-match-the-device-list", "With the volume-mounts device list, every EKS GPU node's NVIDIA "
         "toolkit honours only the plugin's mounts (a pod sees only its GPUs).", "31, 33", "stack",
         eks_gpu_nodes_match_the_device_list),
    Rule("aws-trust-and-keys-in-own-account", "No role trusts '*' or a foreign account; key policies grant only the "
         "stack's account; every key used belongs to it.", "43", "resource", aws_trust_and_keys_in_own_account,
         resource_types=("aws:",)),
    Rule("eks-secrets-encrypted", "EKS Secrets are envelope-encrypted with the customer KMS key.", "1",
         "resource", eks_secrets_encrypted, resource_types=(CLUSTER,)),
    Rule("aws-kms-key-hardened", "KMS keys rotate, wait 30 days before deletion, and trust no '*' principal.", "2",
         "resource", kms_key_hardened, resource_types=(KMS_KEY, KMS_KEY_POLICY)),
    Rule("eks-endpoint-private", "EKS API endpoint private; public only for an allowlist without 0.0.0.0/0.", "3",
         "resource", eks_endpoint_private, resource_types=(CLUSTER,)),
    Rule("eks-control-plane-logs", "EKS api, audit and authenticator logs go to a KMS-encrypted log group with "
         "retention.", "4", "stack", eks_control_plane_logs),
    Rule("eks-access-entries-only", "EKS authentication mode API; the cluster creator is not a permanent admin.", "5",
         "resource", eks_access_entries_only, resource_types=(CLUSTER,)),
    Rule("eks-node-imdsv2", "Node launch templates require IMDSv2 with hop limit 1 and the endpoint enabled.", "6",
         "resource", eks_node_imdsv2, resource_types=(LAUNCH_TEMPLATE, NODE_GROUP)),
    Rule("eks-node-volumes-encrypted", "Node and persistent EBS volumes are encrypted with the customer key.", "7",
         "resource", eks_node_volumes_encrypted, resource_types=(LAUNCH_TEMPLATE, NODE_GROUP, STORAGE_CLASS)),
    Rule("eks-dedicated-tenancy", "Isolation by launch-template tenancy (dedicated in production), never a "
         "dedicated VPC; no host tenancy without a host group or with Spot.", "8", "stack", eks_dedicated_tenancy),
    Rule("eks-nodes-private", "Nodes in private subnets without public IPs; no SSH.", "9", "stack", eks_nodes_private),
    Rule("eks-node-role-minimal", "Node roles carry only the worker-node and ECR read-only policies; the CNI policy "
         "is on the vpc-cni IRSA role.", "10", "stack", eks_node_role_minimal),
    Rule("iam-no-wildcard-actions", "No IAM, key or bucket policy allows a '*' action.", "10",
         "resource", iam_no_wildcard_actions,
         resource_types=(*POLICY_DOCUMENTS, *POLICY_ARN_ATTACHMENTS)),
    Rule("iam-irsa-trust-scoped", "IRSA roles trust exactly one service account with audience sts.amazonaws.com.",
         "11", "resource", iam_irsa_trust_scoped, resource_types=(ROLE,)),
    Rule("iam-model-roles-read-only", "One role per model: list and read its prefix, decrypt through S3, nothing else.",
         "11", "stack", iam_model_roles_read_only),
    Rule("s3-bucket-hardened", "S3 buckets: SSE-KMS with the key, public access blocked, TLS-only policy, "
         "versioning.", "12", "stack", s3_bucket_hardened),
]
