#!/usr/bin/env python3
"""callgrind.py: where Postern's own instructions go, per message.

`make bench` says what a message costs the machine (CPU time, all of it,
the kernel's included); this says what part of that is Postern's code and
the libraries it calls, counted exactly by valgrind's callgrind, and where
in them. It runs a private Postern instance with every program under
callgrind (--trace-children: master's daemons, sessiond's forked smtpds and
enqueue workers, lspawn's delivery workers), sends messages with
`smtp-source -s 4 -l 4096` (one per connection) for delivery into a system
user's Maildir, waits for the last one in Maildir/new, and stops it.

Twice, with N1 and N2 messages: each run's totals hold every program's
start-up as well (OpenSSL's, the configuration's, the dynamic loader's),
and the difference between the two runs, divided by N2 - N1, is the work
of a message alone. A forked child starts with its parent's counts
(callgrind copies them at fork), so they are zeroed where each child
begins (--zero-before: sessiond's child_setup, lspawn's lspawn_become).

Prints, for each program taking part (its executable and the user it ran as: sessiond
runs as root, its smtpd children as smtpd_user, its enqueue workers as
queue_user; lspawn's delivery workers as the recipient), the instructions
it executed per message and its functions above 2% of them, each with its
own instructions only (callgrind_annotate --inclusive=no).

Usage: python3 bench/callgrind.py [N1 N2] (default 100 300), as root, in a
built tree (POSTERN_BUILD, default build), valgrind and smtp-source
installed (make deps-test). Environment: CALLGRIND_USES, the
smtpd_process_uses of the instance (default 100: a fresh smtpd per
connection would put its fork's copies, not Postern's work, in every
session's count); CALLGRIND_KEEP, if set, keeps the profiles (their
directory is printed) for callgrind_annotate --tree=caller and the like.
"""
import collections
import glob
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
os.environ.setdefault("POSTERN_BUILD", "build")

from bench import POSTERN_USER, clear_maildir, maildir_count  # noqa: E402
from harness import Instance, ensure_user, wait_for  # noqa: E402

SHOWN = 0.02        # a function's share of its program, at least
# No part in local delivery: their counts are their start-up alone, and
# rspawn's (OpenSSL reading the CA bundle) moves by tens of millions of
# instructions from one start to the next, more than the difference.
IDLE = ("rspawn", "resolve")
LINE = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$")


def run(n, user, out):
    """One instance under callgrind, n messages; the profiles land in out."""
    inst = Instance("callgrind", conf={
        "smtpd_process_uses": os.environ.get("CALLGRIND_USES", "100"),
        "local_concurrency": "20",
    })
    # The chrooted programs write their profile inside their chroot: the
    # same path there, emptied into out afterwards.
    inner = [os.path.join(inst.conf[k], out.lstrip("/")) for k in
             ("smtpd_chroot_directory", "resolve_chroot_directory", "remote_chroot_directory")]
    for d in inner:
        os.makedirs(d)
        os.chmod(d, 0o1777)
    maildir = os.path.join(user.pw_dir, "Maildir")
    clear_maildir(maildir)
    try:
        inst.start(prefix=("valgrind", "--tool=callgrind", "--trace-children=yes", "--vgdb=no",
                           "--zero-before=child_setup", "--zero-before=lspawn_become",
                           "--callgrind-out-file=%s/callgrind.%%p" % out), timeout=120)
        subprocess.run(["smtp-source", "-s", "4", "-m", str(n), "-l", "4096",
                        "-f", "bench@client.test", "-t", "%s@localhost" % user.pw_name,
                        "127.0.0.1:%d" % inst.port], check=True, timeout=3600)
        wait_for(lambda: maildir_count(maildir) >= n, 3600, "%d delivered" % n, interval=0.2)
    finally:
        inst.stop()
        # callgrind made each file where the program started (empty
        # there, for a chrooted one) and wrote it where the program ended
        for d in inner:
            for f in os.listdir(d):
                os.replace(os.path.join(d, f), os.path.join(out, f))
        inst.cleanup()
        clear_maildir(maildir)


def program(path):
    """'exe (user)' of one profile."""
    with open(path) as f:
        for line in f:
            if line.startswith("cmd:"):
                exe = os.path.basename(line.split()[1])
                break
        else:
            exe = "?"
    try:
        who = pwd.getpwuid(os.stat(path).st_uid).pw_name
    except KeyError:
        who = str(os.stat(path).st_uid)
    return "%s (%s)" % (exe, who)


def functions(path):
    """{function: instructions} of one profile, each its own only. In a
    forked child the frames that were on the stack when its counts were
    zeroed (main, libc's start) come out with the whole count as their
    own: no function can really have that, and they are left out."""
    with open(path) as f:
        total = next((int(line.split()[1]) for line in f if line.startswith("summary:")), 0)
    r = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", "--auto=no", path],
                       check=True, capture_output=True, text=True)
    fn = collections.Counter()
    seen = False
    for line in r.stdout.splitlines():
        if "file:function" in line:
            seen = True
            continue
        if seen and not line.strip() and fn:
            break           # the end of the list
        m = LINE.match(line) if seen else None
        if not m:
            continue
        n = int(m.group(1).replace(",", ""))
        if n >= total:
            continue
        name = re.sub(r"\s*\[[^]]*\]$", "", m.group(2))
        if ":" in name:     # "path/file.c:function" -> "file.c:function"
            where, func = name.split(":", 1)
            name = os.path.basename(where) + ":" + func
        fn[name] += n
    return fn


def profile(n, user):
    out = tempfile.mkdtemp(prefix="postern-callgrind-")
    os.chmod(out, 0o1777)
    try:
        run(n, user, out)
        per = collections.defaultdict(collections.Counter)
        for path in glob.glob(os.path.join(out, "callgrind.*")):
            if not os.path.getsize(path):
                continue        # where a chrooted program started
            prog = program(path)
            if not prog.startswith(IDLE):
                per[prog].update(functions(path))
        return per
    finally:
        if os.environ.get("CALLGRIND_KEEP"):
            print("callgrind.py: %d messages: profiles kept in %s" % (n, out), flush=True)
        else:
            shutil.rmtree(out, ignore_errors=True)


def main():
    if os.geteuid() != 0:
        sys.exit("callgrind.py: run as root")
    n1, n2 = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (100, 300)
    for prog in ("valgrind", "callgrind_annotate", "smtp-source"):
        if not shutil.which(prog):
            sys.exit("callgrind.py: %s not found (make deps-test installs it)" % prog)
    user = ensure_user(POSTERN_USER)
    print("callgrind.py: %d messages, then %d ..." % (n1, n2), flush=True)
    a, b = profile(n1, user), profile(n2, user)
    rows = []
    for prog in sorted(set(a) | set(b)):
        d = collections.Counter(b[prog])
        d.subtract(a[prog])
        total = sum(d.values()) / (n2 - n1)
        if total > 0:
            rows.append((total, prog, d))
    grand = sum(r[0] for r in rows)
    print("\ninstructions per message, smtpd_process_uses = %s (the difference of %d and %d messages):\n"
          % (os.environ.get("CALLGRIND_USES", "100"), n2, n1))
    for total, prog, d in sorted(rows, reverse=True):
        print("%9.0f  %5.1f%%  %s" % (total, 100 * total / grand, prog))
        for name, v in d.most_common():
            if v / (n2 - n1) < SHOWN * total:
                break
            print("%9.0f  %5.1f%%      %s" % (v / (n2 - n1), 100 * v / (n2 - n1) / total, name))
    print("%9.0f          in all" % grand)


if __name__ == "__main__":
    main()
