"""The init container that fills a replica's model cache from the weights bucket.

Each replica owns a persistent volume (a StatefulSet volume claim) on the cluster's
customer-key-encrypted storage class. The weights live in the store under the model's
`weights_uri` together with a checksum list, `SHA256SUMS` (`sha256sum` output: one
`<sha256>  <relative path>` line per file). A model's `revision` is the SHA-256 of that
list, so the revision pins the content, not a label: `llm-infra weights-revision DIR`
writes the list for a local copy of the weights and prints the revision to pin.

The script, the same text on every cloud around one per-store `fetch` of a single object:

1. a replica whose cache marker names the pinned revision starts without touching the
   store (a restart or a re-scale);
2. logs in (Azure: workload identity's federated token) as a statement of its own, so a
   failed login stops the script under `set -e`;
3. fetches the checksum list and refuses it unless its SHA-256 is the pinned revision;
4. builds the new weights directory in a staging folder: a file already in the cache (or
   left verified by an interrupted run) whose SHA-256 matches is kept, every other file is
   downloaded to a partial file, checked against the list and only then renamed; a
   mismatch stops the script;
5. swaps the staging folder in for the weights directory, so files the list does not name
   (an earlier revision's) are gone, and only then writes the completion marker.

An interrupted run leaves no marker and a staging folder of verified files, so the next
start resumes where it stopped. Credentials come from workload identity only; the
script reads no keys. The cloud CLIs honour their own endpoint settings
(`AWS_ENDPOINT_URL`, `CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE`, a registered Azure
cloud and `AZURE_STORAGE_ACCOUNT_URL`), which the pod never sets: the tests point the real CLIs at local stores that way.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ..config import parse_weights_uri

CACHE_MOUNT = "/cache"
WEIGHTS_DIR = f"{CACHE_MOUNT}/weights"
MARKER = f"{CACHE_MOUNT}/.llm-infra-complete"
CHECKSUM_LIST = "SHA256SUMS"
"""Name of the checksum list in the store, directly under the model's weights_uri."""

# The one per-store step: copy the object at relative path "$1" under the weights URI to
# the local file "$2". Credentials come from workload identity only.
_FETCH = {
    "s3": 'aws s3 cp --only-show-errors --no-progress "$STORE_URI/$1" "$2" </dev/null',
    "gs": 'gcloud storage cp --no-user-output-enabled "$STORE_URI/$1" "$2" </dev/null',
    "azureblob": (
        'az storage blob download --auth-mode login '
        '--container-name "$STORE_CONTAINER" --name "${STORE_PREFIX:+$STORE_PREFIX/}$1" '
        '--file "$2" --overwrite true --no-progress --only-show-errors --output none </dev/null'
    ),
}

# Azure workload identity: the webhook injects AZURE_CLIENT_ID, AZURE_TENANT_ID and a
# projected token file. The identity may only read blobs, so it sees no subscription.
_LOGIN = {
    "azureblob": (
        'az login --service-principal -u "$AZURE_CLIENT_ID" -t "$AZURE_TENANT_ID" '
        '--federated-token "$(cat "$AZURE_FEDERATED_TOKEN_FILE")" --allow-no-subscriptions '
        "--only-show-errors --output none </dev/null"
    ),
}

