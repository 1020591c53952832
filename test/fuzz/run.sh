#!/usr/bin/env bash
# The fuzzing tier (`npm run test:fuzz`). Seeded and bounded so CI finishes well under 5 minutes on two
# cores; VGPIO_FUZZ_RUNS / VGPIO_FUZZ_SEED run it longer or differently (test/fuzz/README.md).
#   TypeScript targets (fast-check, vitest.fuzz.config.ts): vhost-backend, vhost-socket, virtqueue, link
#   C targets (libFuzzer, clang -fsanitize=fuzzer,address,undefined, firmware/test/fuzz): fw-slip,
#   fw-dispatch, over test/fuzz/corpus/fw-*/ with -runs=N -seed=S and a hang timeout.
# Every target leaves $VGPIO_RELIABILITY_DIR/fuzz-<target>.json; the summary is printed at the end, then
# one line "fuzz: N passed, N failed" (N = targets).
set -uo pipefail
cd "$(dirname "$0")/../.."
export VGPIO_RELIABILITY_DIR=${VGPIO_RELIABILITY_DIR:-$PWD/.ci/out/reliability}
SEED=${VGPIO_FUZZ_SEED:-24301}
export VGPIO_FUZZ_SEED=$SEED
C_RUNS=${VGPIO_FUZZ_RUNS:-150000}
C_RUNS=$(node -e 'console.log(Math.floor(Number(process.argv[1])))' "$C_RUNS")
HANG_SECONDS=10           # one input running this long is a hang (libFuzzer -timeout)
out=.ci/out/fuzz
mkdir -p "$out" "$VGPIO_RELIABILITY_DIR"
rm -f "$VGPIO_RELIABILITY_DIR"/fuzz-*.json
passed=0
failed=0
result() { # target, ok?
  if [[ $2 == 0 ]]; then echo "ok: fuzz:$1"; passed=$((passed + 1)); else echo "FAILED: fuzz:$1"; failed=$((failed + 1)); fi
}

# ---- TypeScript targets -------------------------------------------------------------------------------
ts_targets=(vhost-socket vhost-backend virtqueue link)
if npm run build --silent; then
  # A whole-tier bound on top of each property's own timeout: a synchronous hang cannot be interrupted
  # from inside the worker.
  timeout 600 npx vitest run --config vitest.fuzz.config.ts --reporter=default --reporter=json \
    --outputFile="$out/vitest.json" 2>&1 | tee "$out/vitest.log"
  vitest_status=${PIPESTATUS[0]}
else
  echo "fuzz: npm run build failed"
  vitest_status=1
fi
for t in "${ts_targets[@]}"; do
  record="$VGPIO_RELIABILITY_DIR/fuzz-$t.json"
  if [[ ! -f $record ]]; then
    # The target never got to write its record (a crash of the worker, a hang, a build failure).
    kind=crashes
    [[ $vitest_status == 124 ]] && kind=hangs
    echo "{ \"source\": \"fuzz:$t\", \"fuzzExecutions\": 0, \"findings\": 1, \"$kind\": 1 }" >"$record"
  fi
  node -e '
    const r = require(process.argv[1]);
    const j = require(process.argv[2]);
    const file = j.testResults?.find((f) => f.name.endsWith(`/${process.argv[3]}.fuzz.test.ts`));
    const ok = file && file.status === "passed" && !r.findings && !r.crashes && !r.hangs;
    console.log(`fuzz:${process.argv[3]}: ${r.fuzzExecutions} executions, ${r.findings} findings`);
    process.exit(ok ? 0 : 1);
  ' "$record" "$PWD/$out/vitest.json" "$t" 2>/dev/null
  result "$t" $?
done

# ---- C targets (firmware protocol core) ---------------------------------------------------------------
c_target() { # name, binary, corpus dir
  local name=$1 bin=$2 corpus=$3 work="$out/$1-work" log="$out/$1.log" status
  rm -rf "$work" && mkdir -p "$work"
  # New inputs go to the scratch directory (first), the committed corpus is only read.
  "$bin" -runs="$C_RUNS" -seed="$SEED" -timeout="$HANG_SECONDS" -print_final_stats=1 \
    -artifact_prefix="$out/$name-" "$work" "$corpus" >"$log" 2>&1
  status=$?
  local execs crash=0 hang=0
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1)
  grep -q 'ERROR: libFuzzer: timeout' "$log" && hang=1
  if [[ $status != 0 && $hang == 0 ]]; then crash=1; fi
  if [[ $status != 0 ]]; then
    echo "fuzz:$name: finding (see $log; the input is in $out/$name-*)"
    grep -E 'check failed|ERROR|SUMMARY' "$log" | head -n 5
  fi
  echo "fuzz:$name: number of executed units ${execs:-0}"
  echo "{ \"source\": \"fuzz:$name\", \"fuzzExecutions\": ${execs:-0}, \"findings\": $((crash + hang)), \"crashes\": $crash, \"hangs\": $hang }" \
    >"$VGPIO_RELIABILITY_DIR/fuzz-$name.json"
  result "$name" "$status"
}
if command -v clang >/dev/null && make -s -C firmware/test/fuzz >"$out/build.log" 2>&1; then
  c_target fw-slip firmware/test/fuzz/build/fuzz_slip test/fuzz/corpus/fw-slip
  c_target fw-dispatch firmware/test/fuzz/build/fuzz_dispatch test/fuzz/corpus/fw-dispatch
else
  echo "fuzz: cannot build the libFuzzer targets (Debian: apt-get install clang libclang-rt-14-dev; .ci/run does this)"
  cat "$out/build.log" 2>/dev/null | tail -n 20
  for t in fw-slip fw-dispatch; do
    echo "{ \"source\": \"fuzz:$t\", \"fuzzExecutions\": 0, \"findings\": 1, \"crashes\": 1 }" >"$VGPIO_RELIABILITY_DIR/fuzz-$t.json"
    result "$t" 1
  done
fi

echo
node scripts/reliability-summary.mjs fuzz
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
