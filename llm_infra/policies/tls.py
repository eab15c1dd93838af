"""No plaintext listener of a model's pod is reachable outside the pod (issue 17, docs/tls.md).

Read from what the stack registers: Triton's command line (every listener bound to loopback,
or gRPC with its own TLS), the TLS terminator's NGINX configuration (the ConfigMap its volume
mounts: every `listen` with `ssl`, every upstream on loopback), each container's declared ports,
and the Services and ServiceMonitors in front of the pods (every target port is a TLS one; the
scrape is HTTPS verified against a CA), every listener of the stack's Gateway (HTTPS with a
certificate Secret) and every other scrape the stack sets up (the DCGM exporter's: HTTPS with a
CA; a ServiceMonitor annotated as below is the opt-out). A pod annotated `llm-infra.io/tls: disabled` is the stack's named opt-out
(`tls.enabled: false`), a Gateway so annotated `inference_gateway.plaintext_listener`; neither is judged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from . import Context, Resource, Rule, known
from . import get as _get
from .kubernetes import _arg, _is_triton, _selects, pod_template

# Names the workload gives them (llm_infra.triton.tls; a test keeps them equal).
PROXY_CONTAINER = "tls-proxy"
PROXY_CONFIG_FILE = "nginx.conf"
OPT_OUT_ANNOTATION = "llm-infra.io/tls"
LOOPBACK = {"127.0.0.1", "::1", "[::1]", "localhost"}
# Triton's listeners: (address flag, enabled flag, default port).
TRITON_LISTENERS = {"http": ("--http-address", "--allow-http", 8000),
                    "grpc": ("--grpc-address", "--allow-grpc", 8001),
                    "metrics": ("--metrics-address", "--allow-metrics", 8002)}
_LISTEN = re.compile(r"^\s*listen\s+([^;]+);", re.MULTILINE)
_UPSTREAM = re.compile(r"^\s*(?:proxy_pass|grpc_pass)\s+(?:https?|grpcs?)://([^;/]+)", re.MULTILINE)


def _false(value: str | None) -> bool:
    return value is not None and value.lower() in {"false", "0", "no"}


# Triton's OpenAI frontend (python/openai/openai_frontend/main.py): all three listeners bind to `--host`
# (default 0.0.0.0), with these port flags and defaults; its KServe listeners exist only when enabled.
FRONTEND = ("python3", "/opt/tritonserver/python/openai/openai_frontend/main.py")
FRONTEND_LISTENERS = {"openai": ("--openai-port", 9000, None),
                      "kserve http": ("--kserve-http-port", 8000, "--enable-kserve-frontends"),
                      "kserve grpc": ("--kserve-grpc-port", 8001, "--enable-kserve-frontends")}


def _frontend_problems(triton: Mapping) -> list[str]:
    args = list(triton.get("args") or [])
    host = _arg(triton, "--host")
    if (host is not None and not known(host)) or host in LOOPBACK:
        return []
    problems = []
    for name, (port_flag, default_port, enabled_by) in FRONTEND_LISTENERS.items():
        if enabled_by is not None and enabled_by not in args:
            continue
        port = _arg(triton, port_flag) or default_port
        problems.append(f"container triton: the OpenAI frontend's {name} listener (port {port}) speaks plaintext on "
                        f"{host or 'every address'}: set --host=127.0.0.1 and put the port behind the TLS terminator")
    return problems


def _triton_problems(triton: Mapping) -> tuple[list[str], set[int]]:
    """(problems, ports Triton itself serves with TLS) from its command line."""
    problems: list[str] = []
    tls_ports: set[int] = set()
    if tuple((triton.get("args") or [])[:2]) == FRONTEND:
        return _frontend_problems(triton), tls_ports
    for name, (address_flag, allow_flag, default_port) in TRITON_LISTENERS.items():
        if _false(_arg(triton, allow_flag)):
            continue
        address = _arg(triton, address_flag)
        if address is not None and not known(address):
            continue
        if address in LOOPBACK:
            continue
        port = int(_arg(triton, f"--{name}-port") or default_port)
        if name == "grpc" and (_arg(triton, "--grpc-use-ssl") == "true" or _arg(triton, "--grpc-use-ssl-mutual") == "true") \
                and _arg(triton, "--grpc-server-cert") and _arg(triton, "--grpc-server-key"):
            tls_ports.add(port)
            continue
        problems.append(f"container triton: its {name} listener (port {port}) speaks plaintext on "
                        f"{address or 'every address'}: set {address_flag}=127.0.0.1 and put the port behind the "
                        "TLS terminator")
    for flag in ("--allow-sagemaker", "--allow-vertex-ai"):
        if _arg(triton, flag) == "true":
            problems.append(f"container triton: {flag}=true opens a plaintext listener on every address")
    return problems, tls_ports


def _proxy_config(proxy: Mapping, spec: Mapping, namespace: Any, config_maps: Mapping) -> str | None:
    """The terminator's NGINX configuration from the ConfigMap its volume mounts, or None where unknown."""
    names = {m.get("name") for m in proxy.get("volumeMounts") or [] if isinstance(m, Mapping)}
    for volume in spec.get("volumes") or []:
        if isinstance(volume, Mapping) and volume.get("name") in names and isinstance(volume.get("configMap"), Mapping):
            data = _get(config_maps.get((namespace, volume["configMap"].get("name"))), "data")
            if isinstance(data, Mapping) and isinstance(data.get(PROXY_CONFIG_FILE), str):
                return data[PROXY_CONFIG_FILE]
    return None


