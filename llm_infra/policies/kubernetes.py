"""Rules over Kubernetes objects and Triton workloads (SECURITY.md 31-40), on every cloud."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from . import Context, Resource, Rule, get, known

GPU = "nvidia.com/gpu"
K8S = ("kubernetes:",)
WORKLOAD_KINDS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
# Host paths a GPU node agent may need; nothing else on the host is ever mounted.
ALLOWED_HOST_PATHS = {
    "/var/lib/kubelet/device-plugins": False,  # device plugin registers its socket: read-write
    "/var/lib/kubelet/pod-resources": True,  # DCGM exporter attributes GPUs to pods: read-only
    # DCGM exporter asks the NVIDIA runtime for every GPU (volume-mounts device list): read-only
    "/dev/null": True,
}
TRITON_LABEL = ("app.kubernetes.io/name", "triton")
# Triton API groups only operators use (llm_infra.triton.args.RESTRICTED_APIS; a test keeps them equal).
TRITON_RESTRICTED_APIS = ("model-repository", "model-config", "shared-memory", "statistics", "trace", "logging")
# Triton's OpenAI frontend (llm_infra.triton.openai; a test keeps these equal): its KServe frontends
# cannot restrict those APIs, so no NetworkPolicy may admit anyone to their ports.
TRITON_FRONTEND = ("python3", "/opt/tritonserver/python/openai/openai_frontend/main.py")
TRITON_KSERVE_PORTS = {8000, 8001, "http", "grpc"}


def pod_template(r: Resource) -> tuple[Mapping, Mapping] | None:
    """(pod metadata, pod spec) of a workload object, or None."""
    if r.kind not in WORKLOAD_KINDS:
        return None
    if r.kind == "Pod":
        return get(r.inputs, "metadata") or {}, get(r.inputs, "spec") or {}
    path = ("spec", "jobTemplate", "spec", "template") if r.kind == "CronJob" else ("spec", "template")
    template = get(r.inputs, *path)
    if not isinstance(template, Mapping):
        return None
    return template.get("metadata") or {}, template.get("spec") or {}


def _containers(spec: Mapping) -> Iterator[Mapping]:
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            if isinstance(c, Mapping):
                yield c


def _is_triton(r: Resource) -> bool:
    pod = pod_template(r)
    return pod is not None and get(pod[0], "labels", TRITON_LABEL[0]) == TRITON_LABEL[1]


def _triton_container(spec: Mapping) -> Mapping | None:
    return next((c for c in spec.get("containers") or [] if c.get("name") == "triton"), None)


def _arg(container: Mapping, flag: str) -> str | None:
    for a in container.get("args") or []:
        if isinstance(a, str) and a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def _args(container: Mapping, flag: str) -> list[str]:
    return [a.split("=", 1)[1] for a in container.get("args") or [] if isinstance(a, str) and a.startswith(flag + "=")]


def _seconds(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- 31: GPU taint is tolerated only by GPU workloads -----------------------------------


def gpu_toleration_only_for_gpu_workloads(r: Resource, _: Context) -> Iterator[str]:
    pod = pod_template(r)
    if pod is None or r.kind == "DaemonSet":  # node agents (device plugin, DCGM) run on every GPU node
        return
    spec = pod[1]
    tolerates = any(get(t, "key") == GPU for t in spec.get("tolerations") or [])
    requests = any(get(c, "resources", "limits", GPU) not in (None, "0", 0) for c in _containers(spec))
    if tolerates and not requests:
        yield f"tolerates the {GPU} taint but requests no GPU: remove the toleration or request {GPU}"


# --- 32: hardened pods, pinned images ----------------------------------------------------


def containers_hardened(r: Resource, _: Context) -> Iterator[str]:
    pod = pod_template(r)
    if pod is None:
        return
    spec = pod[1]
    pod_sc = spec.get("securityContext") or {}
    for c in _containers(spec):
        sc = c.get("securityContext") or {}
        name = c.get("name")
        if sc.get("privileged") is True:
            yield f"container {name}: set securityContext.privileged to false"
        escalation = sc.get("allowPrivilegeEscalation")
        if escalation is not False and (escalation is None or known(escalation)):
            yield f"container {name}: set securityContext.allowPrivilegeEscalation to false"
        drops = get(sc, "capabilities", "drop") or []
        if "ALL" not in drops:
            yield f"container {name}: drop ALL capabilities (securityContext.capabilities.drop: [ALL])"
        seccomp = get(sc, "seccompProfile", "type") or get(pod_sc, "seccompProfile", "type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"container {name}: use seccompProfile RuntimeDefault (pod or container securityContext)"
        if sc.get("readOnlyRootFilesystem") is not True:
            yield f"container {name}: set securityContext.readOnlyRootFilesystem to true (mount emptyDirs where it writes)"


def triton_runs_as_non_root_with_gpu_limits(r: Resource, _: Context) -> Iterator[str]:
    pod = pod_template(r)
    if not _is_triton(r) or pod is None:
        return
    spec = pod[1]
    pod_sc = spec.get("securityContext") or {}
    for c in _containers(spec):
        sc = c.get("securityContext") or {}
        if (sc.get("runAsNonRoot") if "runAsNonRoot" in sc else pod_sc.get("runAsNonRoot")) is not True:
            yield f"container {c.get('name')}: set runAsNonRoot: true"
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for key in ("cpu", "memory"):
                if not get(res, kind, key):
                    yield f"container {c.get('name')}: set resources.{kind}.{key}"
    triton = _triton_container(spec)
    if triton is not None:
        for kind in ("requests", "limits"):
            if get(triton, "resources", kind, GPU) in (None, "0", 0):
                yield f"container triton: set resources.{kind}.{GPU} (the GPUs it serves on)"


_PINNED = re.compile(r"^[^@\s]+(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(@sha256:[a-f0-9]{64})?$")


def images_pinned(r: Resource, _: Context) -> Iterator[str]:
    pod = pod_template(r)
    if pod is None:
        return
    for c in _containers(pod[1]):
        image = c.get("image")
        if not isinstance(image, str):
            continue
        last = image.rsplit("/", 1)[-1]
        if "@sha256:" in image:
            continue
        if ":" not in last or last.endswith(":latest") or not _PINNED.match(image):
            yield f"container {c.get('name')}: pin image {image!r} to a release tag or digest (not latest)"


# --- 33: device plugin host access --------------------------------------------------------


def host_paths_limited(r: Resource, _: Context) -> Iterator[str]:
    pod = pod_template(r)
    if pod is None:
        return
    spec = pod[1]
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag) is True:
            yield f"set {flag} to false: pods never share the node's namespaces"
    volumes = {v.get("name"): v for v in spec.get("volumes") or [] if isinstance(v, Mapping)}
    for name, v in volumes.items():
        path = get(v, "hostPath", "path")
        if path is None:
            continue
        if path not in ALLOWED_HOST_PATHS:
            yield f"volume {name}: hostPath {path} is not allowed (only {sorted(ALLOWED_HOST_PATHS)})"
            continue
        if ALLOWED_HOST_PATHS[path]:
            for c in _containers(spec):
                for m in c.get("volumeMounts") or []:
                    if m.get("name") == name and m.get("readOnly") is not True:
                        yield f"container {c.get('name')}: mount hostPath {path} readOnly"


def device_plugin_node_critical(r: Resource, _: Context) -> Iterator[str]:
    pod = pod_template(r)
    if pod is None or r.kind != "DaemonSet":
        return
    spec = pod[1]
    if not any("k8s-device-plugin" in str(c.get("image", "")) for c in _containers(spec)):
        return
    if spec.get("priorityClassName") != "system-node-critical":
        yield "the NVIDIA device plugin must run with priorityClassName system-node-critical"
    if not any(get(t, "key") == GPU and get(t, "operator") == "Exists" for t in spec.get("tolerations") or []):
        yield f"the NVIDIA device plugin must tolerate {GPU} (operator Exists)"


# --- 34: network isolation ----------------------------------------------------------------


def services_cluster_ip_only(r: Resource, _: Context) -> Iterator[str]:
    if r.kind != "Service":
        return
    kind = get(r.inputs, "spec", "type") or "ClusterIP"
    if kind in ("NodePort", "LoadBalancer"):
        yield f"service type {kind} exposes the model outside the cluster: use ClusterIP (and an internal gateway)"


def network_policy_selects_every_pod(resources: list[Resource], _: Context) -> Iterator[str]:
    policies = [r for r in resources if r.kind == "NetworkPolicy"]
    for r in resources:
        pod = pod_template(r)
        if pod is None:
            continue
        ns = get(r.inputs, "metadata", "namespace")
        covered: set[str] = set()
        for p in policies:
            selector = get(p.inputs, "spec", "podSelector")
            if get(p.inputs, "metadata", "namespace") == ns and (selector == {} or _selects(selector, pod[0].get("labels"))):
                covered |= set(get(p.inputs, "spec", "policyTypes") or [])
        missing = {"Ingress", "Egress"} - covered
        if missing:
            yield (f"{r.label}: no NetworkPolicy in {ns} selects its pods for {sorted(missing)}: "
                   "add a default deny (podSelector {})")


def triton_network_policy_blocks_node_metadata(resources: list[Resource], _: Context) -> Iterator[str]:
    for r in resources:
        if r.kind != "NetworkPolicy":
            continue
        for rule in get(r.inputs, "spec", "egress") or []:
            for peer in rule.get("to") or [{}]:
                cidr = get(peer, "ipBlock", "cidr")
                if cidr in ("0.0.0.0/0", None) and peer.get("podSelector") is None and \
                        peer.get("namespaceSelector") is None:
                    excepts = get(peer, "ipBlock", "except") or []
                    if not any(e in ("169.254.0.0/16", "169.254.169.254/32") for e in excepts):
                        yield (f"{r.label}: egress to {cidr or 'anywhere'} reaches the node's metadata service: "
                               "add 169.254.0.0/16 to ipBlock.except")


# --- 35-37: Triton locked down, probes, graceful shutdown -----------------------------------


def triton_locked_down(r: Resource, _: Context) -> Iterator[str]:
    if not _is_triton(r):
        return
    triton = _triton_container(pod_template(r)[1])  # type: ignore[index]
    if triton is None:
        yield "Triton pod has no container named triton"
        return
    if tuple((triton.get("args") or [])[:2]) == TRITON_FRONTEND:
        # The frontend's in-process server: model control NONE, strict readiness and a 30 s exit
        # timeout are its defaults; its KServe admin APIs are kept in the pod by
        # triton_frontend_kserve_in_pod instead of restricted (llm_infra.triton.openai.REPLACED).
        for flag in ("--model-repository", "--openai-port"):
            if _arg(triton, flag) is None:
                yield f"run Triton's OpenAI frontend with {flag}"
        if "--enable-kserve-frontends" not in (triton.get("args") or []):
            yield "run Triton's OpenAI frontend with --enable-kserve-frontends (the probes ask the KServe endpoints)"
        return
    mode = _arg(triton, "--model-control-mode")
    if mode == "explicit":
        # vLLM's engine health check unloads a model whose engine died; clients still may not
        # load or unload: the model-repository API is restricted (checked below for every mode).
        loads = _args(triton, "--load-model")
        if not loads or "*" in loads:
            yield "with --model-control-mode=explicit, name each model in --load-model (not '*')"
    elif mode != "none":
        yield "run tritonserver with --model-control-mode=none (no model loads or unloads at run time)"
    if _arg(triton, "--strict-readiness") != "true":
        yield "run tritonserver with --strict-readiness=true (ready only when every model is)"
    if _arg(triton, "--exit-timeout-secs") is None:
        yield "set tritonserver --exit-timeout-secs explicitly (the grace period is sized from it)"
    for flag in ("--http-restricted-api", "--grpc-restricted-protocol"):
        restricted: set[str] = set()
        for a in triton.get("args") or []:
            if isinstance(a, str) and a.startswith(flag + "="):
                apis, _colon, header = a.split("=", 1)[1].partition(":")
                key, _eq, value = header.partition("=")
                if key and value:
                    restricted |= set(apis.split(","))
        missing = [api for api in TRITON_RESTRICTED_APIS if api not in restricted]
        if missing:
            yield (f"restrict Triton's {missing} APIs: {flag}={','.join(TRITON_RESTRICTED_APIS)}:<header>=<key> "
                   "(clients of a model never need them)")


def triton_frontend_kserve_in_pod(resources: list[Resource], _: Context) -> Iterator[str]:
    """Under the OpenAI frontend no NetworkPolicy admits any peer to the KServe ports."""
    policies = [r for r in resources if r.kind == "NetworkPolicy"]
    for r in resources:
        if not _is_triton(r):
            continue
        meta, spec = pod_template(r)  # type: ignore[misc]
        triton = _triton_container(spec)
        if triton is None or tuple((triton.get("args") or [])[:2]) != TRITON_FRONTEND:
            continue
        ns = get(r.inputs, "metadata", "namespace")
        for p in policies:
            selector = get(p.inputs, "spec", "podSelector")
            if get(p.inputs, "metadata", "namespace") != ns or not (selector == {} or _selects(selector, meta.get("labels"))):
                continue
            for i, rule in enumerate(get(p.inputs, "spec", "ingress") or []):
                ports = {q.get("port") for q in rule.get("ports") or [{}]}
                if None in ports or ports & TRITON_KSERVE_PORTS:
                    yield (f"{p.label}: ingress[{i}] admits peers to the KServe ports of {r.label}, whose OpenAI "
                           "frontend cannot restrict Triton's admin APIs: admit the OpenAI port only")


def triton_probes(r: Resource, _: Context) -> Iterator[str]:
    if not _is_triton(r):
        return
    meta, spec = pod_template(r)  # type: ignore[misc]
    triton = _triton_container(spec)
    if triton is None:
        return
    # A model the engine health check may unload is probed on its own ready endpoint: the
    # server's strict readiness does not count an unloaded model.
    model_ready = {f"/v2/models/{m}/ready" for m in _args(triton, "--load-model")}
    for probe, paths in (("startupProbe", {"/v2/health/ready", *model_ready}),
                         ("readinessProbe", {"/v2/health/ready", *model_ready}),
                         ("livenessProbe", {"/v2/health/live", *model_ready})):
        if get(triton, probe, "httpGet", "path") not in paths:
            yield f"container triton: {probe} must GET {' or '.join(sorted(paths))}"
    budget_needed = _seconds(get(meta, "annotations", "llm-infra.io/max-load-seconds"))
    period = _seconds(get(triton, "startupProbe", "periodSeconds")) or 10
    failures = _seconds(get(triton, "startupProbe", "failureThreshold")) or 3
    if budget_needed is not None and period * failures < budget_needed:
        yield (f"startupProbe allows {period * failures}s but the model may take {budget_needed}s to load: "
               f"raise failureThreshold to {-(-budget_needed // period)}")


def triton_grace_period_covers_drain(r: Resource, _: Context) -> Iterator[str]:
    pod = pod_template(r)
    if not _is_triton(r) or pod is None:
        return
    spec = pod[1]
    triton = _triton_container(spec)
    if triton is None:
        return
    exit_timeout = _seconds(_arg(triton, "--exit-timeout-secs")) or 30  # Triton's default
    command = get(triton, "lifecycle", "preStop", "exec", "command") or []
    pre_stop = _seconds(command[-1]) if command and command[0] == "sleep" else 0
    pre_stop = pre_stop or _seconds(get(triton, "lifecycle", "preStop", "sleep", "seconds")) or 0
    grace = _seconds(spec.get("terminationGracePeriodSeconds"))
    grace = 30 if grace is None else grace
    if grace < pre_stop + exit_timeout + 10:
        yield (f"terminationGracePeriodSeconds {grace} < preStop {pre_stop}s + exit timeout {exit_timeout}s + 10s: "
               f"in-flight requests are killed; set it to at least {pre_stop + exit_timeout + 10}")


# --- 38-39: availability and autoscaling ----------------------------------------------------


def _selects(selector: Mapping | None, labels: Mapping | None) -> bool:
    match = get(selector, "matchLabels") or {}
    return bool(match) and all((labels or {}).get(k) == v for k, v in match.items())


def triton_disruption_and_spread(resources: list[Resource], ctx: Context) -> Iterator[str]:
    pdbs = [r for r in resources if r.kind == "PodDisruptionBudget"]
    scaled = {(get(r.inputs, "metadata", "namespace"), get(r.inputs, "spec", "scaleTargetRef", "name")): r
              for r in resources if r.kind == "ScaledObject"}
    for r in resources:
        if not _is_triton(r):
            continue
        meta, spec = pod_template(r)  # type: ignore[misc]
        ns = get(r.inputs, "metadata", "namespace")
        if not any(get(p.inputs, "metadata", "namespace") == ns and _selects(get(p.inputs, "spec", "selector"),
                                                                             meta.get("labels")) for p in pdbs):
            yield f"{r.label}: add a PodDisruptionBudget selecting its pods"
        if not ctx.production:
            continue
        so = scaled.get((ns, get(r.inputs, "metadata", "name")))
        replicas = get(so.inputs, "spec", "minReplicaCount") if so else get(r.inputs, "spec", "replicas")
        if so is not None and get(so.inputs, "spec", "idleReplicaCount") == 0:
            yield f"{r.label}: production must not scale to zero (remove idleReplicaCount)"
        if known(replicas) and (_seconds(replicas) or 1) < 2:
            yield f"{r.label}: production needs at least 2 replicas, has {replicas}"
        zone = [c for c in spec.get("topologySpreadConstraints") or []
                if c.get("topologyKey") == "topology.kubernetes.io/zone"]
        if not zone or zone[0].get("whenUnsatisfiable") != "DoNotSchedule":
            yield f"{r.label}: production spreads replicas across zones with whenUnsatisfiable DoNotSchedule"


def autoscaling_on_inference_metrics(r: Resource, ctx: Context) -> Iterator[str]:
    if r.kind == "HorizontalPodAutoscaler":
        if not str(r.inputs.get("apiVersion", "")).endswith("/v2"):
            yield "use autoscaling/v2"
        for m in get(r.inputs, "spec", "metrics") or []:
            if get(m, "resource", "name") in ("cpu", "memory"):
                yield "do not autoscale an LLM server on CPU or memory: use Triton's queue metrics"
    if r.kind == "ScaledObject":
        for t in get(r.inputs, "spec", "triggers") or []:
            if t.get("type") in ("cpu", "memory"):
                yield f"trigger {t.get('name')}: do not scale on {t.get('type')}; use Triton's queue metrics"
        if ctx.production and (get(r.inputs, "spec", "minReplicaCount") == 0
                               or get(r.inputs, "spec", "idleReplicaCount") == 0):
            yield "production must not scale to zero"


# --- 40: namespaces ---------------------------------------------------------------------------


def namespaces_enforce_pod_security(r: Resource, _: Context) -> Iterator[str]:
    if r.kind != "Namespace":
        return
    labels = get(r.inputs, "metadata", "labels") or {}
    level = labels.get("pod-security.kubernetes.io/enforce")
    if level is None:
        yield "label the namespace pod-security.kubernetes.io/enforce (restricted for workloads)"


def gpu_namespaces_have_quota_and_restricted(resources: list[Resource], _: Context) -> Iterator[str]:
    quotas = {get(r.inputs, "metadata", "namespace") for r in resources
              if r.kind == "ResourceQuota" and get(r.inputs, "spec", "hard", f"requests.{GPU}") is not None}
    levels = {get(r.inputs, "metadata", "name"): get(r.inputs, "metadata", "labels",
                                                         "pod-security.kubernetes.io/enforce")
              for r in resources if r.kind == "Namespace"}
    for r in resources:
        if not _is_triton(r):
            continue
        ns = get(r.inputs, "metadata", "namespace")
        if ns not in quotas:
            yield f"{r.label}: namespace {ns} needs a ResourceQuota on requests.{GPU}"
        if ns in levels and levels[ns] != "restricted":
            yield f"{r.label}: namespace {ns} must enforce Pod Security 'restricted', has {levels[ns]!r}"


RULES: list[Rule] = [
    Rule("gpu-taint-tolerated-only-by-gpu-workloads", "Only GPU workloads tolerate the GPU taint.", "31",
         "resource", gpu_toleration_only_for_gpu_workloads, resource_types=K8S),
    Rule("containers-hardened", "No privilege, no escalation, drop ALL, seccomp, read-only root.", "32",
         "resource", containers_hardened, resource_types=K8S),
    Rule("triton-non-root-with-gpu-limits", "Triton runs as non-root with CPU, memory and GPU requests and limits.",
         "32", "resource", triton_runs_as_non_root_with_gpu_limits, resource_types=K8S),
    Rule("images-pinned", "Images are pinned to a release tag or digest.", "32", "resource", images_pinned,
         resource_types=K8S),
    Rule("host-paths-limited", "Only the kubelet's device-plugin and pod-resources dirs are mounted from the host.",
         "33", "resource", host_paths_limited, resource_types=K8S),
    Rule("device-plugin-node-critical", "The device plugin is system-node-critical and tolerates the GPU taint.",
         "33", "resource", device_plugin_node_critical, resource_types=K8S),
    Rule("services-cluster-ip-only", "Model services are ClusterIP.", "34", "resource", services_cluster_ip_only,
         resource_types=K8S),
    Rule("network-policy-selects-every-pod", "Every workload's namespace has a default-deny NetworkPolicy.", "34",
         "stack", network_policy_selects_every_pod),
    Rule("triton-locked-down", "Triton: model control none, strict readiness, explicit exit timeout, admin APIs "
         "restricted.", "35, 46",
         "resource", triton_locked_down, resource_types=K8S),
    Rule("triton-frontend-kserve-in-pod", "Triton's OpenAI frontend: its unrestricted KServe ports admit no peer.",
         "35", "stack", triton_frontend_kserve_in_pod),
    Rule("triton-probes", "Triton probes use its health endpoints; startup covers the worst-case load.", "36",
         "resource", triton_probes, resource_types=K8S),
    Rule("triton-grace-period", "Grace period >= preStop + exit timeout + margin.", "37", "resource",
         triton_grace_period_covers_drain, resource_types=K8S),
    Rule("triton-availability", "PDB; production: >= 2 replicas across zones, no scale to zero.", "38", "stack",
         triton_disruption_and_spread),
    Rule("autoscaling-on-inference-metrics", "Autoscaling on Triton's queue metrics, autoscaling/v2 only.", "39",
         "resource", autoscaling_on_inference_metrics, resource_types=K8S),
    Rule("namespace-pod-security", "Namespaces enforce a Pod Security level.", "40", "resource",
         namespaces_enforce_pod_security, resource_types=K8S),
    Rule("gpu-namespace-quota-and-restricted", "Model namespaces: restricted, with a GPU ResourceQuota.", "40",
         "stack", gpu_namespaces_have_quota_and_restricted),
]
