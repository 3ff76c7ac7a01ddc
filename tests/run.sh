#!/bin/sh
# tests/run.sh BUILDDIR...: for each build (build/, build-san/), every unit
# test binary, the same under valgrind (unsanitized builds only), then the
# integration suite; then, once, the fuzz harnesses
# of $FUZZ_BUILD when it is set; adds up their "N passed, N failed" lines
# and ends with the total.
# Integration tests need root (real users, chroot, tmpfs); without root they
# are reported as skipped, and the run fails so that nobody mistakes a
# partial run for a green one (CI runs as root).
pass=0 fail=0 status=0
tally() {	# tally LOGFILE: add the last "N passed, N failed" line of it
	line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then fail=$((fail + 1)); status=1; return; fi
	p=$(echo "$line" | sed -E 's/^([A-Za-z]+: )?([0-9]+) passed.*/\2/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	pass=$((pass + p)); fail=$((fail + f))
}
log=$(mktemp)
for b in "${@:-build}"; do
echo "== $b"
for t in "$b"/tests/test_*; do
	[ -x "$t" ] || continue
	"$t" > "$log" 2>&1 || status=1
	echo "unit $(basename "$t"): $(tail -n 1 "$log")"
	grep -E 'FAIL|Sanitizer|runtime error' "$log" | head -20
	tally "$log"
done
# valgrind memcheck (issue 6) over the same binaries, on a build without
# sanitizers only (ASan and valgrind cannot share a process): one line and
# one pass or fail each. Definite leaks fail; "still reachable" (buffers
# alive at exit) do not. VALGRIND=0 skips it.
if [ "${VALGRIND:-1}" != 0 ] && command -v valgrind > /dev/null; then
for t in "$b"/tests/test_*; do
	[ -x "$t" ] || continue
	ldd "$t" 2>/dev/null | grep -q libasan && continue
	if valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite "$t" > "$log" 2>&1; then
		echo "valgrind $(basename "$t"): ok"
		pass=$((pass + 1))
	else
		echo "valgrind $(basename "$t"): FAIL"
		grep -E '^==[0-9]+== ' "$log" | head -30
		fail=$((fail + 1)); status=1
	fi
done
fi
if [ "$(id -u)" = 0 ]; then
	python3 tests/integration/run.py --build "$b" ${TESTS:-} 2>&1 | tee "$log"
	[ "$(tail -n 1 "$log" | sed -E 's/.* ([0-9]+) failed.*/\1/')" = 0 ] || status=1
	tally "$log"
else
	echo "integration: skipped (needs root: real users, chroot, tmpfs)"
	status=1
fi
done
# The libFuzzer harnesses (tests/fuzz/), once, not per build: make test
# names their build in FUZZ_BUILD after "make fuzzers".
if [ -n "${FUZZ_BUILD:-}" ]; then
	echo "== $FUZZ_BUILD"
	sh tests/fuzz/run.sh brief "$FUZZ_BUILD" "${FUZZ_BRIEF_SECONDS:-5}" 2>&1 |
	    tee "$log"
	tally "$log"
	grep -q '^fuzz: [0-9]* passed, 0 failed' "$log" || status=1
fi
rm -f "$log"
echo "total: $pass passed, $fail failed"
exit $status
