#!/usr/bin/env bash
# Build the real Pulumi engine and a local Kubernetes control plane from Go modules, at
# pinned versions, into a cache OUTSIDE the repository:
#   ${LLM_INFRA_ENGINE_CACHE:-$HOME/.cache/llm-infra-engine}/<name>-<version>/bin/
# Nothing is committed; a rerun with the cache takes seconds. Each build prints its time.
#
# Where a module's go.mod replaces a module with a local path (k8s.io/kubernetes ->
# ./staging/src/k8s.io/*, Pulumi's pkg -> ../sdk, etcd's server -> ../api ...), the
# sources are assembled from the module proxy: `go mod download` of the module and of each
# replaced module at the matching version, laid out in a temporary directory outside the
# repository as the replace directives expect.
#
# Usage: scripts/real-engine.sh [--print-path] [name ...]   (names: see BUILDS below)
set -euo pipefail

# --- Pins (one place; tests/realengine reads the bin directories from --print-path) -----
# Pulumi CLI: the module proxy serves github.com/pulumi/pulumi/pkg/v3 at v3.274.x but not
# at v3.272.0 (the Python SDK pinned in pyproject.toml); a CLI newer than the SDK is the
# supported direction, so the CLI is the nearest served version above the SDK.
PULUMI_CLI_VERSION=v3.274.1
# The Python SDK's version: the program executor (python/cmd/pulumi-language-python-exec)
# is taken from github.com/pulumi/pulumi/sdk/v3 at this version.
PULUMI_SDK_VERSION=v3.272.0
# pulumi-kubernetes: the proxy serves github.com/pulumi/pulumi-kubernetes/provider/v4 at
# one pseudo-version only (commit f47bc2d6f199 of 2026-01-15, requiring sdk/v4 v4.24.0);
# neither v4.34.2 nor any tagged version is served.
KUBERNETES_PROVIDER_VERSION=v4.0.0-20260115033456-f47bc2d6f199
KUBERNETES_PROVIDER_SDK_VERSION=v4.24.0
PULUMI_YAML_VERSION=v1.25.0
ETCD_VERSION=v3.6.16
KUBERNETES_VERSION=v1.34.2
KUBERNETES_STAGING_VERSION=v0.34.2
KWOK_VERSION=v0.8.0
# CRDs of the operators the workload's objects need, at the app versions of the charts
# pinned in llm_infra/versions.py (KEDA chart 2.16.0 = KEDA v2.16.0; kube-prometheus-stack
# 66.3.0 = prometheus-operator v0.78.2).
KEDA_VERSION=v2.16.0
PROMETHEUS_OPERATOR_VERSION=v0.78.2

CACHE="${LLM_INFRA_ENGINE_CACHE:-$HOME/.cache/llm-infra-engine}"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export CGO_ENABLED=0

BUILDS=(crds pulumi pulumi-kubernetes pulumi-yaml etcd kubernetes kwok sdkgen)
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# tools/sdkgen (ours: Pulumi's Go SDK generator as a program) is keyed by its sources' hash.
sdkgen_key() {
  cat "$REPO/tools/sdkgen/go.mod" "$REPO/tools/sdkgen/go.sum" "$REPO/tools/sdkgen/main.go" | sha256sum | cut -c1-16
}

bin_dir() {  # bin_dir NAME -> the cache's bin directory for NAME at its pinned version
  case "$1" in
    pulumi) echo "$CACHE/pulumi-$PULUMI_CLI_VERSION/bin" ;;
    pulumi-kubernetes) echo "$CACHE/pulumi-kubernetes-$KUBERNETES_PROVIDER_VERSION/bin" ;;
    pulumi-yaml) echo "$CACHE/pulumi-yaml-$PULUMI_YAML_VERSION/bin" ;;
    etcd) echo "$CACHE/etcd-$ETCD_VERSION/bin" ;;
    kubernetes) echo "$CACHE/kubernetes-$KUBERNETES_VERSION/bin" ;;
    kwok) echo "$CACHE/kwok-$KWOK_VERSION/bin" ;;
    sdkgen) echo "$CACHE/sdkgen-$(sdkgen_key)/bin" ;;
    crds) echo "$CACHE/crds-keda-$KEDA_VERSION-prometheus-operator-$PROMETHEUS_OPERATOR_VERSION/bin" ;;
    *) echo "real-engine.sh: unknown build '$1' (expected one of: ${BUILDS[*]})" >&2; return 2 ;;
  esac
}