_SCRIPT = r"""set -eu
list="$CACHE_DIR/.llm-infra-sha256sums"
part="$CACHE_DIR/.llm-infra-download.part"
stage="$CACHE_DIR/.llm-infra-incoming"
stage_tag="$CACHE_DIR/.llm-infra-incoming.revision"
if [ -n "$WEIGHTS_REVISION" ] && [ -f "$CACHE_MARKER" ] && [ "$(cat "$CACHE_MARKER")" = "$WEIGHTS_URI@$WEIGHTS_REVISION" ]; then
  echo "model cache holds $WEIGHTS_URI@$WEIGHTS_REVISION; skipping download"
  exit 0
fi
fetch() {
  @FETCH@
}
# sha256_is FILE SUM: FILE exists and its SHA-256 is SUM.
sha256_is() {
  [ -f "$1" ] || return 1
  got=$(sha256sum < "$1") || return 1
  [ "${got%% *}" = "$2" ]
}
refuse() {
  echo "refusing the weights at $WEIGHTS_URI: $*" >&2
  exit 1
}
@LOGIN@
mkdir -p "$CACHE_DIR"
rm -f "$list.part"
fetch "$CHECKSUM_LIST" "$list.part"
digest=$(sha256sum < "$list.part")
digest=${digest%% *}
if [ -n "$WEIGHTS_REVISION" ] && [ "$digest" != "$WEIGHTS_REVISION" ]; then
  refuse "the SHA-256 of $CHECKSUM_LIST is $digest, not the pinned revision $WEIGHTS_REVISION"
fi
mv "$list.part" "$list"
want="$WEIGHTS_URI@$digest"
if [ -f "$CACHE_MARKER" ] && [ "$(cat "$CACHE_MARKER")" = "$want" ] && [ -d "$WEIGHTS_DIR" ]; then
  echo "model cache holds $want; nothing changed"
  exit 0
fi
rm -f "$CACHE_MARKER"
if [ -d "$stage" ] && [ "$(cat "$stage_tag" 2>/dev/null || true)" != "$digest" ]; then
  rm -rf "$stage"
fi
mkdir -p "$stage" "$WEIGHTS_DIR"
printf '%s\n' "$digest" > "$stage_tag"
echo "syncing $want into $WEIGHTS_DIR"
files=0
fetched=0
while read -r sum path extra <&3 || [ -n "${sum:-}" ]; do
  path=${path#\*}
  case "$sum" in *[!0-9a-f]*) refuse "$CHECKSUM_LIST line $((files + 1)): expected a SHA-256, got '$sum'";; esac
  [ "${#sum}" -eq 64 ] || refuse "$CHECKSUM_LIST line $((files + 1)): expected a SHA-256, got '$sum'"
  [ -z "$extra" ] || refuse "$CHECKSUM_LIST line $((files + 1)): expected '<sha256>  <path>' with no spaces in the path"
  case "/$path/" in
    */../*|*/./*|*//*|*[!A-Za-z0-9._+=@/-]*) refuse "$CHECKSUM_LIST line $((files + 1)): expected a relative path, got '$path'";;
  esac
  files=$((files + 1))
  if sha256_is "$stage/$path" "$sum"; then continue; fi
  case "$path" in */*) mkdir -p "$stage/${path%/*}";; esac
  if sha256_is "$WEIGHTS_DIR/$path" "$sum"; then
    mv "$WEIGHTS_DIR/$path" "$stage/$path"
    continue
  fi
  rm -f "$part"
  fetch "$path" "$part"
  if ! sha256_is "$part" "$sum"; then
    rm -f "$part"
    refuse "$path does not match its SHA-256 in $CHECKSUM_LIST ($sum)"
  fi
  mv "$part" "$stage/$path"
  fetched=$((fetched + 1))
done 3< "$list"
[ "$files" -gt 0 ] || refuse "$CHECKSUM_LIST names no files"
rm -rf "$WEIGHTS_DIR"
mv "$stage" "$WEIGHTS_DIR"
rm -f "$stage_tag"
printf '%s' "$want" > "$CACHE_MARKER"
echo "model cache complete: $want ($files files, $fetched downloaded)"
"""


def sync_env(weights_uri: str, revision: str | None) -> dict[str, str]:
    """Environment the script reads: the URI, the pinned revision and the store's parts."""
    scheme, bucket, prefix = parse_weights_uri(weights_uri)
    env = {
        "WEIGHTS_URI": weights_uri,
        "WEIGHTS_REVISION": revision or "",
        "WEIGHTS_DIR": WEIGHTS_DIR,
        "CACHE_DIR": CACHE_MOUNT,
        "CACHE_MARKER": MARKER,
        "CHECKSUM_LIST": CHECKSUM_LIST,
    }
    if scheme == "azureblob":
        account, container = bucket.split("/", 1)
        # The CLI reads the account from AZURE_STORAGE_ACCOUNT and builds its endpoint from the
        # cloud's storage suffix (or AZURE_STORAGE_ACCOUNT_URL, which only the tests set).
        env |= {"AZURE_STORAGE_ACCOUNT": account, "STORE_CONTAINER": container, "STORE_PREFIX": prefix}
    else:
        env["STORE_URI"] = f"{scheme}://{bucket}" + (f"/{prefix}" if prefix else "")
    return env


def sync_script(weights_uri: str) -> str:
    """POSIX shell run by the init container (also run for real by the tests)."""
    scheme = parse_weights_uri(weights_uri)[0]
    return (_SCRIPT.replace("@FETCH@", _FETCH[scheme])
            .replace("@LOGIN@", _LOGIN.get(scheme, ": no login: the CLI reads workload identity itself")))


# --- the checksum list, for whoever uploads the weights ----------------------------------

_LIST_PATH = re.compile(r"[A-Za-z0-9._+=@-]+(/[A-Za-z0-9._+=@-]+)*")


def write_checksum_list(weights_dir: str | Path) -> str:
    """Write `SHA256SUMS` for every file under `weights_dir`; return the revision to pin.

    The list is what the init container checks each downloaded file against; upload it
    next to the weights (`<weights_uri>/SHA256SUMS`). Raises ValueError for a path the
    script would refuse (spaces, `.`/`..` components, other odd characters).
    """
    root = Path(weights_dir)
    if not root.is_dir():
        raise ValueError(f"weights_dir: expected a directory, got {str(weights_dir)!r}")
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.relative_to(root).as_posix() != CHECKSUM_LIST):
        rel = path.relative_to(root).as_posix()
        if not _LIST_PATH.fullmatch(rel) or any(part in (".", "..") for part in rel.split("/")):
            raise ValueError(f"weights_dir: expected file names of letters, digits and ._+=@-, got {rel!r}")
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        lines.append(f"{digest.hexdigest()}  {rel}\n")
    if not lines:
        raise ValueError(f"weights_dir: expected files under {str(weights_dir)!r}, got none")
    text = "".join(lines).encode()
    (root / CHECKSUM_LIST).write_bytes(text)
    return hashlib.sha256(text).hexdigest()
