#!/usr/bin/env bash
# busybox-rootfs.sh OUT.tar — a minimal rootfs tarball from Debian's busybox-static: /bin/busybox, its
# applet links, /etc/passwd and /etc/group. Deterministic (sorted, fixed mtimes and owners).
set -euo pipefail
out=$1
bb=/bin/busybox
[ -x "$bb" ] || { echo "busybox-rootfs: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
d=$(mktemp -d /tmp/busybox-rootfs.XXXXXX)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,proc,sys,dev,home,var}
chmod 1777 "$d/tmp"
cp "$bb" "$d/bin/busybox"
chmod 755 "$d"
# `busybox --install -s` would link to its own absolute path on the host; link every applet by hand
for a in $("$d/bin/busybox" --list-full); do
  [ -e "$d/$a" ] || [ -L "$d/$a" ] || ln -s /bin/busybox "$d/$a"
done
cat > "$d/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$d/etc/group" <<'G'
root:x:0:
daemon:x:1:
bin:x:2:
tty:x:5:
nogroup:x:65534:
G
tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner -C "$d" -cf "$out" .
