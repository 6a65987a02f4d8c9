#!/usr/bin/env bash
# Fuzzing, the short form that is part of make test (issue 9): builds the
# libFuzzer targets (make fuzz-build: tests/fuzz/fuzz_*.c against the library
# compiled by clang under fuzz/), replays every kept crashing input
# (tests/fuzz/regress/TARGET/) through its target, then fuzzes each target
# for a few seconds from its seeds. A crash fails the test; libFuzzer's
# input is left in this test's directory (kept on failure) to be added to
# tests/fuzz/regress/TARGET/. `make fuzz` is the long run.
#
# tests/run runs the suite twice (BIN=bin, then BIN=asan/bin ASAN=1); the
# targets carry their own sanitizers, so this runs in the first pass only.
. "$TOP/tests/lib.sh"

if [ "${ASAN:-0}" = 1 ]; then
	echo "SKIP: under ASAN=1: the fuzz targets have ASan+UBSan built in; they run in the BIN=bin pass"
	exit 77
fi

# Only a compiler that truly cannot build a libFuzzer target skips this.
cc=${FUZZ_CC:-clang}
cat >probe.c <<'EOF'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
EOF
if ! command -v "$cc" >/dev/null 2>&1 ||
   ! "$cc" -fsanitize=fuzzer,address,undefined probe.c -o probe >probe.log 2>&1; then
	echo "################################################################"
	echo "## t-fuzz SKIPPED: $cc with libFuzzer is not available"
	echo "## ($(head -n 3 probe.log 2>/dev/null | tr '\n' ' '))"
	echo "## make deps installs it (Debian: clang libclang-rt-dev)"
	echo "################################################################"
	echo "SKIP: $cc with libFuzzer is not available (make deps)"
	exit 77
fi

targets=()
for f in "$TOP"/tests/fuzz/fuzz_*.c; do [ -f "$f" ] && targets+=("$(basename "$f" .c)"); done
[ ${#targets[@]} -gt 0 ] || fail "no fuzz targets in tests/fuzz/"

make -C "$TOP" -s fuzz-build >build.log 2>&1 || { tail -n 40 build.log; fail "make fuzz-build failed"; }
for t in "${targets[@]}"; do
	[ -x "$TOP/fuzz/bin/$t" ] || fail "make fuzz-build did not build fuzz/bin/$t"
done

# Every kept crashing input, through its target: none may crash again.
make -C "$TOP" -s fuzz-regress FUZZ_WORK="$TESTDIR/work" ||
	fail "a regression case of tests/fuzz/regress/ crashes its target again"
[ -n "$(ls "$TOP/tests/fuzz/regress/fuzz_job" 2>/dev/null)" ] || fail "tests/fuzz/regress/fuzz_job/ is empty"

# The short run: about 26 s in all, 10 to 15 s a target.
secs=$(( 26 / ${#targets[@]} ))
[ "$secs" -le 15 ] || secs=15
[ "$secs" -ge 10 ] || secs=10
echo "fuzzing ${targets[*]} for ${secs}s each"
make -C "$TOP" -s fuzz FUZZ_SECONDS="$secs" FUZZ_WORK="$TESTDIR/work" ||
	fail "libFuzzer found a crash: see $TESTDIR/work/crash/ (keep the input in tests/fuzz/regress/TARGET/)"
for t in "${targets[@]}"; do
	grep -q '^stat::number_of_executed_units' "$TESTDIR/work/$t.log" ||
		fail "$t did not report its executions: $(tail -n 5 "$TESTDIR/work/$t.log")"
done
echo "fuzzing found nothing"
