"""TLS in front of Triton: every listener reachable outside the pod speaks TLS (docs/tls.md).

Triton's HTTP and metrics endpoints have no TLS of their own (server
src/command_line_parser.cc@v2.65.0 offers `--grpc-use-ssl*` for gRPC only), so Triton binds
all of its listeners to 127.0.0.1 on internal ports and an NGINX sidecar
(`versions.TLS_PROXY_IMAGE`) terminates TLS on the public ports and forwards over loopback.
One terminator for every port gives one place that reloads renewed certificates and one mTLS
setting; another HTTP or gRPC listener of the pod (an OpenAI-compatible frontend, say) is put
behind it by adding a `Listener`.

The certificate comes from cert-manager as a `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`,
`ca.crt`) mounted read-only; NGINX re-reads it every `RELOAD_SECONDS` (cert-manager renews at
two thirds of the lifetime, so a renewed certificate is served long before the old one expires).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .args import GRPC_PORT, HTTP_PORT, METRICS_PORT
from .openai import OPENAI_PORT

LOOPBACK = "127.0.0.1"
# Triton's own listeners, on loopback only: the public port plus this offset.
INTERNAL_PORT_OFFSET = 10000
PROXY_CONTAINER = "tls-proxy"
TLS_VOLUME = "tls"
TLS_MOUNT = "/etc/llm-infra/tls"
CONFIG_VOLUME = "tls-proxy-config"
CONFIG_MOUNT = "/etc/llm-infra/tls-proxy"
CONFIG_FILE = "nginx.conf"
RELOAD_SECONDS = 3600
# The proxy's requests and limits (equal: the pod stays in the Guaranteed QoS class).
PROXY_RESOURCES = {"cpu": "200m", "memory": "128Mi"}
# A request body larger than this is refused by the proxy (prompts and KServe v2 tensors of a text model).
MAX_BODY = "64m"
# Generation streams for as long as the model writes; the proxy never cuts a healthy stream short.
STREAM_TIMEOUT = "3600s"


@dataclass(frozen=True)
class Listener:
    """One port the pod serves: TLS on `port` (all addresses), forwarded to `upstream_port` on loopback."""

    name: str
    """The container port's name (Services target it)."""
    port: int
    upstream_port: int
    protocol: Literal["http", "grpc"]
    client_certificates: bool
    """Whether `mutual` TLS asks this port's clients for a certificate (inference ports; never metrics)."""


def triton_listeners() -> list[Listener]:
    """Triton's three listeners: KServe v2 HTTP, gRPC and metrics, each behind the terminator."""
    return [
        Listener("http", HTTP_PORT, HTTP_PORT + INTERNAL_PORT_OFFSET, "http", True),
        Listener("grpc", GRPC_PORT, GRPC_PORT + INTERNAL_PORT_OFFSET, "grpc", True),
        Listener("metrics", METRICS_PORT, METRICS_PORT + INTERNAL_PORT_OFFSET, "http", False),
    ]


def openai_listeners() -> list[Listener]:
    """Under Triton's OpenAI frontend: the OpenAI port (which also serves the metrics, see
    llm_infra.triton.openai.REPLACED) and the KServe v2 HTTP and gRPC ports, each behind the terminator."""
    return [Listener("openai", OPENAI_PORT, OPENAI_PORT + INTERNAL_PORT_OFFSET, "http", True),
            *(listener for listener in triton_listeners() if listener.name != "metrics")]


def listeners_for(openai_api: bool) -> list[Listener]:
    """The listeners of a model's pod: the OpenAI frontend's, or plain tritonserver's."""
    return openai_listeners() if openai_api else triton_listeners()


def triton_loopback_args() -> list[str]:
    """tritonserver flags that keep each of its listeners on loopback."""
    return [f"--http-address={LOOPBACK}", f"--grpc-address={LOOPBACK}", f"--metrics-address={LOOPBACK}"]


def certificate_dns_names(service: str, namespace: str, cluster_domain: str = "cluster.local") -> list[str]:
    """The names a client may use for a Service: short, namespaced, `svc` and fully qualified."""
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.{cluster_domain}"]


