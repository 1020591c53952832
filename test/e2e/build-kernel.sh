#!/usr/bin/env bash
# Builds a guest kernel from Debian's linux-source-6.1 and prints the path of the image (last line of
# stdout). Usage: build-kernel.sh qemu|uml
#   qemu: x86_64 bzImage = `make tinyconfig` + kernel/qemu-x86_64.config
#   uml:  User-Mode Linux `linux` = `make ARCH=um defconfig` + kernel/uml.config
# Cached in ${XDG_CACHE_HOME:-~/.cache}/vgpio/kernels/<hash>/, the hash covering the fragment, the base
# config, the source package version, the compiler and this script: a rerun with the same inputs skips
# the build. The source tarball is extracted once per version into the cache, builds are out of tree.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kind=${1:?usage: build-kernel.sh qemu|uml}
jobs=${VGPIO_E2E_JOBS:-$(nproc)}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vgpio
tarball=/usr/src/linux-source-6.1.tar.xz
log() { echo "build-kernel($kind): $*" >&2; }

case "$kind" in
  qemu) fragment=$here/kernel/qemu-x86_64.config; base=tinyconfig; arch=x86_64; target=bzImage; image=arch/x86/boot/bzImage ;;
  uml) fragment=$here/kernel/uml.config; base=defconfig; arch=um; target=linux; image=linux ;;
  *) echo "build-kernel.sh: unknown kind '$kind' (qemu or uml)" >&2; exit 2 ;;
esac
[[ -f $tarball ]] || { echo "build-kernel.sh: $tarball is missing; apt-get install linux-source-6.1 (.ci/run does)" >&2; exit 1; }
version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
hash=$( { echo "$kind $base $arch $version"; gcc -dumpfullversion; cat "$fragment" "$0"; } | sha256sum | cut -c1-16)
out=$cache/kernels/$hash
if [[ -f $out/$(basename "$image") ]]; then
  log "cached: $out"
  echo "$out/$(basename "$image")"
  exit 0
fi

mkdir -p "$cache/kernels"
src=$cache/src/linux-source-6.1_$version
(
  flock 9
  if [[ ! -f $src/.extracted ]]; then
    log "extracting $tarball into $src"
    rm -rf "$src" "$src.tmp"
    mkdir -p "$src.tmp"
    tar -xJf "$tarball" -C "$src.tmp" --strip-components=1
    touch "$src.tmp/.extracted"
    mv "$src.tmp" "$src"
  fi
) 9>"$cache/src.lock"

build=$cache/build/$kind-$hash
rm -rf "$build"
mkdir -p "$build"
start=$SECONDS
log "configuring ($base + $(basename "$fragment")) in $build"
make -C "$src" O="$build" ARCH=$arch -s $base >&2
(cd "$src" && ARCH=$arch scripts/kconfig/merge_config.sh -m -O "$build" "$build/.config" "$fragment" >/dev/null)
make -C "$src" O="$build" ARCH=$arch -s olddefconfig >&2
# Every option of the fragment must have survived olddefconfig (a missing dependency drops it silently).
missing=0
while IFS= read -r line; do
  [[ $line =~ ^(CONFIG_[A-Z0-9_]+)=(.*)$ ]] || continue
  grep -qx -- "$line" "$build/.config" || { log "option lost after olddefconfig: $line"; missing=1; }
done <"$fragment"
((missing == 0)) || exit 1
log "compiling $target with -j$jobs"
make -C "$src" O="$build" ARCH=$arch -s -j"$jobs" $target >&2
mkdir -p "$out.tmp"
cp "$build/$image" "$build/.config" "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"
rm -rf "$build"
log "built in $((SECONDS - start)) s: $out"
echo "$out/$(basename "$image")"
