"""Sections of the plan summary about the first `pulumi up` and the last `pulumi destroy`.

Each reads only what the stack program registered and exported (the same data as
resources.json and outputs.json), so the summary cannot disagree with the plan.
"""

from __future__ import annotations

from .testing import ProgramResult

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
# API groups of the custom resources whose CRDs the operators' charts install, in display order.
OPERATOR_KINDS = ("ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule", "ClusterIssuer",
                  "Certificate")
_OPERATOR_GROUPS = ("keda.sh", "monitoring.coreos.com", "cert-manager.io")


def access(result: ProgramResult) -> list[str]:
    """The deployer's path to the cluster's API endpoint (the stack output `deployer_access`)."""
    path = result.outputs.get("deployer_access")
    if not path:
        return []
    return ["deployer's path to the cluster (docs/access.md):",
            f"  endpoint: {path['endpoint']}",
            f"  reachable from: {', '.join(path['from'])}",
            f"  ingress: {path['ingress']}",
            f"  runner: {path['runner']}"]


def operators(result: ProgramResult) -> list[str]:
    """What the stack installs before its custom resources, in order."""
    order = result.outputs.get("operator_install_order") or []
    crs = [r for r in result.kubernetes_objects() if str(r.inputs.get("apiVersion", "")).split("/")[0] in _OPERATOR_GROUPS]
    if not order:
        if not crs:
            return []
        return ["operators: none installed by this stack (monitoring.install_operators false): the cluster must "
                f"already run KEDA and the Prometheus Operator for its {len(crs)} custom resources"]
    releases = {r.urn for r in result.of_type(HELM_RELEASE)}
    ordered = [r for r in crs if releases & set(r.dependencies)]
    kinds = ", ".join(k for k in OPERATOR_KINDS if any(r.kind == k for r in crs))
    lines = ["operators, in install order:"]
    lines += [f"  {i}. {step}" for i, step in enumerate(order, 1)]
    after = "each after its chart" if len(ordered) == len(crs) else f"only {len(ordered)} after a chart"
    lines.append(f"  {len(order) + 1}. then {len(crs)} custom resources ({kinds}), {after}")
    return lines




def _deletion_protected_clusters() -> set[str]:
    """Cluster types whose cloud refuses to delete them while their `deletionProtection` is on (each plug-in's)."""
    from .clouds import CLOUDS

    return {t for cloud in CLOUDS.values() for t in cloud.deletion_protected_types}


def teardown(result: ProgramResult) -> list[str]:
    """What `pulumi destroy` leaves behind and what stops it (docs/teardown.md)."""
    protected = [r for r in result.resources if r.custom and r.protect]
    retained = [r for r in result.resources if r.custom and r.retain_on_delete]
    protects = _deletion_protected_clusters()
    blocked = [r for r in result.resources if r.type in protects and r.inputs.get("deletionProtection")]
    lines = ["pulumi destroy (docs/teardown.md):"]
    if protected:
        lines.append("  protected, destroy stops at them (use `pulumi destroy --exclude-protected`, or "
                     "`pulumi state unprotect` first): " + ", ".join(f"{_short(r.type)} {r.name}" for r in protected))
    if retained:
        lines.append(f"  retained, left in the cloud when deleted from the stack ({len(retained)}):")
        lines += [f"    {_short(r.type)} {r.name}" for r in sorted(retained, key=lambda r: (r.type, r.name))]
    else:
        lines.append("  retained: nothing; destroy deletes everything the stack created")
    for r in blocked:
        lines.append(f"  the cloud refuses to delete {_short(r.type)} {r.name} while its deletion protection is on: "
                     "set llm-infra:teardown.cluster_deletion_protection false and `pulumi up` first")
    return lines


def _short(type_: str) -> str:
    return type_.split(":")[-1]


def inference_routes(result: ProgramResult) -> list[str]:
    """Per model, its route on the inference Gateway: path, InferencePool, endpoint picker and what feeds it."""
    routes = [r for r in result.kubernetes_objects() if r.kind == "HTTPRoute"]
    if not routes:
        return []
    import yaml

    pools = {(p.k8s_namespace, p.k8s_name): p for p in result.kubernetes_objects() if p.kind == "InferencePool"}
    gateways = [g for g in result.kubernetes_objects() if g.kind == "Gateway"]
    configs = {(c.k8s_namespace, c.k8s_name): c for c in result.kubernetes_objects("ConfigMap")}
    lines = ["inference routing (Gateway API Inference Extension, docs/inference-gateway.md):"]
    for g in gateways:
        annotations = (g.inputs["spec"].get("infrastructure") or {}).get("annotations") or {}
        lines.append(f"  gateway {g.k8s_namespace}/{g.k8s_name}: class {g.inputs['spec']['gatewayClassName']}, "
                     f"internal load balancer{' (' + ', '.join(f'{k}={v}' for k, v in annotations.items()) + ')' if annotations else ''}")
        for listener in g.inputs["spec"].get("listeners") or []:
            refs = (listener.get("tls") or {}).get("certificateRefs") or []
            lines.append(f"    listener {listener['name']}: {listener['protocol']} :{listener['port']}"
                         + (f", certificate Secret {refs[0]['name']} (cert-manager)" if refs else ", plaintext (opt-out)"))
    for r in routes:
        rule = r.inputs["spec"]["rules"][0]
        backend = rule["backendRefs"][0]
        pool = pools.get((r.k8s_namespace, backend["name"]))
        if pool is None:
            continue
        spec = pool.inputs["spec"]
        epp = spec["endpointPickerRef"]
        lines.append(f"  route {rule['matches'][0]['path']['value']} -> InferencePool {r.k8s_namespace}/{backend['name']} "
                     f"(port {spec['targetPorts'][0]['number']}, picker {epp['name']}:{epp['port']['number']}, "
                     f"{epp['failureMode']})")
        cm = configs.get((r.k8s_namespace, epp["name"]))
        if cm is not None:
            doc = yaml.safe_load(next(iter(cm.inputs["data"].values())))
            extractor = next(p for p in doc["plugins"] if p["type"] == "core-metrics-extractor")["parameters"]
            engine = extractor["engineConfigs"][0]
            fed = {k.removesuffix("Spec"): v for k, v in engine.items() if k.endswith("Spec") and v}
            lines.append(f"    picker reads: {', '.join(f'{k} {v}' for k, v in fed.items()) or 'nothing'}")
    return lines
