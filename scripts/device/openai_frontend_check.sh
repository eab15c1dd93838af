#!/usr/bin/env bash
# On the device machine: install what was carried, then run the frontend check (openai_frontend_driver.py).
#
#   bash RUN/scripts/openai_frontend_check.sh RUN [TAGS [KIND]]
#
# RUN is the carried folder that scripts/device/openai_frontend_prepare.sh filled (wheels, the pytriton
# libraries, Debian's nginx and curl, the frontend source at each tag, the bundle). Results go to $OUT.
set -uo pipefail
RUN=${1:?usage: openai_frontend_check.sh RUN [TAGS]}
TAGS=${2:-v2.65.0}
KIND=${3:-KIND_GPU}
OUT=${OUT:-/tmp/frontend-out}
mkdir -p "$OUT"
# What an earlier run on this machine left behind (each by its id): frontends, python backend stubs, NGINX.
for pid in $(pgrep -f triton_python_backend_stub) $(pgrep -f openai_frontend/main.py) $(pgrep -f "nginx -c /etc/llm-infra"); do kill -9 "$pid"; done
sleep 1
rm -rf /tmp/site /tmp/client  # a warm machine keeps an earlier run's packages
PIP="python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade"
$PIP --target /tmp/site "$RUN"/whl/*.whl || exit 1
$PIP --target /tmp/client "$RUN"/client-whl/*.whl || exit 1
mkdir -p /opt/pytriton /opt/debian
tar -C /opt/pytriton -xJf "$RUN/pytriton-0.7.0-server.tar.xz" || exit 1
tar -C /opt/debian -xJf "$RUN/debian-nginx.tar.xz" || exit 1
tar -C /opt/debian -xJf "$RUN/debian-curl.tar.xz" || exit 1
PYTHONUNBUFFERED=1 timeout 500 python3 "$RUN/scripts/openai_frontend_driver.py" --run "$RUN" --out "$OUT" --tags "$TAGS" --kind "$KIND"
rc=$?
# At most 8 files come back: the logs travel as one archive.
(cd "$OUT" && ls ./*.log >/dev/null 2>&1 && tar -czf logs.tgz ./*.log && rm -f ./*.log)
exit $rc
