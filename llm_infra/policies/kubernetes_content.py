"""What Kubernetes objects say, not only that they exist (SECURITY.md 34, 43, 46, 48).

NetworkPolicy peers and ports, pod and container privileges beyond `containers-hardened`,
Service exposure, Ingress objects, RBAC, API tokens and secrets in environment variables.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import Any

from . import Context, Resource, Rule, get, known
from .kubernetes import K8S, _containers, pod_template

METADATA_ADDRESS = ipaddress.ip_address("169.254.169.254")
# The one metadata path a pod may keep: GKE's metadata server answers pods with their own
# Workload Identity (GKE_METADATA), never the node's credentials. The workload annotates it.
METADATA_EGRESS_ANNOTATION = "llm-infra.io/metadata-egress"
# llm_infra.contract.PRIVATE_RANGES (a test keeps them equal): egress to the internet excepts them.
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
ADMIN_ROLES = ("cluster-admin", "admin", "edit")
# Groups that take in every client of the API server.
OPEN_GROUPS = ("system:anonymous", "system:unauthenticated", "system:authenticated")
_CREDENTIAL_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.I)
# Shapes of real credentials, whatever the variable or key is called.
_CREDENTIAL_VALUE = re.compile(
    r"(AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|hf_[A-Za-z0-9]{30,}|gh[pousr]_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9]{20,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----|AccountKey=[A-Za-z0-9+/=]{20,}|xox[baprs]-[A-Za-z0-9-]{10,})")


def _empty_selector(selector: Any) -> bool:
    return isinstance(selector, Mapping) and not selector.get("matchLabels") and not selector.get("matchExpressions")


def _network(cidr: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(cidr, str) or not known(cidr):
        return None
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return None


def _peer_problems(peer: Any, kind: str) -> Iterator[str]:
    direction = "egress" if kind == "egress-model" else kind
    if not isinstance(peer, Mapping):
        return
    pods, namespaces, block = peer.get("podSelector"), peer.get("namespaceSelector"), peer.get("ipBlock")
    if pods is None and namespaces is None and block is None:
        yield f"{direction} peer {{}} matches everything: name the pods, namespaces or addresses"
    if namespaces is not None and _empty_selector(namespaces):
        yield (f"{direction} peer namespaceSelector {{}} matches every namespace: select the namespaces by "
               "kubernetes.io/metadata.name")
    net = _network(get(block, "cidr"))
    if direction == "ingress" and net is not None and net.prefixlen == 0:
        yield f"ingress from ipBlock {net} admits every address: list the client networks"
    if kind == "egress-model" and net is not None and net.prefixlen == 0 and net.version == 4:
        excepted = [_network(e) for e in (get(block, "except") or [])]
        open_ranges = [p for p in PRIVATE_RANGES
                       if not any(ipaddress.IPv4Network(p).subnet_of(e) for e in excepted
                                  if isinstance(e, ipaddress.IPv4Network))]
        if open_ranges:
            yield (f"egress to ipBlock {net} reaches private addresses {open_ranges} (the VPC, other pods and "
                   "services): add them to ipBlock.except, and name a private endpoint as its own peer")


def network_policy_no_open_peers(r: Resource, _: Context) -> Iterator[str]:
    if r.kind != "NetworkPolicy":
        return
    spec = get(r.inputs, "spec") or {}
    for direction, key, peers_key in (("ingress", "ingress", "from"), ("egress", "egress", "to")):
        rules = spec.get(key)
        if not isinstance(rules, list):
            continue
        for i, rule in enumerate(rules):
            if not isinstance(rule, Mapping):
                continue
            peers = rule.get(peers_key)
            if peers is None or (isinstance(peers, list) and not peers):
                yield (f"{key}[{i}] has no '{peers_key}': it {'admits' if direction == 'ingress' else 'reaches'} "
                       "every address and namespace; name the peers")
                continue
            # Model pods reach the internet (weights, identity) but nothing private but the store.
            model = direction == "egress" and get(spec, "podSelector", "matchLabels", "app.kubernetes.io/name") == "triton"
            for peer in peers if isinstance(peers, list) else []:
                for problem in _peer_problems(peer, "egress-model" if model else direction):
                    yield f"{key}[{i}]: {problem}"


def _reaches_metadata(rule: Mapping) -> bool:
    peers = rule.get("to")
    if peers is None or (isinstance(peers, list) and not peers):
        return True
    for peer in peers if isinstance(peers, list) else []:
        if not isinstance(peer, Mapping) or peer.get("podSelector") is not None \
                or peer.get("namespaceSelector") is not None:
            continue
        block = peer.get("ipBlock")
        if block is None:
            return True  # an empty peer
        net = _network(get(block, "cidr"))
        if net is None or METADATA_ADDRESS not in net:
            continue
        excepts = [_network(e) for e in (get(block, "except") or [])]
        if not any(e is not None and METADATA_ADDRESS in e for e in excepts):
            return True
    return False


def metadata_blocked_for_every_pod(resources: list[Resource], _: Context) -> Iterator[str]:
    """Every egress rule of every policy: none reaches 169.254.169.254 (the node's credentials)."""
    for r in resources:
        if r.kind != "NetworkPolicy":
            continue
        if get(r.inputs, "metadata", "annotations", METADATA_EGRESS_ANNOTATION) == "gke-metadata-server":
            allowed = True
        else:
            allowed = False
        for i, rule in enumerate(get(r.inputs, "spec", "egress") or []):
            if not isinstance(rule, Mapping) or not _reaches_metadata(rule):
                continue
            peers = rule.get("to") or []
            only_metadata = all(_network(get(p, "ipBlock", "cidr")) == ipaddress.ip_network("169.254.169.254/32")
                                for p in peers) and bool(peers)
            if allowed and only_metadata:
                continue
            yield (f"{r.label}: egress[{i}] reaches the node metadata service 169.254.169.254 (the node's "
                   "credentials): add 169.254.0.0/16 to ipBlock.except, or name narrower peers")


# --- pods -------------------------------------------------------------------------------------


def no_added_capabilities(r: Resource, _: Context) -> Iterator[str]:
    pod = pod_template(r)
    if pod is None:
        return
    for c in _containers(pod[1]):
        added = get(c, "securityContext", "capabilities", "add")
        if isinstance(added, list) and added:
            yield f"container {c.get('name')}: remove securityContext.capabilities.add {added}"


def no_host_ports_or_namespaces(r: Resource, _: Context) -> Iterator[str]:
    pod = pod_template(r)
    if pod is None:
        return
    spec = pod[1]
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is True:
            yield f"set {key} false: the pod would share the node's {key[4:].lower()} namespace"
    for c in _containers(spec):
        for port in c.get("ports") or []:
            if isinstance(port, Mapping) and port.get("hostPort") not in (None, 0):
                yield (f"container {c.get('name')}: remove hostPort {port.get('hostPort')}: it opens the port on "
                       "the node, past every NetworkPolicy")


def service_account_token_not_mounted(resources: list[Resource], _: Context) -> Iterator[str]:
    """Pods mount no Kubernetes API token unless their service account is bound to a role in the stack."""
    bound = set()
    for b in resources:
        if b.kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        for s in get(b.inputs, "subjects") or []:
            if isinstance(s, Mapping) and s.get("kind") == "ServiceAccount":
                bound.add((s.get("namespace") or get(b.inputs, "metadata", "namespace"), s.get("name")))
    accounts = {(get(r.inputs, "metadata", "namespace"), get(r.inputs, "metadata", "name")): r
                for r in resources if r.kind == "ServiceAccount"}
    for r in resources:
        pod = pod_template(r)
        if pod is None:
            continue
        spec = pod[1]
        ns = get(r.inputs, "metadata", "namespace")
        sa = spec.get("serviceAccountName") or "default"
        if (ns, sa) in bound:
            continue
        mount = spec.get("automountServiceAccountToken")
        if mount is None:
            account = accounts.get((ns, sa))
            mount = account.inputs.get("automountServiceAccountToken") if account is not None else None
        if mount is not False and (mount is None or known(mount)):
            yield (f"{r.label}: set automountServiceAccountToken false: service account {sa} has no role, and a "
                   "mounted token only helps whoever takes over the pod")


def secrets_not_in_env(r: Resource, _: Context) -> Iterator[str]:
    if r.kind == "ConfigMap":
        for key, value in (get(r.inputs, "data") or {}).items():
            if isinstance(value, str) and _CREDENTIAL_VALUE.search(value):
                yield f"ConfigMap key {key!r} holds a credential: keep it in a Secret, mounted as a file"
        return
    pod = pod_template(r)
    if pod is None:
        return
    for c in _containers(pod[1]):
        name = c.get("name")
        for env in c.get("env") or []:
            if not isinstance(env, Mapping):
                continue
            value = env.get("value")
            if get(env, "valueFrom", "secretKeyRef") is not None:
                yield (f"container {name}: env {env.get('name')} reads a Secret: mount it as a file instead "
                       "(environment variables leak into logs, crash dumps and child processes)")
            elif isinstance(value, str) and value and (_CREDENTIAL_VALUE.search(value) or (
                    _CREDENTIAL_NAME.search(str(env.get("name"))) and known(value))):
                yield f"container {name}: env {env.get('name')} holds a credential in the pod spec: use a Secret file"
        for source in c.get("envFrom") or []:
            if isinstance(source, Mapping) and source.get("secretRef") is not None:
                yield f"container {name}: envFrom a Secret: mount it as a file instead"


# --- exposure ---------------------------------------------------------------------------------


def services_no_external_ips(r: Resource, _: Context) -> Iterator[str]:
    if r.kind != "Service":
        return
    ips = get(r.inputs, "spec", "externalIPs")
    if isinstance(ips, list) and ips:
        yield f"remove spec.externalIPs {ips}: any node then answers for those addresses (CVE-2020-8554)"


def no_ingress_objects(r: Resource, _: Context) -> Iterator[str]:
    if r.kind == "Ingress":
        yield ("an Ingress exposes models past their NetworkPolicy's client list: reach them through an internal "
               "gateway in a client namespace instead")


def helm_releases_in_prepared_namespaces(resources: list[Resource], _: Context) -> Iterator[str]:
    """Helm creates namespaces without Pod Security labels or isolation: the stack creates them."""
    namespaces = {get(r.inputs, "metadata", "name"): r for r in resources if r.kind == "Namespace"}
    for r in resources:
        if not r.type.startswith("kubernetes:helm.sh/"):
            continue
        ns = r.inputs.get("namespace")
        if r.inputs.get("createNamespace") is True:
            yield (f"Helm release {r.inputs.get('name') or r.name}: set createNamespace false and create namespace "
                   f"{ns!r} in the stack with Pod Security labels")
        elif isinstance(ns, str) and known(ns) and ns not in namespaces and ns not in ("kube-system", "default"):
            yield (f"Helm release {r.inputs.get('name') or r.name}: namespace {ns!r} is not created by the stack: "
                   "create it with Pod Security labels")


# --- RBAC -------------------------------------------------------------------------------------


def rbac_least_privilege(r: Resource, _: Context) -> Iterator[str]:
    if r.kind in ("RoleBinding", "ClusterRoleBinding"):
        role = get(r.inputs, "roleRef", "name")
        if role in ADMIN_ROLES:
            yield f"do not bind {role!r}: bind a role that lists the verbs and resources the subject needs"
        for s in get(r.inputs, "subjects") or []:
            if isinstance(s, Mapping) and s.get("kind") == "Group" and s.get("name") in OPEN_GROUPS:
                yield f"do not bind the group {s.get('name')!r}: it is every client of the API server"
    elif r.kind in ("Role", "ClusterRole"):
        if r.kind == "ClusterRole" and get(r.inputs, "aggregationRule") is not None:
            yield "do not aggregate roles: list the rules the role grants"
        for i, rule in enumerate(get(r.inputs, "rules") or []):
            if not isinstance(rule, Mapping):
                continue
            for key in ("verbs", "resources", "apiGroups", "nonResourceURLs"):
                values = rule.get(key)
                if isinstance(values, list) and "*" in values:
                    yield f"rules[{i}].{key} contains '*': list what the role needs"
            for verb in ("escalate", "bind", "impersonate"):
                if verb in (rule.get("verbs") or []):
                    yield f"rules[{i}] grants {verb!r}: a way to every other permission"
            if "secrets" in (rule.get("resources") or []) and not rule.get("resourceNames"):
                yield f"rules[{i}] reads every Secret: limit it with resourceNames"


RULES: list[Rule] = [
    Rule("network-policy-no-open-peers", "NetworkPolicy rules name their peers: no allow-all rule, no empty peer, "
         "no all-namespaces selector, no ingress from 0.0.0.0/0.", "34, 43", "resource",
         network_policy_no_open_peers, resource_types=K8S),
    Rule("egress-blocks-node-metadata", "No egress rule of any NetworkPolicy reaches 169.254.169.254 (GKE's "
         "metadata server only where annotated).", "34, 43", "stack", metadata_blocked_for_every_pod),
    Rule("no-added-capabilities", "No container adds Linux capabilities.", "32", "resource", no_added_capabilities,
         resource_types=K8S),
    Rule("no-host-ports-or-namespaces", "No hostPort, hostNetwork, hostPID or hostIPC.", "32, 34", "resource",
         no_host_ports_or_namespaces, resource_types=K8S),
    Rule("service-account-token-not-mounted", "Pods mount no API token unless their service account has a role.",
         "32", "stack", service_account_token_not_mounted),
    Rule("secrets-not-in-env", "No credentials in env values or ConfigMaps; Secrets mounted as files, not env.",
         "48", "resource", secrets_not_in_env, resource_types=K8S),
    Rule("services-no-external-ips", "Services set no externalIPs.", "34", "resource", services_no_external_ips,
         resource_types=K8S),
    Rule("no-ingress-objects", "No Ingress objects expose models.", "34", "resource", no_ingress_objects,
         resource_types=K8S),
    Rule("helm-releases-in-prepared-namespaces", "Helm releases install into namespaces the stack created and "
         "labelled, never ones Helm creates.", "40", "stack", helm_releases_in_prepared_namespaces),
    Rule("rbac-least-privilege", "No cluster-admin/admin/edit bindings, no open groups, no '*' or escalating "
         "rules, no reading every Secret.", "43", "resource", rbac_least_privilege, resource_types=K8S),
]
