"""make bench, run small (issue 7): bench/bench.py with a few messages and
sessions, against the build under test, writing its table into a copy of
bench/README.md. The benchmark is a program of its own that nobody runs in
CI otherwise; this keeps it working: every line of the table is there with
a figure, each MTA (and the floor, bench/floor.c) delivered every message,
the sink got every relayed one, every session was held, and the README's
"Latest" block, and nothing else, was rewritten. And bench/callgrind.py,
the profile of Postern's own instructions per message, run small the same
way (not under a sanitizer build: valgrind cannot run those).

Not a timing test: no rate is compared with anything. Speed is measured by
`make bench`, never in a test."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BENCH = os.path.join(REPO, "bench")
CONCURRENT = 30

# Every row of the table, by the start of its label.
ROWS = [
    "inbound (smtp-source",
    "local delivery, first byte in",
    "relay through a route",
    "inbound, smtpd_process_uses = 100",
    "local delivery, smtpd_process_uses = 100",
    "relay, smtpd_process_uses = 100",
    "machine CPU per message",
    "the same, smtpd_process_uses = 100",
    "the floor (bench/floor.c",
    "the floor: machine CPU",
    "Postern's local delivery as a share",
    "one session, 200 messages",
    "memory per idle session",
    "memory total with them",
    "%d sessions opened at once" % CONCURRENT,
    "memory total with %d sessions" % CONCURRENT,
    "this machine (bench/proccost.c)",
    "disk: durable writes/s",
    "Postern inbound as a share",
]
# Rows whose Postern and Postfix cells are both a figure with its unit.
BOTH = ROWS[:10] + ROWS[11:14] + ROWS[15:16]

tmp = None
out = readme = None


def setup_module():
    global tmp, out, readme
    tmp = tempfile.mkdtemp(prefix="postern-test-bench-")
    readme = os.path.join(tmp, "README.md")
    shutil.copy(os.path.join(BENCH, "README.md"), readme)
    env = dict(os.environ, BENCH_MESSAGES="20", BENCH_RUNS="1", BENCH_SESSIONS="10",
               BENCH_CONCURRENT=str(CONCURRENT), BENCH_README=readme)
    r = subprocess.run([sys.executable, os.path.join(BENCH, "bench.py")], env=env, cwd=REPO,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, "bench.py exited %d:\n%s" % (r.returncode, out[-6000:])


def teardown_module():
    shutil.rmtree(tmp, ignore_errors=True)


def table():
    """{label start: [Postern cell, Postfix cell, ratio cell]} from the
    printed table."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not line.startswith("| "):
            continue
        for label in ROWS:
            if cells[0].startswith(label):
                assert label not in rows, "two rows start %r:\n%s" % (label, out[-4000:])
                rows[label] = cells[1:]
    return rows


def test_every_row_is_printed_with_a_figure():
    rows = table()
    missing = [label for label in ROWS if label not in rows]
    assert not missing, "rows missing: %s\n%s" % (missing, out[-4000:])
    figure = re.compile(r"^(\d+(\.\d+)?) (msg/s|ms|KiB|MiB)$")
    for label in BOTH:
        for cell in rows[label][:2]:
            m = figure.match(cell)
            assert m and float(m.group(1)) > 0, "%r: %r is not a figure" % (label, cell)
    # proccost's four prices, each a positive number of microseconds
    prices = re.findall(r"(\d+(?:\.\d+)?) us", rows["this machine (bench/proccost.c)"][0])
    assert len(prices) == 4 and all(float(p) > 0 for p in prices), rows["this machine (bench/proccost.c)"]
    assert re.match(r"^\d+%, \d+%$", rows["Postern's local delivery as a share"][0])
    assert re.match(r"^\d+/s$", rows["disk: durable writes/s"][0])


def test_every_message_delivered_and_every_session_held():
    # bench.py waits for every message in each Maildir (and fails when one
    # is missing); the sink's count is only reported, so it is read here.
    assert "smtp-sink received" not in out, out[-4000:]
    held = table()["%d sessions opened at once" % CONCURRENT]
    want = "held %d of %d, errors 0" % (CONCURRENT, CONCURRENT)
    assert held[:2] == [want, want], held
    for who in ("Postern", "Postfix"):
        assert "%s: %d of %d sessions held" % (who, CONCURRENT, CONCURRENT) in out, out[-4000:]
        assert re.search(r"%s: the extra message was delivered" % who, out), out[-4000:]


def test_latest_block_rewritten_and_nothing_else():
    with open(os.path.join(BENCH, "README.md")) as f:
        before = f.read()
    with open(readme) as f:
        after = f.read()
    start, end = "<!-- latest -->", "<!-- /latest -->"
    assert after[:after.index(start)] == before[:before.index(start)]
    assert after[after.index(end):] == before[before.index(end):]
    block = after[after.index(start) + len(start):after.index(end)]
    assert "| inbound (smtp-source -s 10 -m 20 -l 4096) |" in block, block
    assert "median of 1 runs" in block, block
    for line in block.strip().splitlines():
        if line.startswith("|"):
            assert line in out, "README line not in the printed table: %r" % line


def instrumented():
    with open(os.path.join(REPO, os.environ.get("POSTERN_BUILD", "build"), "sessiond"), "rb") as f:
        return b"__asan_init" in f.read()


def test_callgrind_profile_counts_every_program_per_message():
    if instrumented():
        print("skip: an ASan build, which valgrind cannot run")
        return
    r = subprocess.run([sys.executable, os.path.join(BENCH, "callgrind.py"), "5", "15"], cwd=REPO,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    text = r.stdout.decode(errors="replace")
    assert r.returncode == 0, "callgrind.py exited %d:\n%s" % (r.returncode, text[-6000:])
    programs = {}
    for m in re.finditer(r"^\s*(\d+)\s+[\d.]+%  (\S+ \([^)]*\))$", text, re.M):
        programs[m.group(2)] = int(m.group(1))
    # every process a local delivery goes through, each with some work
    # per message: the session's smtpd and enqueue worker (sessiond's
    # children), qmgr, lspawn and its delivery worker (the recipient)
    for prog in ("sessiond (postern-smtpd)", "sessiond (postern-queue)", "qmgr (postern-queue)",
                 "lspawn (root)", "lspawn (pt-bench-pe)", "master (root)"):
        assert programs.get(prog, 0) > 0, "%s missing:\n%s" % (prog, text)
    total = int(re.search(r"^\s*(\d+)\s+in all$", text, re.M).group(1))
    assert abs(total - sum(programs.values())) <= len(programs), text
    # start-up is not in it: no program's count per message is anywhere
    # near what one start of OpenSSL and the loader costs (millions)
    assert max(programs.values()) < 2000000, text