def _proxy_problems(config: str) -> tuple[list[str], set[int]]:
    problems: list[str] = []
    tls_ports: set[int] = set()
    for listen in _LISTEN.findall(config):
        words = listen.split()
        address, _, port = words[0].rpartition(":")
        if "ssl" not in words[1:]:
            problems.append(f"container {PROXY_CONTAINER}: `listen {listen}` speaks plaintext: add `ssl`")
        elif port.isdigit():
            if address and address in LOOPBACK:
                continue
            tls_ports.add(int(port))
    for upstream in _UPSTREAM.findall(config):
        host = upstream.rsplit(":", 1)[0]
        if host not in LOOPBACK:
            problems.append(f"container {PROXY_CONTAINER}: forwards to {upstream}, outside the pod: forward to "
                            "127.0.0.1 only")
    return problems, tls_ports


# Gateway API listener protocols that terminate or pass through TLS (apis/v1/gateway_types.go@v1.5.1).
TLS_LISTENER_PROTOCOLS = {"HTTPS", "TLS"}


def _gateway_problems(resources: list[Resource]) -> Iterator[str]:
    """Every listener of a Gateway the stack creates speaks TLS: HTTPS (or TLS) with a certificate Secret."""
    for g in resources:
        if g.kind != "Gateway" or _get(g.inputs, "metadata", "annotations", OPT_OUT_ANNOTATION) == "disabled":
            continue
        for listener in _get(g.inputs, "spec", "listeners") or []:
            if not isinstance(listener, Mapping):
                continue
            protocol = listener.get("protocol")
            refs = _get(listener, "tls", "certificateRefs") or []
            if known(protocol) and protocol not in TLS_LISTENER_PROTOCOLS:
                yield (f"{g.label}: listener {listener.get('name')} (port {listener.get('port')}) speaks {protocol}: "
                       "listen with HTTPS and a certificate Secret from cert-manager")
            elif protocol == "HTTPS" and _get(listener, "tls", "mode") != "Passthrough" and not refs:
                yield f"{g.label}: listener {listener.get('name')} is HTTPS without tls.certificateRefs"


def _other_scrape_problems(resources: list[Resource]) -> Iterator[str]:
    """A ServiceMonitor outside the models' namespaces (the DCGM exporter's) scrapes https verified against a CA,
    unless it carries the opt-out annotation (a stack with `tls.enabled: false`)."""
    model_namespaces = {_get(r.inputs, "metadata", "namespace") for r in resources if _is_triton(r)}
    for monitor in resources:
        if monitor.kind != "ServiceMonitor" or _get(monitor.inputs, "metadata", "namespace") in model_namespaces:
            continue
        if _get(monitor.inputs, "metadata", "annotations", OPT_OUT_ANNOTATION) == "disabled":
            continue
        for endpoint in _get(monitor.inputs, "spec", "endpoints") or []:
            scheme, tls_config = endpoint.get("scheme", "http"), endpoint.get("tlsConfig")
            if isinstance(tls_config, str) and not known(tls_config):
                continue  # computed at deploy time: judged by `pulumi preview`'s policy pack
            if known(scheme) and (scheme != "https" or not _get(endpoint, "tlsConfig", "ca")):
                yield (f"{monitor.label}: scrapes {endpoint.get('port')} over {scheme}: scrape with scheme https "
                       "and tlsConfig.ca (the certificate's CA)")


