"""Pinned images, chart versions and Kubernetes API levels: the one place to bump them.

Every image is pinned to an immutable release tag. Components take an override through
their Args, so a user can point at a mirror (a private registry is common for dedicated
clusters) without forking the library.
"""

from __future__ import annotations

# Triton images per backend: the newest release whose backend source could be read at its
# release branch or tag (vLLM and python: 26.01; TensorRT-LLM: 25.05). The version matrix
# (Triton, vLLM, TensorRT-LLM, CUDA, minimum driver) with its sources is
# llm_infra.triton.upstream.RELEASES; docs/versions.md shows it.
from .triton.upstream import LOCAL_TRITON, RELEASES  # noqa: E402

TRITON_IMAGES: dict[str, str] = {backend: release.image for backend, release in RELEASES.items()}
# The Triton the test suite runs for real (nvidia-pytriton 0.7.0 wheel).
TRITON_VERSION = LOCAL_TRITON.triton_version

NVIDIA_DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.17.0"
DCGM_EXPORTER_IMAGE = "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04"

# Images of the init container that syncs weights into the model cache, by URI scheme.
# tests/test_cache_sync_real_cli.py runs the sync script with the same azure-cli and gcloud
# releases (scripts/setup-test.sh); for S3 it runs aws-cli v1 from PyPI, which has no v2.
MODEL_SYNC_IMAGES: dict[str, str] = {
    "s3": "public.ecr.aws/aws-cli/aws-cli:2.22.4",
    "gs": "gcr.io/google.com/cloudsdktool/google-cloud-cli:528.0.0-slim",
    "azureblob": "mcr.microsoft.com/azure-cli:2.67.0",
}

# Optional operators the workload relies on (ScaledObject, ServiceMonitor, PrometheusRule).
KEDA_CHART = {"chart": "keda", "version": "2.16.0", "repo": "https://kedacore.github.io/charts"}
KUBE_PROMETHEUS_STACK_CHART = {
    "chart": "kube-prometheus-stack",
    "version": "66.3.0",
    "repo": "https://prometheus-community.github.io/helm-charts",
}

# Inference routing (opt-in, `inference_gateway`): the Gateway API Inference Extension's InferencePool
# (inference.networking.k8s.io/v1) and endpoint picker, and the Gateway API CRDs the routes need.
# v1.5.0 is the last release whose repository holds the endpoint picker (v1.6.0 moved it to
# llm-d/llm-d-router); its conformance suite runs against Gateway API v1.5.1 (conformance/go.mod@v1.5.0).
# Facts, flags and sources: llm_infra.kubernetes.inference_gateway.
GATEWAY_API_INFERENCE_EXTENSION_VERSION = "v1.5.0"
GATEWAY_API_VERSION = "v1.5.1"
ENDPOINT_PICKER_IMAGE = f"registry.k8s.io/gateway-api-inference-extension/epp:{GATEWAY_API_INFERENCE_EXTENSION_VERSION}"
# cert-manager issues the TLS certificates of every hop the stack owns (llm_infra.kubernetes.cert_manager).
# Chart and app share the tag; its CRDs (deploy/crds at the tag) are what scripts/real-engine.sh caches.
CERT_MANAGER_CHART = {"chart": "cert-manager", "version": "v1.21.2", "repo": "https://charts.jetstack.io"}

# The TLS terminator beside Triton (llm_infra.triton.tls): NGINX's unprivileged image (UID 101 by default,
# listens on unprivileged ports, writes only under /tmp), from the registry the AWS CLI image already comes from.
# Tag: the current stable NGINX on Alpine. Source, read 2026-12-01: nginx/docker-nginx-unprivileged@e26803b
# (2026-07-15) — stable/alpine-slim/Dockerfile `ENV NGINX_VERSION=1.30.4`, stable/alpine/Dockerfile builds
# on it, and .github/workflows/alpine-stable.yml pushes `<major>.<minor>.<patch>-alpine` to
# public.ecr.aws/nginx/nginx-unprivileged (also docker.io/nginxinc, ghcr.io/nginx, quay.io/nginx). The
# registry itself cannot be reached here; tests/test_tls_handshake.py runs the generated nginx.conf on Debian's
# NGINX, which has every directive it uses (`listen ... ssl http2` is accepted with a deprecation warning
# since 1.25.1).
TLS_PROXY_IMAGE = "public.ecr.aws/nginx/nginx-unprivileged:1.30.4-alpine"

# Kubernetes minor versions whose API schemas every rendered manifest must satisfy.
SUPPORTED_KUBERNETES_VERSIONS: tuple[str, ...] = ("1.31", "1.32", "1.33", "1.34", "1.35")

# --- AWS (EKS) -------------------------------------------------------------------------
# EKS Kubernetes minor version of new clusters; one of SUPPORTED_KUBERNETES_VERSIONS.
EKS_KUBERNETES_VERSION = "1.33"
# The cluster autoscaler's minor version must match the cluster's Kubernetes minor.
CLUSTER_AUTOSCALER_IMAGES: dict[str, str] = {
    "1.31": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.31.0",
    "1.32": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.0",
    "1.33": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.0",
    "1.34": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.0",
}

# --- Azure (AKS) -----------------------------------------------------------------------
# AKS Kubernetes minor version of new clusters; the `patch` upgrade channel keeps it on the
# newest patch of this minor. One of SUPPORTED_KUBERNETES_VERSIONS.
AKS_KUBERNETES_VERSION = "1.33"
