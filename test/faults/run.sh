#!/usr/bin/env bash
# The fault-injection tier (`npm run test:faults`): builds, runs test/faults/*.test.ts one file at a time,
# leaves reliability records in .ci/out/reliability/ (see scripts/reliability-summary.mjs) and prints the
# summary. Ends with one line "faults: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
export VGPIO_RELIABILITY_DIR=${VGPIO_RELIABILITY_DIR:-$PWD/.ci/out/reliability}
mkdir -p .ci/out "$VGPIO_RELIABILITY_DIR"
rm -f "$VGPIO_RELIABILITY_DIR"/faults-*.json

npm run build --silent || { echo "faults: 0 passed, 1 failed"; exit 1; }
status=0
npx vitest run --config vitest.faults.config.ts --reporter=default --reporter=json \
  --outputFile=.ci/out/faults.json || status=$?
summary=0
VGPIO_RELIABILITY_DIR="$VGPIO_RELIABILITY_DIR" node scripts/reliability-summary.mjs faults || summary=$?
node -e '
  const r = require("./.ci/out/faults.json");
  console.log(`faults: ${r.numPassedTests} passed, ${r.numFailedTests + (process.argv[1] === "0" ? 0 : 1)} failed`);
' "$summary" || { echo "faults: 0 passed, 1 failed"; exit 1; }
[[ $status -eq 0 && $summary -eq 0 ]]
