#!/usr/bin/env bash
# The long fuzz run (docs/FUZZING.md): every parser fuzzer with FINQLORA_FUZZ_ITER cases per property
# (default 100000), one test class at a time, at low priority. Runs a copy of the built tests
# (tests/FinQLora.Tests/bin/fuzz-run), so the checkout can be rebuilt meanwhile. Usage: tools/fuzz/long_run.sh [iterations] [log file] [test classes...]
set -euo pipefail
cd "$(dirname "$0")/../.."
ITER="${1:-100000}"
LOG="${2:-fuzz-long-run.log}"
shift $(( $# < 2 ? $# : 2 ))
CLASSES="${*:-SafeTensorsFuzzTests ModelIndexFuzzTests ModelConfigFuzzTests TokenizerJsonFuzzTests FlareJsonlFuzzTests AdapterConfigFuzzTests ConfigFuzzTests}"
dotnet build tests/FinQLora.Tests -c Release -v q -nologo
# inside the checkout (bin/ is ignored), so tests that look for the repository root (configs/) still find it
COPY="tests/FinQLora.Tests/bin/fuzz-run"
rm -rf "$COPY"
cp -r tests/FinQLora.Tests/bin/Release/net10.0 "$COPY"
{
  echo "# long fuzz run: commit $(git rev-parse --short HEAD), FINQLORA_FUZZ_ITER=$ITER, started $(date -u '+%Y-%m-%d %H:%M:%S') UTC on $(nproc) cores"
  for class in $CLASSES; do
    start=$(date +%s)
    set +e
    FINQLORA_FUZZ_ITER="$ITER" nice -n 10 dotnet test "$COPY/FinQLora.Tests.dll" --filter "FullyQualifiedName~.$class." \
      --logger "console;verbosity=detailed" 2>&1 | grep -E "cases in|Passed |Failed |Error Message|FuzzFailure|CsCheck_Seed|Total tests|Passed:|Failed:"
    rc=${PIPESTATUS[0]}
    set -e
    echo "## $class: exit $rc, $(( $(date +%s) - start )) s"
  done
  echo "# finished $(date -u '+%Y-%m-%d %H:%M:%S') UTC"
} 2>&1 | tee "$LOG"
