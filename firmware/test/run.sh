#!/usr/bin/env bash
# The firmware tier (`npm run test:firmware`): rebuild the image from source and require it to match
# firmware/dist byte for byte, check that builds are reproducible, run the portable core's host tests
# against test/vectors/protocol.json, run the USB tests of the echo image in the emulator, and print
# flash and RAM use. Ends with one line "firmware: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."

if ! command -v arm-none-eabi-gcc >/dev/null; then
  echo "firmware tier: arm-none-eabi-gcc not found; install it (Debian: apt-get install gcc-arm-none-eabi; .ci/run does this)"
  echo "firmware: 0 passed, 1 failed"
  exit 1
fi

passed=0
failed=0
check() { # name, command...
  local name=$1
  shift
  if "$@"; then
    echo "ok: $name"
    passed=$((passed + 1))
  else
    echo "FAILED: $name"
    failed=$((failed + 1))
  fi
}
count() { # adds the last "N passed, N failed" of a log
  local line
  line=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
  if [[ -z "$line" ]]; then
    echo "FAILED: $2 printed no pass/fail count"
    failed=$((failed + 1))
    return
  fi
  passed=$((passed + $(cut -d' ' -f1 <<<"$line")))
  failed=$((failed + $(cut -d' ' -f3 <<<"$line")))
}

out=firmware/build/tier
rm -rf "$out"
mkdir -p "$out"

matches_dist() {
  make -s -C firmware BUILD=build/tier/image build/tier/image/vgpio.uf2 build/tier/image/vgpio.bin >/dev/null || return 1
  local ok=0
  for f in vgpio.bin vgpio.uf2; do
    if ! cmp "firmware/build/tier/image/$f" "firmware/dist/$f"; then
      echo "firmware/dist/$f differs from a build of the sources: run 'make -C firmware dist' and commit it"
      ok=1
    fi
  done
  (cd firmware/dist && sha256sum --quiet -c SHA256SUMS) || ok=1
  return $ok
}
check "firmware/dist matches a build of the sources" matches_dist
check "builds are reproducible (two build directories, identical bytes)" make -s -C firmware reprocheck
check "boot2 CRC and UF2 tool self-test" make -s -C firmware selftest

make -s -C firmware/test/host 2>&1 | tee "$out/host.log"
count "$out/host.log" "host tests"

npx vitest run --config vitest.firmware.config.ts --reporter=default --reporter=json --outputFile="$out/vitest.json" 2>&1 | tail -n 25
node -e '
  const r = require(process.argv[1]);
  console.log(`emulator USB tests: ${r.numPassedTests} passed, ${r.numFailedTests + (r.success ? 0 : 0)} failed`);
  if (!r.success && r.numFailedTests === 0) console.log("emulator USB tests: 0 passed, 1 failed");
' "$PWD/$out/vitest.json" | tee "$out/vitest.log" || echo "emulator USB tests: 0 passed, 1 failed" | tee "$out/vitest.log"
count "$out/vitest.log" "emulator USB tests"

echo
echo "flash and RAM use:"
make -s -C firmware size | grep -E 'flash .* static RAM'

echo "firmware: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
