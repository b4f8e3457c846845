#!/usr/bin/env bash
# Installs what building and testing berth needs on a fresh Debian 12 machine that has only node and
# npm: Bun 1.4.4 from npm, the project's packages, and the Debian tools the tests use as independent
# peers: GNU tar, busybox-static for the base image, skopeo and docker-registry for registry tests,
# iproute2 to check netlink work from the outside, python3 for the pty driver, btrfs-progs for the
# btrfs driver tests' loop-mounted filesystem; gcc to build the embedded shim and monitor, and
# libisal-dev (ISA-L's header, and libisal2 that the pull's inflate loads when a machine has it); the docker
# CLI and dockerd (docker.io), docker-py, docker-compose, curl, openssl, openssh-server and
# systemd-socket-activate for the daemon and client tests; podman, conmon, crun, runc, containerd,
# slirp4netns and uidmap for the OCI runtime tests. Services are not started here: each test starts the
# daemons it needs on private sockets and stops them. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v bun >/dev/null || [ "$(bun --version)" != "1.4.4" ]; then
  npm install -g bun@1.4.4 >&2
fi

pkgs=(busybox-static tar gzip zstd libisal-dev libcap2-bin nftables skopeo docker-registry iproute2 python3 util-linux time btrfs-progs gcc libc6-dev zlib1g-dev docker.io systemd curl openssl python3-docker docker-compose openssh-server podman conmon crun runc containerd slirp4netns uidmap bsdutils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  A=(apt-get -o DPkg::Lock::Timeout=300 -y -q)
  "${A[@]}" install --no-install-recommends "${missing[@]}" >&2 || { "${A[@]}" update >&2 && "${A[@]}" install --no-install-recommends "${missing[@]}" >&2; }
fi

bun install --frozen-lockfile >&2