def no_plaintext_listener_outside_pod(resources: list[Resource], _: Context) -> Iterator[str]:
    yield from _gateway_problems(resources)
    yield from _other_scrape_problems(resources)
    config_maps = {(_get(r.inputs, "metadata", "namespace"), _get(r.inputs, "metadata", "name")): r.inputs
                   for r in resources if r.kind == "ConfigMap"}
    for r in resources:
        if not _is_triton(r):
            continue
        meta, spec = pod_template(r)  # type: ignore[misc]
        if _get(meta, "annotations", OPT_OUT_ANNOTATION) == "disabled":
            continue
        namespace = _get(r.inputs, "metadata", "namespace")
        where = r.label
        tls_ports: set[int] = set()
        named: dict[str, int] = {}
        declared: list[tuple[str, int]] = []
        for container in spec.get("containers") or []:
            if not isinstance(container, Mapping):
                continue
            name = container.get("name")
            if name == "triton":
                problems, ports = _triton_problems(container)
                tls_ports |= ports
                for p in problems:
                    yield f"{where}: {p}"
            elif name == PROXY_CONTAINER:
                config = _proxy_config(container, spec, namespace, config_maps)
                if config is None:
                    yield f"{where}: container {PROXY_CONTAINER}: its NGINX configuration is not a ConfigMap of the stack"
                    continue
                problems, ports = _proxy_problems(config)
                tls_ports |= ports
                for p in problems:
                    yield f"{where}: {p}"
            for port in container.get("ports") or []:
                number = port.get("containerPort") if isinstance(port, Mapping) else None
                if isinstance(number, int):
                    declared.append((str(name), number))
                    if isinstance(port.get("name"), str):
                        named[port["name"]] = number
        for container, number in declared:
            if number not in tls_ports:
                yield (f"{where}: container {container} declares port {number}, which no TLS listener serves: "
                       f"serve it behind the TLS terminator ({PROXY_CONTAINER})")
        labels = _get(meta, "labels") or {}
        services = [svc for svc in resources if svc.kind == "Service"
                    and _get(svc.inputs, "metadata", "namespace") == namespace
                    and _selects({"matchLabels": _get(svc.inputs, "spec", "selector") or {}}, labels)]
        for svc in services:
            for port in _get(svc.inputs, "spec", "ports") or []:
                target = port.get("targetPort", port.get("port"))
                if not known(target):
                    continue
                number = named.get(target) if isinstance(target, str) else target
                if number not in tls_ports:
                    yield (f"{svc.label}: port {port.get('name') or port.get('port')} reaches {where} on "
                           f"{target!r}, which is not a TLS listener")
        for monitor in resources:
            if monitor.kind != "ServiceMonitor" or _get(monitor.inputs, "metadata", "namespace") != namespace:
                continue
            if not any(_selects(_get(monitor.inputs, "spec", "selector"), _get(svc.inputs, "metadata", "labels"))
                       for svc in services):
                continue
            for endpoint in _get(monitor.inputs, "spec", "endpoints") or []:
                scheme = endpoint.get("scheme", "http")
                if known(scheme) and (scheme != "https" or not _get(endpoint, "tlsConfig", "ca")):
                    yield (f"{monitor.label}: scrapes {endpoint.get('port')} over {scheme}: scrape with scheme "
                           "https and tlsConfig.ca (the certificate's CA)")


RULES: list[Rule] = [
    Rule("no-plaintext-listener-outside-pod",
         "Every listener of a model's pod reachable outside it, and of the stack's Gateway, speaks TLS; Services "
         "and scrapes reach only those.",
         "34", "stack", no_plaintext_listener_outside_pod),
]