# Module directory in the module cache (downloads it if needed).
mod_dir() {
  local dir
  dir="$(go mod download -json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir","")); sys.exit(1 if d.get("Error") else 0)')" || {
    echo "real-engine.sh: go mod download $1 failed" >&2; return 1; }
  echo "$dir"
}

# assemble MODULE@VERSION DEST VERSION_RULES...
# Copies the module to DEST/root and every module its go.mod replaces with a local path to
# where that path points, each at the version the matching rule gives ("prefix=version":
# the first rule whose prefix starts the replaced module's path). Replaces no rule matches
# are left alone (they name modules outside the build, e.g. etcd's FORBIDDEN_DEPENDENCY).
assemble() {
  local modver="$1" dest="$2"; shift 2
  local src; src="$(mod_dir "$modver")"
  mkdir -p "$dest/root"
  cp -R "$src/." "$dest/root/"
  chmod -R u+w "$dest"
  local line old new ver rule
  while IFS=$'\t' read -r old new; do
    ver=""
    for rule in "$@"; do
      if [[ "$old" == "${rule%%=*}"* ]]; then ver="${rule#*=}"; break; fi
    done
    [ -n "$ver" ] || continue
    local target; target="$(cd "$dest/root" && python3 -c 'import os,sys; print(os.path.normpath(os.path.join(os.getcwd(), sys.argv[1])))' "$new")"
    local rsrc; rsrc="$(mod_dir "$old@$ver")"
    mkdir -p "$target"
    cp -R "$rsrc/." "$target/"
    chmod -R u+w "$target"
  done < <(cd "$dest/root" && go mod edit -json | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    new = r["New"]["Path"]
    if not r["New"].get("Version") and (new.startswith("./") or new.startswith("../")):
        print(r["Old"]["Path"] + "\t" + new)')
}

gobuild() {  # gobuild OUT LDFLAGS PACKAGE
  go build -trimpath -ldflags "-s -w $2" -o "$1" "$3"
}

build_pulumi() {
  local out="$1" tmp="$2"
  assemble "github.com/pulumi/pulumi/pkg/v3@$PULUMI_CLI_VERSION" "$tmp" "github.com/pulumi/pulumi/sdk/v3=$PULUMI_CLI_VERSION"
  (cd "$tmp/root" && gobuild "$out/pulumi" "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_CLI_VERSION" ./cmd/pulumi)
  # The Python program executor shipped in the SDK module at the Python SDK's version; the
  # language host (pulumi-language-python) that starts it is not served by the module
  # proxy (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3: 403), so
  # llm_infra.engine.langhost stands in for it (see docs/real-engine.md).
  local sdk; sdk="$(mod_dir "github.com/pulumi/pulumi/sdk/v3@$PULUMI_SDK_VERSION")"
  cp "$sdk/python/cmd/pulumi-language-python-exec" "$out/pulumi-language-python-exec"
  chmod 0555 "$out/pulumi-language-python-exec"
}

build_pulumi_kubernetes() {
  local out="$1" tmp="$2"
  assemble "github.com/pulumi/pulumi-kubernetes/provider/v4@$KUBERNETES_PROVIDER_VERSION" "$tmp" \
    "github.com/pulumi/pulumi-kubernetes/sdk/v4=$KUBERNETES_PROVIDER_SDK_VERSION"
  # The provider embeds its schema under generated names (its Makefile copies them).
  local cmd="$tmp/root/cmd/pulumi-resource-kubernetes"
  cp "$cmd/schema.json" "$cmd/schema-embed.json"
  cp "$cmd/terraform-mapping.json" "$cmd/terraform-mapping-embed.json"
  (cd "$tmp/root" && gobuild "$out/pulumi-resource-kubernetes" \
    "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${KUBERNETES_PROVIDER_VERSION#v}" \
    ./cmd/pulumi-resource-kubernetes)
}

build_pulumi_yaml() {
  local out="$1" tmp="$2"
  assemble "github.com/pulumi/pulumi-yaml@$PULUMI_YAML_VERSION" "$tmp"
  (cd "$tmp/root" && gobuild "$out/pulumi-language-yaml" \
    "-X github.com/pulumi/pulumi-yaml/pkg/version.Version=$PULUMI_YAML_VERSION" ./cmd/pulumi-language-yaml)
}

build_etcd() {
  local out="$1" tmp="$2"
  assemble "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "$tmp" "go.etcd.io/etcd/=$ETCD_VERSION"
  (cd "$tmp/root" && gobuild "$out/etcd" "" .)
}

build_kubernetes() {
  local out="$1" tmp="$2"
  assemble "k8s.io/kubernetes@$KUBERNETES_VERSION" "$tmp" "k8s.io/=$KUBERNETES_STAGING_VERSION"
  local minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  local ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  # One `go build` per program (measured: one `go build -o DIR/` of the three was not faster on
  # two cores, docs/benchmarks.md section 3); the later ones find the shared packages in the Go
  # build cache.
  local c start
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    start=$SECONDS
    (cd "$tmp/root" && gobuild "$out/$c" "$ld" "./cmd/$c")
    echo "real-engine: built $c in $((SECONDS - start))s"
  done
}

build_kwok() {
  local out="$1" tmp="$2"
  assemble "sigs.k8s.io/kwok@$KWOK_VERSION" "$tmp"
  (cd "$tmp/root" && gobuild "$out/kwok" "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" ./cmd/kwok)
  # kwok's own stage definitions (node ready/heartbeat, pod ready, volume provisioning).
  mkdir -p "$out/kwok-stages"
  cp -R "$tmp/root/kustomize/stage/." "$out/kwok-stages/"
}

build_sdkgen() {
  local out="$1" tmp="$2"
  cp -R "$REPO/tools/sdkgen/." "$tmp/"
  (cd "$tmp" && gobuild "$out/sdkgen" "" .)
  # The Kubernetes provider's schema, which llm-infra's schema refers to (its provider resource).
  local provider; provider="$(mod_dir "github.com/pulumi/pulumi-kubernetes/provider/v4@$KUBERNETES_PROVIDER_VERSION")"
  cp "$provider/cmd/pulumi-resource-kubernetes/schema.json" "$out/kubernetes-schema.json"
  chmod u+w "$out/kubernetes-schema.json"
}

build_crds() {
  local out="$1" keda prom
  keda="$(mod_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")"
  prom="$(mod_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")"
  mkdir -p "$out/crds"
  cp "$keda"/config/crd/bases/keda.sh_*.yaml "$prom"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml "$out/crds/"
  chmod u+w "$out"/crds/*
}

build() {
  local name="$1" dir; dir="$(bin_dir "$name")"
  mkdir -p "$CACHE"
  # One builder per entry at a time (two runs of this script may overlap).
  exec 9>"$CACHE/.lock-$name"
  flock 9
  if [ -f "$dir/.complete" ]; then
    echo "real-engine: $name cached at $dir"
    return 0
  fi
  local tmp; tmp="$(mktemp -d "${TMPDIR:-/tmp}/llm-infra-engine-$name.XXXXXX")"
  rm -rf "$dir"; mkdir -p "$dir"
  local start=$SECONDS
  echo "real-engine: building $name ..."
  "build_${name//-/_}" "$dir" "$tmp"
  rm -rf "$tmp"
  touch "$dir/.complete"
  echo "real-engine: built $name in $((SECONDS - start))s -> $dir"
  exec 9>&-
}

if [ "${1:-}" = "--print-path" ]; then
  shift
  names=("$@"); [ ${#names[@]} -gt 0 ] || names=("${BUILDS[@]}")
  path=""
  for n in "${names[@]}"; do path+="$(bin_dir "$n"):"; done
  echo "${path%:}"
  exit 0
fi

total=$SECONDS
if [ $# -gt 0 ]; then
  for n in "$@"; do build "$n"; done
elif [ "${LLM_INFRA_ENGINE_JOBS:-2}" = 1 ]; then
  for n in "${BUILDS[@]}"; do build "$n"; done
else
  # Two chains side by side (LLM_INFRA_ENGINE_JOBS=1: one after the other). Within a chain the
  # order lets later builds reuse the Go build cache of earlier ones (pulumi-yaml shares most of
  # its packages with the provider); across chains, one chain's single-threaded links and
  # module downloads overlap the other's compiles. The Go build and module caches are safe to
  # share between concurrent builds.
  ( for n in etcd kwok kubernetes; do build "$n"; done ) & chain_a=$!
  ( for n in crds pulumi sdkgen pulumi-kubernetes pulumi-yaml; do build "$n"; done ) & chain_b=$!
  failed=0
  wait "$chain_a" || failed=1
  wait "$chain_b" || failed=1
  if [ "$failed" = 1 ]; then
    echo "real-engine: a build failed (see above)" >&2
    exit 1
  fi
fi
echo "real-engine: all done in $((SECONDS - total))s (cache: $CACHE)"
