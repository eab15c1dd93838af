"""How the NVIDIA device plugin hands GPUs to containers (its DEVICE_LIST_STRATEGY).

The Kubernetes layer deploys the plugin with it, a cloud configures its GPU nodes to match, and
config checks read the default: one bottom-layer table for all three.
"""

# Plain strings rather than a Literal: Pulumi's schema inference (multi-language use) reads `str` only.
# `--device-list-strategy` values of the plugin (api/config/v1/consts.go@v0.17.0); the CDI ones are
# left out: they need the plugin to write CDI specs into a host directory (more host access).
DEVICE_LIST_STRATEGIES = ("envvar", "volume-mounts")
# The secure default: allocated GPUs reach the runtime as mounts of /dev/null under this directory
# (internal/plugin/server.go@v0.17.0, `deviceListAsVolumeMountsContainerPathRoot`), which a pod
# cannot create without a hostPath volume (Pod Security baseline forbids one).
DEFAULT_DEVICE_LIST_STRATEGY = "volume-mounts"
VOLUME_MOUNTS_ROOT = "/var/run/nvidia-container-devices"
# The NVIDIA container toolkit settings (top-level keys of /etc/nvidia-container-runtime/config.toml,
# api/config/v1/config.go@v1.20.0; toolkit defaults: envvar true, volume-mounts false) every GPU node
# needs for `volume-mounts`: devices from the mounts only, never from an unprivileged container's
# NVIDIA_VISIBLE_DEVICES (CUDA images set it to `all`).
NODE_RUNTIME_SETTINGS = {
    "accept-nvidia-visible-devices-envvar-when-unprivileged": "false",
    "accept-nvidia-visible-devices-as-volume-mounts": "true",
}
