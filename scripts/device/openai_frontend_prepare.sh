#!/usr/bin/env bash
# Here (the development machine): fill the folder the device run carries.
#
#   bash scripts/device/openai_frontend_prepare.sh RUN SERVER_GIT_DIR
#
# RUN: a folder of the checkout the device tool sends that .git/info/exclude ignores (e.g. .frontend-run).
# SERVER_GIT_DIR: a git directory of triton-inference-server/server (the search tool's `fetch` brings one);
# the frontend's source is taken from it at each tag, for the run only: it is never committed.
# The wheels come from PyPI through pip; the libraries, the python backend and its 3.12 stub from the
# nvidia-pytriton wheel the dev environment installs; nginx and curl from Debian's packages.
set -euo pipefail
RUN=${1:?usage: openai_frontend_prepare.sh RUN SERVER_GIT_DIR}
SERVER=${2:?usage: openai_frontend_prepare.sh RUN SERVER_GIT_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
mkdir -p "$RUN/whl" "$RUN/client-whl" "$RUN/scripts"
DL="python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp
    --platform manylinux_2_39_x86_64 --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any"
# The in-process bindings: the oldest on PyPI (2.70.0; the pinned images ship 2.65.0's, which PyPI lacks).
# The frontend's requirements at v2.65.0 (python/openai/requirements.txt), pydantic as tritonfrontend pins
# it, uvicorn (imported, not in the requirements), transformers 4.x as vLLM 0.13.0 requires it.
$DL -d "$RUN/whl" tritonserver==2.70.0 tritonfrontend==2.70.0 fastapi==0.121.2 starlette==0.49.3 \
    pydantic==2.10.6 pydantic-core==2.27.2 annotated-types==0.7.0 uvicorn==0.38.0 openai==1.107.3 \
    httpx==0.27.2 httpcore==1.0.9 sniffio==1.3.1 distro==1.9.0 jiter==0.11.0 partial-json-parser==0.2.1.1.post6 \
    transformers==4.57.1 tokenizers==0.22.1 huggingface-hub==0.36.0
# The client the README installs (`pip install openai`): the version the dev environment has, and what it needs
# beyond the machine's packages.
$DL -d "$RUN/client-whl" openai==3.57.0 httpx2==2.16.2 httpcore2==2.16.2 truststore==0.10.5 jiter==0.19.0 anyio==4.16.0
# The real libtritonserver (2.51), what it links, the python backend and its stub for Python 3.12.
SITE=$("$PY" -c 'import pytriton, pathlib; print(pathlib.Path(pytriton.__file__).parent.parent)')
LIBS=$(cd "$SITE" && "$PY" - <<'PYEOF'
import os, subprocess
libs = "nvidia_pytriton.libs"
have = set(os.listdir(libs))
todo = [f"{libs}/{next(f for f in have if f.startswith('libtritonserver'))}",
        "pytriton/tritonserver/backends/python/libtriton_python.so",
        "pytriton/tritonserver/python_backend_stubs/3.12/triton_python_backend_stub"]
seen = set()
while todo:
    out = subprocess.run(["readelf", "-d", todo.pop()], capture_output=True, text=True, check=True).stdout
    for name in (l.split("[")[1].split("]")[0] for l in out.splitlines() if "(NEEDED)" in l):
        if name in have and name not in seen:
            seen.add(name)
            todo.append(f"{libs}/{name}")
print(" ".join(f"{libs}/{n}" for n in sorted(seen)))
PYEOF
)
# shellcheck disable=SC2086
tar -C "$SITE" -cJf "$RUN/pytriton-0.7.0-server.tar.xz" $LIBS \
    pytriton/tritonserver/backends/python/libtriton_python.so \
    pytriton/tritonserver/backends/python/triton_python_backend_utils.py \
    pytriton/tritonserver/python_backend_stubs/3.12/triton_python_backend_stub
# Debian's nginx (the TLS tests' binary) and curl with the libraries Ubuntu may lack.
TMP=$(mktemp -d)
(cd "$TMP" && apt-get download nginx curl libcurl4 libbrotli1 libldap-2.5-0 libnghttp2-14 libpsl5 librtmp1 \
    libsasl2-2 libssh2-1 libidn2-0 libunistring2 libgssapi-krb5-2 libk5crypto3 libkrb5-3 libkrb5support0 \
    libkeyutils1 libcom-err2 libgnutls30 libhogweed6 libnettle8 libp11-kit0 libtasn1-6 libgmp10 libffi8 libzstd1 \
    && mkdir root && for f in ./*.deb; do dpkg -x "$f" root; done \
    && cp root/usr/sbin/nginx . && tar -cJf "$RUN/debian-nginx.tar.xz" nginx \
    && tar -C root -cJf "$RUN/debian-curl.tar.xz" usr/bin/curl usr/lib/x86_64-linux-gnu)
rm -rf "$TMP"
# The frontend at the pinned tag (and the bindings' tag, to compare).
for tag in v2.65.0 v2.70.0; do
    git --git-dir="$SERVER" archive --format=tar "$tag" python/openai/openai_frontend python/openai/requirements.txt \
        | xz > "$RUN/server-$tag-openai.tar.xz"
done
cp "$ROOT"/scripts/device/openai_frontend_{check.sh,driver.py} "$RUN/scripts/"
rm -rf "$RUN/bundle"
"$PY" "$ROOT/scripts/device/openai_frontend_bundle.py" "$RUN/bundle"
rm -rf "$RUN"/bundle/*/rendered
du -sh "$RUN"
