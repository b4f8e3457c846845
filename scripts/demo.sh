#!/usr/bin/env bash
# The main job on a machine without internet (README's first command): build dist/berth, make the base
# image `busybox` from Debian's busybox-static with `berth import`, and run a container in it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bun run build
BERTH=./dist/berth
tar_file=$(mktemp /tmp/busybox-rootfs.XXXXXX.tar)
trap 'rm -f "$tar_file"' EXIT
bash scripts/busybox-rootfs.sh "$tar_file"
$BERTH import "$tar_file" busybox
$BERTH images busybox
$BERTH system check
$BERTH run --rm --network none busybox sh -c 'echo "hello from $(hostname), pid $$, in $(uname -s)"'

