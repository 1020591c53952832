#!/usr/bin/env bash
# Builds the guests' initramfs (gzip'd newc cpio) from Debian's busybox-static and gpiod (libgpiod 1.6
# tools with their shared libraries and loader, found with ldd) plus ./init. Both guests use it: UML
# runs host x86_64 binaries too. Usage: build-initramfs.sh OUTPUT  (takes about a second)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
output=${1:?usage: build-initramfs.sh OUTPUT}
for tool in /bin/busybox /usr/bin/gpiodetect /usr/bin/gpioinfo /usr/bin/gpioget /usr/bin/gpioset /usr/bin/gpiomon; do
  [[ -x $tool ]] || { echo "build-initramfs.sh: $tool is missing; apt-get install busybox-static gpiod (.ci/run does)" >&2; exit 1; }
done
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' ||
  { echo "build-initramfs.sh: /bin/busybox is not static; install busybox-static" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,usr/bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$root/bin/"
for applet in $(/bin/busybox --list); do [[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"; done
for tool in gpiodetect gpioinfo gpioget gpioset gpiomon; do
  cp /usr/bin/$tool "$root/usr/bin/"
  # Shared libraries and the loader, at the paths the binary asks for.
  for lib in $(ldd /usr/bin/$tool | grep -Eo '/[^ ]+'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
done
cp "$here/init" "$root/init"
cp "$here/guest-lib.sh" "$root/e2e.sh"
chmod 755 "$root/init"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet --reproducible -R 0:0) | gzip -9n >"$output.tmp"
mv "$output.tmp" "$output"
echo "$output"
