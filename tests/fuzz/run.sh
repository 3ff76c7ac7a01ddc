#!/bin/sh
# tests/fuzz/run.sh brief|long FUZZDIR [SECONDS]: run every libFuzzer
# harness built in FUZZDIR (make fuzzers).
#
#   brief  (make test) each harness first replays every saved crash of
#          tests/fuzz/regress/<name>/ and its whole committed corpus, then
#          fuzzes for SECONDS (default 5) from that corpus. One line per
#          harness, then "fuzz: N passed, N failed" for tests/run.sh.
#   long   (make fuzz) each harness for SECONDS (default 300) on a copy of
#          its corpus, kept in FUZZDIR/work/<name>/ so a second run goes on
#          from where the first stopped; a crash is left in
#          FUZZDIR/crashes/<name>/ to be copied into tests/fuzz/regress/.
#
# The committed corpus is never written to: libFuzzer adds what it finds
# to the first directory it is given, so that is always a scratch copy.
# Harnesses run one after the other, each on one core, with ASan's and
# libFuzzer's limits on memory and per-input time, so a hang is a failure
# too (-timeout).
mode=${1:?brief or long}
fz=${2:?fuzz build directory}
here=$(cd "$(dirname "$0")" && pwd)
case $mode in
brief) secs=${3:-5} ;;
long)  secs=${3:-300} ;;
*) echo "usage: $0 brief|long FUZZDIR [SECONDS]" >&2; exit 2 ;;
esac
pass=0 fail=0
log=$(mktemp)
scratch=$(mktemp -d)
trap 'rm -rf "$log" "$scratch"' EXIT
# Every property check calls abort(); ASan and UBSan stop at the first
# report so nothing is lost in a flood.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
opts="-timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0"
for bin in "$fz"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz_}
	corpus=$here/corpus/$name
	regress=$here/regress/$name
	ok=1 what=""
	if [ "$mode" = brief ]; then
		work=$scratch/$name
		art=$scratch/art-$name-
		mkdir -p "$work"
		# Saved crashes and the seeds, each input once: they must pass.
		set --
		[ -d "$regress" ] && set -- "$regress"/*
		[ -d "$corpus" ] && set -- "$@" "$corpus"/*
		if [ $# -gt 0 ] && ! "$bin" $opts -artifact_prefix="$art" \
		    "$@" > "$log" 2>&1; then
			ok=0 what="a saved input fails"
		fi
		[ -d "$corpus" ] && cp "$corpus"/* "$work"/ 2>/dev/null
	else
		work=$fz/work/$name
		art=$fz/crashes/$name/
		mkdir -p "$work" "$art"
		[ -d "$corpus" ] && cp -n "$corpus"/* "$work"/ 2>/dev/null
	fi
	if [ $ok = 1 ] && ! "$bin" $opts -max_total_time="$secs" \
	    -artifact_prefix="$art" "$work" >> "$log" 2>&1; then
		ok=0 what="crash found"
	fi
	execs=$(grep -Eo '^Done [0-9]+ runs' "$log" | tail -n 1 |
	    grep -Eo '[0-9]+')
	if [ $ok = 1 ]; then
		pass=$((pass + 1))
		echo "ok   fuzz_$name (${secs}s${execs:+, $execs runs})"
	else
		fail=$((fail + 1))
		echo "FAIL fuzz_$name: $what"
		grep -E 'ERROR|property broken|runtime error|SUMMARY|Test unit written|^#[0-9]+ *(DONE|INITED)' \
		    "$log" | head -n 20
		if [ "$mode" = brief ]; then
			# Keep the input where a developer can find it.
			mkdir -p "$fz/crashes/$name"
			for c in "$scratch"/art-$name-*; do
				[ -e "$c" ] && cp "$c" "$fz/crashes/$name/" &&
				    echo "     input saved: $fz/crashes/$name/${c##*/}"
			done
		fi
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ $fail = 0 ]
