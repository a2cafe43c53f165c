#!/usr/bin/env bash
# Installs the Vulkan loader and Mesa's software Vulkan driver (lavapipe) so the
# tfjs WebGPU backend and gpu.js WebGPU kernels run on the CPU through Dawn.
# mesa-vulkan-drivers comes from bookworm-backports: the bookworm version lacks
# a feature Dawn needs. Idempotent; needs root (or sudo) and Debian's mirrors.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
if [ ! -f /etc/apt/sources.list.d/bookworm-backports.list ]; then
  echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/bookworm-backports.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 >/dev/null 2>&1 || $SUDO apt-get update -qq >/dev/null
$SUDO apt-get update -qq >/dev/null 2>&1 || true
$SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
echo "vulkan: $(dpkg-query -W -f='${Package} ${Version}\n' mesa-vulkan-drivers libvulkan1 | tr '\n' ' ')"