def nginx_conf(listeners: Sequence[Listener], *, mutual: bool, open_paths: Sequence[str] = (),
               tls_dir: str = TLS_MOUNT, tmp_dir: str = "/tmp", workers: int = 2) -> str:
    """NGINX's whole configuration: TLS 1.2+ on each listener, plain HTTP/gRPC to loopback behind it.

    With `mutual`, a listener whose `client_certificates` is set answers 403 to a request without
    a certificate from the CA in `ca.crt`, except on `open_paths` (the kubelet's probes present none).
    """
    lines = [
        f"worker_processes {workers};",
        f"pid {tmp_dir}/nginx.pid;",
        "error_log stderr warn;",
        "events { worker_connections 4096; }",
        "http {",
        # Requests carry prompts; the proxy keeps no record of them.
        "  access_log off;",
        "  server_tokens off;",
        f"  client_body_temp_path {tmp_dir}/client_body;",
        f"  proxy_temp_path {tmp_dir}/proxy;",
        f"  fastcgi_temp_path {tmp_dir}/fastcgi;",
        f"  uwsgi_temp_path {tmp_dir}/uwsgi;",
        f"  scgi_temp_path {tmp_dir}/scgi;",
        f"  client_max_body_size {MAX_BODY};",
        "  ssl_protocols TLSv1.2 TLSv1.3;",
        "  ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;",
        "  ssl_prefer_server_ciphers off;",
        "  ssl_session_cache shared:TLS:10m;",
        "  ssl_session_tickets off;",
        f"  ssl_certificate {tls_dir}/tls.crt;",
        f"  ssl_certificate_key {tls_dir}/tls.key;",
    ]
    for listener in listeners:
        ask = mutual and listener.client_certificates
        # `listen ... ssl http2` is understood by every NGINX release since 1.9.5 (1.25.1+ warns and prefers `http2 on`).
        http2 = " http2" if listener.protocol == "grpc" else ""
        lines += ["  server {", f"    listen {listener.port} ssl{http2};"]
        if ask:
            lines += [f"    ssl_client_certificate {tls_dir}/ca.crt;", "    ssl_verify_client optional;",
                      "    ssl_verify_depth 2;"]
        upstream = f"{LOOPBACK}:{listener.upstream_port}"
        if listener.protocol == "grpc":
            forward = [f"grpc_pass grpc://{upstream};", f"grpc_read_timeout {STREAM_TIMEOUT};",
                       f"grpc_send_timeout {STREAM_TIMEOUT};"]
        else:
            forward = [f"proxy_pass http://{upstream};", "proxy_http_version 1.1;",
                       # Streaming generation (server-sent events) reaches the client as Triton writes it.
                       "proxy_buffering off;", "proxy_request_buffering off;",
                       f"proxy_read_timeout {STREAM_TIMEOUT};", f"proxy_send_timeout {STREAM_TIMEOUT};"]
        if ask and listener.protocol == "http":
            for path in open_paths:
                lines += [f"    location = {path} {{", *(f"      {f}" for f in forward), "    }"]
        lines.append("    location / {")
        if ask:
            lines.append("      if ($ssl_client_verify != SUCCESS) { return 403; }")
        lines += [*(f"      {f}" for f in forward), "    }", "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def proxy_command(config_path: str = f"{CONFIG_MOUNT}/{CONFIG_FILE}", reload_seconds: int = RELOAD_SECONDS) -> list[str]:
    """NGINX in the foreground, reloaded every `reload_seconds` (renewed certificates), stopped gracefully.

    SIGTERM becomes NGINX's graceful stop (SIGQUIT): requests in flight finish, as Triton's do.
    """
    nginx = f"nginx -c {config_path} -e stderr"
    script = (f"{nginx} -g 'daemon off;' & pid=$!; "
              "trap 'kill -QUIT $pid; wait $pid; exit 0' TERM INT; "
              f"while kill -0 $pid 2>/dev/null; do sleep {reload_seconds} & wait $!; {nginx} -s reload; done; "
              "wait $pid")
    return ["/bin/sh", "-c", script]


def proxy_container(listeners: Sequence[Listener], *, image: str, security_context: dict, pre_stop_seconds: int) -> dict:
    """The terminator's container: the pod's only declared ports, read-only root, config and key pair mounted."""
    return {
        "name": PROXY_CONTAINER,
        "image": image,
        "imagePullPolicy": "Always",
        "command": proxy_command(),
        "ports": [{"name": listener.name, "containerPort": listener.port, "protocol": "TCP"} for listener in listeners],
        "resources": {"requests": dict(PROXY_RESOURCES), "limits": dict(PROXY_RESOURCES)},
        # NGINX accepting connections; whether the model answers is Triton's own probes' question (through it).
        "readinessProbe": {"tcpSocket": {"port": listeners[0].port}, "periodSeconds": 5, "timeoutSeconds": 3},
        "livenessProbe": {"tcpSocket": {"port": listeners[0].port}, "periodSeconds": 10, "timeoutSeconds": 5,
                          "failureThreshold": 6},
        # Keeps forwarding while endpoints controllers take the pod out, like Triton's own preStop.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(pre_stop_seconds)]}}},
        "securityContext": security_context,
        "volumeMounts": [
            {"name": CONFIG_VOLUME, "mountPath": CONFIG_MOUNT, "readOnly": True},
            {"name": TLS_VOLUME, "mountPath": TLS_MOUNT, "readOnly": True},
            {"name": "tls-proxy-tmp", "mountPath": "/tmp"},
        ],
    }


def proxy_volumes(config_map: str, secret: str) -> list[dict]:
    return [
        {"name": CONFIG_VOLUME, "configMap": {"name": config_map, "items": [{"key": CONFIG_FILE, "path": CONFIG_FILE}]}},
        {"name": TLS_VOLUME, "secret": {"secretName": secret, "defaultMode": 0o440}},
        {"name": "tls-proxy-tmp", "emptyDir": {"sizeLimit": "256Mi"}},
    ]
