#!/usr/bin/env bash
# The e2e tier (npm run test:e2e): real Linux guests with the stock gpio-virtio driver and the libgpiod
# tools against the vgpio vhost-user backend on the emulated board (loopback jig).
#   1. guest kernels from Debian's linux-source-6.1 (build-kernel.sh, cached by hash: reruns skip it)
#   2. the initramfs: busybox-static + gpiod + ./init (build-initramfs.sh)
#   3. plans, each a run of harness.mjs: uml (requestq + interrupts), cli (UML against `vgpio serve`
#      itself), qemu (requestq, reboot, backend restart), then the same uml plan against a daemon that
#      never answers GET_VALUE, which must FAIL (one counted check: the tier notices a broken daemon).
# Ends with "e2e: N passed, N failed"; exits non-zero on any failure. Logs and consoles are kept in
# $VGPIO_E2E_WORK (default: a new directory under /tmp).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
start=$SECONDS
work=${VGPIO_E2E_WORK:-$(mktemp -d /tmp/vgpio-e2e.XXXXXX)}
mkdir -p "$work"
passed=0
failed=0
say() { echo "e2e: [$((SECONDS - start)) s] $*"; }
finish() {
  say "logs, guest consoles and daemon logs in $work"
  echo "e2e: $passed passed, $failed failed"
  ((failed == 0 && passed > 0)) || exit 1
  exit 0
}
fatal() { # a set-up step failed: nothing can run
  echo "FAIL e2e: $*"
  failed=$((failed + 1))
  finish
}

missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
[[ -f /usr/src/linux-source-6.1.tar.xz ]] || missing+=(linux-source-6.1)
[[ -x /bin/busybox ]] || missing+=(busybox-static)
command -v gpiomon >/dev/null || missing+=(gpiod)
for tool in make gcc flex bison bc cpio xz; do command -v $tool >/dev/null || missing+=("$tool"); done
((${#missing[@]} == 0)) || fatal "missing: ${missing[*]} (.ci/run installs them)"
grep -qs ' /dev/shm tmpfs .*noexec' /proc/mounts && fatal "/dev/shm is mounted noexec: User-Mode Linux needs exec there"

say "building the daemon (npm run build)"
npm run build --silent >"$work/build.log" 2>&1 || fatal "npm run build failed; see $work/build.log"
say "guest kernels (cache: ${XDG_CACHE_HOME:-$HOME/.cache}/vgpio/kernels)"
uml=$("$here/build-kernel.sh" uml 2>"$work/kernel-uml.log" | tail -n 1) || fatal "UML kernel build failed; see $work/kernel-uml.log"
tail -n 1 "$work/kernel-uml.log"
qemu=$("$here/build-kernel.sh" qemu 2>"$work/kernel-qemu.log" | tail -n 1) || fatal "x86_64 kernel build failed; see $work/kernel-qemu.log"
tail -n 1 "$work/kernel-qemu.log"
"$here/build-initramfs.sh" "$work/initrd.gz" >/dev/null || fatal "initramfs build failed"

# plan KERNEL [harness args]: runs one plan (at most 5 minutes) and adds its counts.
plan() {
  local name=$1 kernel=$2 status line
  say "plan $name"
  timeout -k 10 300 node "$here/harness.mjs" --plan "$name" --kernel "$kernel" --initrd "$work/initrd.gz" --work "$work" | tee "$work/$name.out"
  status=${PIPESTATUS[0]}
  line=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$work/$name.out" | tail -n 1)
  if [[ -z $line ]]; then
    echo "FAIL e2e: plan $name printed no count (exit status $status)"
    failed=$((failed + 1))
    return
  fi
  passed=$((passed + $(cut -d' ' -f1 <<<"$line")))
  failed=$((failed + $(cut -d' ' -f3 <<<"$line")))
  ((status == 0)) || [[ $line =~ [1-9][0-9]*\ failed ]] || { echo "FAIL e2e: plan $name exited with status $status"; failed=$((failed + 1)); }
}
plan uml "$uml"
plan cli "$uml"
plan qemu "$qemu"

# The tier must notice a broken daemon: with GET_VALUE never answered, the uml plan has to fail, and
# its set/get check has to be the one failing (a guest step that timed out).
say "plan uml against a daemon that never answers GET_VALUE (must fail)"
VGPIO_E2E_FAULT=no-get-value timeout -k 10 300 node "$here/harness.mjs" --plan uml --kernel "$uml" --initrd "$work/initrd.gz" --work "$work/broken" >"$work/broken.out" 2>&1
status=$?
sed 's/^/    | /' "$work/broken.out" | grep -E 'FAIL|passed' | head -n 4
if ((status != 0)) && grep -Eq '^FAIL uml: gpioset GP2=1 .*(stuck|timed out)' "$work/broken.out"; then
  echo "ok   e2e: a daemon that stops answering GET_VALUE fails the tier (the gpioget step timed out)"
  passed=$((passed + 1))
else
  echo "FAIL e2e: a daemon that stops answering GET_VALUE was not caught (harness exit status $status); see $work/broken.out"
  failed=$((failed + 1))
fi
say "done in $((SECONDS - start)) s"
finish
