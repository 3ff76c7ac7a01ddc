"""The power-loss model (issue 6, item 2): enqueue's commit, local(8)'s
Maildir delivery and qmgr(8)'s state, each crashed in place of its 1st, 2nd,
3rd, ... durability-relevant system call (tests/faults/crashshim.c,
preloaded), once as a process crash (kill -9) and once as a power loss (what
was not fsync'd is taken away as well, unlinks included: POSTERN_CRASH_STASH),
until a run completes. After every crash the recovery invariant is checked:

  enqueue  the fake smtpd got K for F (the 250):  new/ holds exactly that
           message, complete (the queue file parses, the body is exact);
           it did not:  new/ holds nothing partial. A complete message there
           is the unavoidable window between the commit and the reply (the
           client is told 451 and sends again: a duplicate, never a loss);
           it is counted and printed, and only after the commit's rename.
  local    it reported K:  Maildir/new holds the message, complete;
           it did not:  nothing partial in new/ (a duplicate as above).
  both     a tmp/ leftover is allowed (start-up and the sweep remove it).

  qmgr     One message from a clean enqueue, three recipients. The crashed
           run is its whole life: pass 1, the fake lspawn answers ok@ K,
           fail@ D (5.1.1) and later@ Z (4.2.2): three outcome records, the
           state file created by the first; a report for fail@ committed
           into new/ and its N record appended; the message deferred. The
           report is taken and offered to lspawn, its answer held back; the
           test flushes deferred/ (as postern flush does), pass 2 offers
           later@ alone, K: recorded, the message removed (queue file, then
           state file). Then the report gets its K: its own state file
           created, the report removed. Then master goes away (fd 4 EOF).
           After the crash a clean qmgr (-i after a power loss: a reboot)
           runs on the same spool with the fake lspawn answering K, D, K and
           K for reports, until new/, active/, deferred/, hold/, corrupt/
           and state/ are empty. What qmgr has promised is what it logged:
           it logs an outcome only after its record's write and fsync
           (status=sent or bounced: final), a report's queue ID only after
           the report's commit, "deferred" only after the report's N record,
           "removed" only after the unlinks. Checked:
           1. a recipient whose final outcome the crashed qmgr logged is
              never offered again; nor is anything of a message it logged
              as removed (the message may come back, with its state);
           2. every queue file on disk after the crash parses (no torn file
              in the queue; hold/ and corrupt/ empty); a recipient whose
              last outcome in state/ID on disk is K or D is not offered
              again, and every other recipient of a queued message is
              (at-least-once: never dropped);
           3. a report whose queue ID qmgr logged is on disk after the
              crash, or had been delivered (answered K) before it;
           4. in the end ok@ got K, fail@ D and later@ K at least once, and
              at least one report was delivered; every report is from <>
              to the sender and names fail@ alone, Action: failed;
           5. a second report is made only in the window between a report's
              commit and its N record: never once state/ID on disk holds
              that N record, never once qmgr logged the deferral after it.
           Counted and printed: recipients answered K or D in the crashed
           run and offered again (the window between lspawn's answer and
           the record's fsync), and reports made twice (the window above).

enqueue and qmgr run outside master with this test on their sockets:
enqueue on a socketpair, as smtpd (docs/protocols.md, "smtpd <-> enqueue");
qmgr as queue_user with fd 3 a socketpair to this test as lspawn, fd 4 its
control socket, no resolve or rspawn (every recipient is a virtual mailbox),
so that LD_PRELOAD reaches them and nothing else; local runs as a real user,
as lspawn would run it.
"""
import errno
import fcntl
import os
import pwd
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

from harness import BUILD, DEFAULT_TABLES, REPO, Instance, ensure_user

SHIM = os.path.join(REPO, BUILD, "faults", "crashshim.so")
MAX_CALLS = 400		# a run that needs more is a loop, not a commit

inst = None
user = None
work = None
notes = []

SENDER = "sender@client.test"
RCPT = "demo@localhost"
# Several D records and a body bigger than one write, so that a crash can
# fall between two writes of the same file.
BODY = b"Subject: power\n\n" + b"".join(
    b"line %05d of a message that must survive a power loss\n" % i for i in range(3000))


def setup_module():
    global inst, user, work
    assert os.path.exists(SHIM), "%s missing: make units" % SHIM
    user = ensure_user("pt-alice")
    inst = Instance("powerloss", conf=QM_CONF, tables=QM_TABLES)
    work = tempfile.mkdtemp(prefix="postern-powerloss-", dir="/tmp")
    os.chmod(work, 0o755)
    # The shim must be readable by the user local runs as.
    shutil.copy2(SHIM, os.path.join(work, "crashshim.so"))
    os.chmod(os.path.join(work, "crashshim.so"), 0o755)
    # Where the shim keeps what each program unlinks, so that a power loss
    # can bring it back: on the file system of the spool and the Maildir,
    # writable by every user the programs run as.
    os.mkdir(os.path.join(work, "stash"))
    os.chmod(os.path.join(work, "stash"), 0o1777)


def teardown_module():
    if inst:
        inst.cleanup()
    if work:
        shutil.rmtree(work, ignore_errors=True)


def failure_log():
    return "\n".join(notes[-20:])


def shim_env(n, mode, count_fd=None):
    env = {
        "PATH": "/usr/bin:/bin",
        "POSTERN_LOG_STDERR": "1",
        "LD_PRELOAD": os.path.join(work, "crashshim.so"),
        "POSTERN_CRASH_MODE": mode,
        "POSTERN_CRASH_STASH": os.path.join(work, "stash"),
        # The shim is not sanitized, and comes before build-san's runtime;
        # leaks of a process killed on purpose are not findings.
        "ASAN_OPTIONS": "verify_asan_link_order=0:detect_leaks=0",
    }
    if n:
        env["POSTERN_CRASH_AT"] = str(n)
    return env


# -- framing (docs/protocols.md, common/frame.c) ----------------------------

def frame(t, fields=None, raw=None):
    payload = raw if raw is not None else b"".join(f + b"\0" for f in (fields or []))
    return t + struct.pack(">I", len(payload)) + payload


def read_frame(sock):
    """(type, payload), or None at EOF (the peer died)."""
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data
    hdr = exactly(5)
    if hdr is None:
        return None
    n = struct.unpack(">I", hdr[1:])[0]
    payload = exactly(n) if n else b""
    if payload is None:
        return None
    return hdr[:1], payload


def parse_records(data, pos=0):
    out = []
    while pos < len(data):
        if pos + 5 > len(data):
            raise ValueError("torn record header at %d" % pos)
        n = struct.unpack(">I", data[pos + 1:pos + 5])[0]
        if pos + 5 + n > len(data):
            raise ValueError("record %r runs past the end" % data[pos:pos + 1])
        out.append((data[pos:pos + 1], data[pos + 5:pos + 5 + n]))
        pos += 5 + n
    return out


def parse_qfile(data):
    """A strict reading of docs/protocols.md's queue file: the magic, the
    envelope in order, M, and Z last with M's length. Returns (sender,
    recipients, message); raises ValueError for anything else."""
    if not data.startswith(b"POSTERN1\n"):
        raise ValueError("bad magic")
    recs = parse_records(data, 9)
    types = b"".join(t for t, _ in recs)
    if not types.startswith(b"TICHPSB") or types[-2:] != b"MZ":
        raise ValueError("record order %r" % types)
    msg = recs[-2][1]
    if recs[-1][1] != str(len(msg)).encode():
        raise ValueError("Z %r, M is %d bytes" % (recs[-1][1], len(msg)))
    rcpts = [v for t, v in recs if t == b"R"]
    return dict(recs)[b"S"], rcpts, msg


# -- enqueue ---------------------------------------------------------------

def clear(d):
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))


def run_enqueue(n, mode, sender=SENDER, rcpts=(RCPT,), body=BODY):
    """One session, crashed at call n (0: never). Returns (got K for F,
    exit status, shim's call count or None, stderr)."""
    ours, theirs = socket.socketpair()
    rfd, wfd = os.pipe()
    count = {} if n else {"POSTERN_CRASH_COUNT_FD": "4"}

    def child_fds():
        os.dup2(theirs.fileno(), 3)
        if not n:
            os.dup2(wfd, 4)
    env = shim_env(n, mode)
    env.update(count)
    p = subprocess.Popen([os.path.join(inst.libexec, "enqueue"), "-c", inst.etc,
                          "-a", "127.0.0.1"], cwd=inst.spool, env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, preexec_fn=child_fds, close_fds=False)
    theirs.close()
    os.close(wfd)
    ours.settimeout(30)
    got_k = False
    try:
        script = [(b"M", [sender.encode(), b"7BIT", b"0", b"client.test", b"ESMTP",
                          b"", b"", b"0"])]
        script += [(b"R", [r.encode(), b"", b""]) for r in rcpts]
        script += [(b"B", [])]
        for t, fields in script:
            ours.sendall(frame(t, fields))
            r = read_frame(ours)
            if r is None:
                raise EOFError
            assert r[0] == b"K", "enqueue refused %r: %r" % (t, r)
        third = len(body) // 3
        for chunk in (body[:third], body[third:2 * third], body[2 * third:]):
            ours.sendall(frame(b"D", raw=chunk))
        ours.sendall(frame(b"F"))
        r = read_frame(ours)
        if r is None:
            raise EOFError
        assert r[0] == b"K", "F refused: %r" % (r,)
        got_k = True
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass
    ours.close()
    err = p.stderr.read().decode("utf-8", "replace")
    status = p.wait(30)
    calls = os.read(rfd, 100).decode()
    os.close(rfd)
    return got_k, status, (int(calls.split()[1]) if calls else None), err


def check_enqueue(n, mode, got_k, err):
    new = os.path.join(inst.spool, "new")
    names = os.listdir(new)
    late = False
    for name in names:
        with open(os.path.join(new, name), "rb") as f:
            data = f.read()
        try:
            sender, rcpts, msg = parse_qfile(data)
        except ValueError as e:
            raise AssertionError("%s N=%d: new/%s does not parse (%s)%s\n%s" % (
                mode, n, name, e, " after K" if got_k else "", err))
        assert sender == SENDER.encode() and rcpts == [RCPT.encode()], (mode, n)
        assert msg.startswith(b"Received: ") and msg.endswith(b"\n" + BODY), \
            "%s N=%d: new/%s has the wrong message" % (mode, n, name)
        late = True
    if got_k:
        assert len(names) == 1, "%s N=%d: K given, new/ holds %s\n%s" % (mode, n, names, err)
    else:
        assert len(names) <= 1, (mode, n, names)
        # The only way to a complete file without K: the crash came after
        # the commit, before the reply reached smtpd.
        assert not late or "call" in err, err
    clear(new)
    clear(os.path.join(inst.spool, "tmp"))
    clear(os.path.join(work, "stash"))
    return late and not got_k


def crash_enqueue(mode):
    got_k, status, total, err = run_enqueue(0, mode)
    assert got_k and status == 0 and total, "clean run failed (%s): %s" % (status, err)
    check_enqueue(0, mode, got_k, err)
    points = dups = 0
    for n in range(1, MAX_CALLS):
        got_k, status, _, err = run_enqueue(n, mode)
        if status != -signal.SIGKILL:
            assert got_k and status == 0, "N=%d: exit %s: %s" % (n, status, err)
            check_enqueue(n, mode, got_k, err)
            break
        notes.append("enqueue %s N=%d K=%s %s" % (mode, n, got_k, err.strip().splitlines()[-1:]))
        dups += check_enqueue(n, mode, got_k, err)
        points += 1
    else:
        raise AssertionError("enqueue still crashing after %d calls" % MAX_CALLS)
    # One crash in place of each call, and one at exit after the last.
    assert points == total + 1, "%d crash points, the clean run made %d calls" % (points, total)
    return points, dups


def test_enqueue_commit_survives_crash_and_power_loss():
    kp, kd = crash_enqueue("kill")
    pp, pd = crash_enqueue("power")
    print("   powerloss: enqueue: %d crash points checked (%d kill -9, %d power loss); "
          "%d complete but unanswered (client retries: a duplicate)" % (kp + pp, kp, pp, kd + pd))


# -- local(8), Maildir -------------------------------------------------------

MESSAGE = b"Received: from client.test by mx.test; today\n" + BODY


def run_local(n, mode, maildir):
    """One delivery crashed at call n (0: never): (outcome record, exit
    status, the shim's count or None, stderr)."""
    msgfile = os.path.join(work, "message")
    with open(msgfile, "wb") as f:
        f.write(MESSAGE)
    msgfd = os.open(msgfile, os.O_RDONLY)
    rfd, wfd = os.pipe()
    crfd, cwfd = os.pipe()
    env = shim_env(n, mode)
    if not n:
        env["POSTERN_CRASH_COUNT_FD"] = "4"

    def child_fds():
        if not n:
            os.dup2(cwfd, 4)
    p = subprocess.Popen([os.path.join(inst.libexec, "local"), "-c", inst.etc, "-f", SENDER,
                          "-a", RCPT, "-d", maildir, "-n", str(len(MESSAGE))],
                         stdin=msgfd, stdout=wfd, stderr=subprocess.PIPE, env=env,
                         user=user.pw_uid, group=user.pw_gid, extra_groups=[],
                         preexec_fn=child_fds, close_fds=False, cwd=work)
    os.close(msgfd)
    os.close(wfd)
    os.close(cwfd)
    out = b""
    while True:
        chunk = os.read(rfd, 4096)
        if not chunk:
            break
        out += chunk
    os.close(rfd)
    err = p.stderr.read().decode("utf-8", "replace")
    status = p.wait(30)
    calls = os.read(crfd, 100).decode()
    os.close(crfd)
    rec = None
    if out:
        recs = parse_records(out)
        assert len(recs) == 1 and recs[0][0] == b"O", out
        rec = recs[0][1].split(b"\0")[:-1]
    return rec, status, (int(calls.split()[1]) if calls else None), err


def check_local(n, mode, rec, maildir, expect, err):
    new = os.path.join(maildir, "new")
    names = os.listdir(new) if os.path.isdir(new) else []
    for name in names:
        with open(os.path.join(new, name), "rb") as f:
            got = f.read()
        assert got == expect, "%s N=%d: new/%s is not the whole message (%d of %d bytes)\n%s" % (
            mode, n, name, len(got), len(expect), err)
    ok = rec is not None and rec[0] == b"K"
    if ok:
        assert len(names) == 1, "%s N=%d: K reported, new/ holds %s\n%s" % (mode, n, names, err)
    else:
        assert len(names) <= 1, (mode, n, names)
    shutil.rmtree(maildir, ignore_errors=True)
    shutil.rmtree(maildir + ".crashshim-lost", ignore_errors=True)
    clear(os.path.join(work, "stash"))
    return bool(names) and not ok


def crash_local(mode):
    home = os.path.join(work, "home")
    os.makedirs(home, exist_ok=True)
    os.chown(home, user.pw_uid, user.pw_gid)
    # No Maildir yet: local creates it, and that is on the path too.
    maildir = os.path.join(home, "Maildir")
    shutil.rmtree(maildir, ignore_errors=True)
    rec, status, total, err = run_local(0, mode, maildir)
    assert status == 0 and rec and rec[0] == b"K" and total, "clean run: %s %s %s" % (status, rec, err)
    with open(os.path.join(maildir, "new", os.listdir(os.path.join(maildir, "new"))[0]), "rb") as f:
        expect = f.read()
    assert expect.endswith(b"\n" + MESSAGE), "the clean run's message is not ours"
    check_local(0, mode, rec, maildir, expect, err)
    points = dups = 0
    for n in range(1, MAX_CALLS):
        rec, status, _, err = run_local(n, mode, maildir)
        if status != -signal.SIGKILL:
            assert status == 0 and rec and rec[0] == b"K", "N=%d: %s %s %s" % (n, status, rec, err)
            check_local(n, mode, rec, maildir, expect, err)
            break
        notes.append("local %s N=%d rec=%s %s" % (mode, n, rec, err.strip().splitlines()[-1:]))
        dups += check_local(n, mode, rec, maildir, expect, err)
        points += 1
    else:
        raise AssertionError("local still crashing after %d calls" % MAX_CALLS)
    # One crash in place of each call, and one at exit after the last.
    assert points == total + 1, "%d crash points, the clean run made %d calls" % (points, total)
    return points, dups


def test_maildir_delivery_survives_crash_and_power_loss():
    kp, kd = crash_local("kill")
    pp, pd = crash_local("power")
    print("   powerloss: local: %d crash points checked (%d kill -9, %d power loss); "
          "%d complete but unreported (delivered again: a duplicate)" % (kp + pp, kp, pp, kd + pd))


# -- qmgr(8) -------------------------------------------------------------------

QM_SENDER = "sender@virt.test"
QM_OK, QM_FAIL, QM_LATER = "ok@virt.test", "fail@virt.test", "later@virt.test"
QM_RCPTS = (QM_OK, QM_FAIL, QM_LATER)
QM_BODY = b"Subject: qmgr and the power\n\nthree recipients, three outcomes\n"
# Virtual mailboxes: qmgr routes them to lspawn (kind v) without a passwd
# lookup, and the sender is one too, so its report goes to lspawn as well.
QM_TABLES = {"virtual": dict(DEFAULT_TABLES["virtual"], **{
    a: "virt.test/%s/Maildir/" % a.split("@")[0] for a in QM_RCPTS + (QM_SENDER,)})}
# Nothing wakes qmgr but this test: no retry or rescan timer may fire
# within a run (the test "flushes" deferred/ itself, as postern flush does).
QM_CONF = {"queue_retry_min_seconds": "300", "queue_retry_max_seconds": "4000",
           "qmgr_rescan_seconds": "3600", "local_concurrency": "10"}
QM_DIRS = ("new", "active", "deferred", "hold", "corrupt")
QM_WAIT = 30		# seconds for anything qmgr is expected to do
LOG_OUTCOME = re.compile(r"qmgr\[\d+\]: ([0-9A-F]+): to=<([^>]*)>, relay=\S+, "
                         r"delay=\d+, status=(sent|bounced|deferred) ")
LOG_REPORT = re.compile(r"qmgr\[\d+\]: ([0-9A-F]+): sender \S+ notification: ([0-9A-F]+)$")
LOG_REMOVED = re.compile(r"qmgr\[\d+\]: ([0-9A-F]+): removed$")

qm = {}			# the pristine queue file: id, data


class QmgrDied(Exception):
    """The qmgr under test is gone (crashed where the shim said)."""


class Qmgr:
    """qmgr(8) outside master, as master would run it: fd 3 a socketpair
    whose other end is this test (the fake lspawn), fd 4 the control socket
    (closing it makes qmgr exit 0), no resolve (fd 5) or rspawn (fd 6): every
    recipient here is local. Runs as queue_user, cwd the spool."""

    def __init__(self, n=0, mode="kill", shim=True, initial=False):
        self.lsp, lsp_theirs = socket.socketpair()
        self.ctl, ctl_theirs = socket.socketpair()
        rfd = wfd = None
        if shim:
            env = shim_env(n, mode)
            if not n:
                rfd, wfd = os.pipe()
                env["POSTERN_CRASH_COUNT_FD"] = "9"
        else:
            # build-san: LeakSanitizer at each of the ~280 recoveries' exits
            # would double this test's time; qmgr's leaks are found by every
            # test that stops a master (harness.py, Instance.cleanup()).
            env = {"PATH": "/usr/bin:/bin", "POSTERN_LOG_STDERR": "1",
                   "ASAN_OPTIONS": "detect_leaks=0"}

        want = {3: lsp_theirs.fileno(), 4: ctl_theirs.fileno()}
        if wfd is not None:
            want[9] = wfd

        def child_fds():
            # Out of the way first: a source may sit on a target number.
            high = {to: fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 32) for to, fd in want.items()}
            for to, fd in high.items():
                os.dup2(fd, to)
        pw = pwd.getpwnam("postern-queue")
        self.p = subprocess.Popen(
            [os.path.join(inst.libexec, "qmgr"), "-c", inst.etc] + (["-i"] if initial else []),
            cwd=inst.spool, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
            preexec_fn=child_fds, close_fds=False)
        lsp_theirs.close()
        ctl_theirs.close()
        if wfd is not None:
            os.close(wfd)
        self.count_fd = rfd
        self.buf = b""
        self.lines = []
        self.eof = False
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()

    def _read_stderr(self):
        for raw in self.p.stderr:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def log(self):
        with self.cond:
            return list(self.lines)

    def wait_log(self, regex):
        """The first log line matching regex; QmgrDied when qmgr exits
        without writing one."""
        deadline = time.monotonic() + QM_WAIT
        with self.cond:
            while True:
                for line in self.lines:
                    m = regex.search(line)
                    if m:
                        return m
                if self.eof:
                    raise QmgrDied()
                left = deadline - time.monotonic()
                assert left > 0, "no log line like %r from qmgr:\n%s" % (
                    regex.pattern, "\n".join(self.lines[-20:]))
                self.cond.wait(left)

    def frame(self, timeout=QM_WAIT):
        """The next record from qmgr on fd 3, as (type, [fields]); None when
        nothing came within timeout; QmgrDied at EOF."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 5:
                n = struct.unpack(">I", self.buf[1:5])[0]
                if len(self.buf) >= 5 + n:
                    t, payload = self.buf[:1], self.buf[5:5 + n]
                    self.buf = self.buf[5 + n:]
                    assert payload.endswith(b"\0"), payload
                    return t, [f.decode() for f in payload[:-1].split(b"\0")]
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.lsp], [], [], left)
            if not r:
                continue
            try:
                chunk = self.lsp.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise QmgrDied()
            self.buf += chunk

    def offer(self):
        """The next 'L': (reqid, qid, index, rcpt, sender)."""
        r = self.frame()
        assert r is not None, "qmgr sent no request within %ds:\n%s" % (
            QM_WAIT, "\n".join(self.log()[-20:]))
        t, f = r
        assert t == b"L" and len(f) == 8, r
        return f[0], f[1], int(f[2]), f[3], f[6]

    def answer(self, replies):
        """replies: [(reqid, status)], sent in one write."""
        codes = {"K": ("2.0.0", "delivered to maildir"), "Z": ("4.2.2", "mailbox full, later"),
                 "D": ("5.1.1", "no such mailbox")}
        data = b"".join(frame(b"O", [rid.encode(), st.encode(), codes[st][0].encode(),
                                     codes[st][1].encode()]) for rid, st in replies)
        try:
            self.lsp.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            raise QmgrDied()

    def finish(self):
        """Close the control socket (master gone: qmgr exits 0); the exit
        status and, when counting, the shim's count."""
        self.ctl.close()
        status = self.p.wait(QM_WAIT)
        self.reader.join(QM_WAIT)
        self.lsp.close()
        calls = None
        if self.count_fd is not None:
            data = os.read(self.count_fd, 100).decode()
            os.close(self.count_fd)
            calls = int(data.split()[1]) if data else None
        # build-san: what ASan or UBSan found in qmgr is a finding.
        for mark in ("Sanitizer", "runtime error:"):
            assert not any(mark in l for l in self.lines), "\n".join(self.lines)
        return status, calls

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        return self.finish()


def qm_reset():
    """The spool as enqueue left it: the message in new/, nothing else."""
    for d in QM_DIRS + ("tmp", "state", "control"):
        clear(os.path.join(inst.spool, d))
    clear(os.path.join(work, "stash"))
    path = os.path.join(inst.spool, "new", qm["id"])
    with open(path, "wb") as f:
        f.write(qm["data"])
    pw = pwd.getpwnam("postern-queue")
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, 0o600)


def qm_flush():
    """What "postern flush" does: every deferred/ file due now, then 'F' on
    the trigger."""
    d = os.path.join(inst.spool, "deferred")
    now = time.time()
    due = 0
    for name in os.listdir(d):
        if os.stat(os.path.join(d, name)).st_mtime > now:
            os.utime(os.path.join(d, name), (now - 10, now - 10))
            due += 1
    if due:
        try:
            fd = os.open(os.path.join(inst.spool, "trigger"), os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            # ENXIO: qmgr has not opened it yet (or is gone); its first
            # turn scans deferred/ anyway.
            assert e.errno == errno.ENXIO, e
            return due
        os.write(fd, b"F")
        os.close(fd)
    return due


def parse_state(data):
    """state/ID: {index: last outcome letter}, {index: set of notices};
    a torn last record is ignored, as qmgr does."""
    outcomes, notices = {}, {}
    pos = 0
    while pos + 5 <= len(data):
        n = struct.unpack(">I", data[pos + 1:pos + 5])[0]
        if pos + 5 + n > len(data):
            break
        t, f = data[pos:pos + 1], data[pos + 5:pos + 5 + n].split(b"\0")[:-1]
        if t == b"O":
            outcomes[int(f[0])] = f[1].decode()
        elif t == b"N":
            notices.setdefault(int(f[0]), set()).add(f[1].decode())
        pos += 5 + n
    return outcomes, notices


def qm_spool(ctx):
    """What is on disk: {qid: (dir, sender, rcpts, message)} for every queue
    file (each must parse: no torn file in the queue), {qid: parse_state}."""
    queue, state = {}, {}
    for d in QM_DIRS:
        for name in os.listdir(os.path.join(inst.spool, d)):
            with open(os.path.join(inst.spool, d, name), "rb") as f:
                data = f.read()
            try:
                sender, rcpts, msg = parse_qfile(data)
            except ValueError as e:
                raise AssertionError("%s: %s/%s does not parse (%s)" % (ctx, d, name, e))
            assert d not in ("hold", "corrupt"), "%s: %s/%s" % (ctx, d, name)
            assert name not in queue, "%s: %s in %s/ and %s/" % (ctx, name, queue[name][0], d)
            queue[name] = (d, sender.decode(), [r.decode() for r in rcpts], msg)
    for name in os.listdir(os.path.join(inst.spool, "state")):
        with open(os.path.join(inst.spool, "state", name), "rb") as f:
            state[name] = parse_state(f.read())
    return queue, state


def check_report(ctx, qid, sender, rcpts, msg):
    """A bounce: from <>, to the original sender, naming the failed
    recipient and nobody else."""
    assert sender == "", "%s: report %s from <%s>" % (ctx, qid, sender)
    assert list(rcpts) == [QM_SENDER], "%s: report %s to %s" % (ctx, qid, rcpts)
    finals = re.findall(rb"Final-Recipient: rfc822; (\S+)\nAction: (\w+)", msg)
    assert finals == [(QM_FAIL.encode(), b"failed")], "%s: report %s names %s" % (ctx, qid, finals)


class QmRun:
    """What the fake lspawn saw and said in one qmgr run."""

    def __init__(self):
        self.offers = []	# (qid, index, rcpt)
        self.answers = []	# (qid, index, status) sent to qmgr
        self.reports = {}	# qid of a report it was asked to deliver -> message
        self.log = []

    def seen(self, o):
        """Record an offer; a report's queue file is read now, in active/
        (lspawn reads it there too)."""
        rid, qid, idx, rcpt, sender = o
        self.offers.append((qid, idx, rcpt))
        if qid != qm["id"] and qid not in self.reports:
            with open(os.path.join(inst.spool, "active", qid), "rb") as f:
                s, rcpts, msg = parse_qfile(f.read())
            check_report("report offered", qid, s.decode(), [r.decode() for r in rcpts], msg)
            self.reports[qid] = msg
        return rid

    def said(self, o, status):
        self.answers.append((o[1], o[2], status))
        return (o[0], status)


def qm_crash_run(n, mode):
    """The whole life of the message under one qmgr, crashed at call n (0:
    never): pass 1 (K, D, Z; the report is queued; the message deferred),
    the report's delivery held back, a flush, pass 2 (K; the message
    removed), then the report delivered (K; removed), then master goes
    away. Returns (QmRun, exit status, the shim's count or None)."""
    run = QmRun()
    q = Qmgr(n, mode)
    orig = qm["id"]
    try:
        offers = [q.offer() for _ in range(3)]
        for o in offers:
            run.seen(o)
        assert sorted((o[1], o[2], o[3]) for o in offers) == [
            (orig, i, r) for i, r in enumerate(QM_RCPTS)], offers
        assert all(o[4] == QM_SENDER for o in offers), offers
        first = {QM_OK: "K", QM_FAIL: "D", QM_LATER: "Z"}
        q.answer([run.said(o, first[o[3]]) for o in offers])
        report = q.offer()			# the bounce, taken from new/
        run.seen(report)
        assert report[1] != orig and report[4] == "", report
        q.wait_log(re.compile(r": %s: deferred, next attempt" % orig))
        assert qm_flush() == 1
        later = q.offer()			# pass 2: only the deferred one
        run.seen(later)
        assert later[1:4] == (orig, 2, QM_LATER), later
        q.answer([run.said(later, "K")])
        q.wait_log(re.compile(r": %s: removed$" % orig))
        q.answer([run.said(report, "K")])
        q.wait_log(re.compile(r": %s: removed$" % report[1]))
        status, calls = q.finish()
    except QmgrDied:
        status, calls = q.kill()
    run.log = q.log()
    return run, status, calls


def qm_recover(mode, queue):
    """A clean qmgr on what the crash left (started with -i after a power
    loss: the machine rebooted), the fake lspawn answering K, D and K (no
    more Z) and K for reports, until the spool is empty and qmgr has logged
    the removal of every message it had (queue: the queue files the crash
    left) or made."""
    run = QmRun()
    q = Qmgr(shim=False, initial=mode == "power")
    final = {QM_OK: "K", QM_FAIL: "D", QM_LATER: "K", QM_SENDER: "K"}
    deadline = time.monotonic() + QM_WAIT
    try:
        while True:
            r = q.frame(timeout=0.01)
            if r is not None:
                t, f = r
                assert t == b"L" and len(f) == 8, r
                o = (f[0], f[1], int(f[2]), f[3], f[6])
                run.seen(o)
                q.answer([run.said(o, final[o[3]])])
                continue
            qm_flush()
            log = q.log()
            made = {m.group(2) for m in map(LOG_REPORT.search, log) if m}
            gone = {m.group(1) for m in map(LOG_REMOVED.search, log) if m}
            if (set(queue) | made) <= gone and not any(
                    os.listdir(os.path.join(inst.spool, d)) for d in QM_DIRS + ("state",)):
                break
            assert time.monotonic() < deadline, "recovery: the spool is not emptied: %s\n%s" % (
                inst.spool_files(), "\n".join(q.log()[-20:]))
        status, _ = q.finish()
    except QmgrDied:
        raise AssertionError("the recovery qmgr died: %s\n%s" % (q.p.poll(), "\n".join(q.log())))
    run.log = q.log()
    assert status == 0, "recovery qmgr exit %s" % status
    return run


def qm_check(n, mode, crash, post, rec):
    """The recovery invariant for one crash (see the module docstring);
    returns (recipients delivered again, reports made twice)."""
    ctx = "qmgr %s N=%d" % (mode, n)
    orig = qm["id"]
    queue, state = post
    crash_log = "\n".join(crash.log)
    why = "\ncrash run:\n%s\nrecovery:\n%s" % (crash_log, "\n".join(rec.log))
    rec_offers = {(qid, idx) for qid, idx, _ in rec.offers}
    # 1. What qmgr said it had recorded is never delivered again: it logs
    #    an outcome only after its record's write and fsync, "removed" only
    #    after both unlinks.
    for line in crash.log:
        m = LOG_OUTCOME.search(line)
        if m and m.group(3) != "deferred":
            qid, rcpt = m.group(1), m.group(2)
            again = [o for o in rec.offers if o[0] == qid and o[2] == rcpt]
            assert not again, "%s: <%s> of %s recorded (%s), offered again%s" % (
                ctx, rcpt, qid, m.group(3), why)
        m = LOG_REMOVED.search(line)
        if m:
            # It may come back (its unlink not on disk), with its state.
            again = [o for o in rec.offers if o[0] == m.group(1)]
            assert not again, "%s: %s removed, offered again: %s%s" % (
                ctx, m.group(1), again, why)
    # 2. The state file on disk after the crash: a final outcome there is
    #    not delivered again; every recipient of a queued message without
    #    one is offered again (never dropped).
    for qid, (d, sender, rcpts, msg) in queue.items():
        outcomes, _ = state.get(qid, ({}, {}))
        for i in range(len(rcpts)):
            if outcomes.get(i) in ("K", "D"):
                assert (qid, i) not in rec_offers, "%s: %s rcpt %d recorded %s, offered again%s" % (
                    ctx, qid, i, outcomes[i], why)
            else:
                assert (qid, i) in rec_offers, "%s: %s rcpt %d has no outcome, never offered%s" % (
                    ctx, qid, i, why)
    # 3. A report qmgr said it had queued is there, or was delivered.
    crash_k = {(qid, idx) for qid, idx, st in crash.answers if st == "K"}
    for line in crash.log:
        m = LOG_REPORT.search(line)
        if m:
            b = m.group(2)
            assert b in queue or (b, 0) in crash_k, "%s: report %s lost%s" % (ctx, b, why)
    # 4. In the end every recipient got its outcome, and the failed one
    #    its report, delivered.
    every = crash.answers + rec.answers
    for i, rcpt, st in ((0, QM_OK, "K"), (1, QM_FAIL, "D"), (2, QM_LATER, "K")):
        assert (orig, i, st) in every, "%s: <%s> never got %s%s" % (ctx, rcpt, st, why)
    reports = set(crash.reports) | set(rec.reports) | {qid for qid in queue if qid != orig}
    for qid, (d, sender, rcpts, msg) in queue.items():
        if qid != orig:
            check_report(ctx, qid, sender, rcpts, msg)
    assert reports, "%s: no report%s" % (ctx, why)
    for b in reports:
        assert (b, 0, "K") in every, "%s: report %s never delivered%s" % (ctx, b, why)
    # 5. Once the report is recorded (the N record; qmgr defers the message
    #    only after it), no second one.
    if len(reports) > 1:
        notices = state.get(orig, ({}, {}))[1]
        assert "F" not in notices.get(1, set()), "%s: report recorded, made again: %s%s" % (
            ctx, sorted(reports), why)
        assert not any(": %s: deferred," % orig in l for l in crash.log), \
            "%s: report recorded (message deferred), made again: %s%s" % (ctx, sorted(reports), why)
    # Duplicates: answered K or D in the crashed run (the original's
    # recipients and the report's), offered again.
    final = {(qid, idx) for qid, idx, st in crash.answers if st in ("K", "D")}
    return len(final & rec_offers), len(reports) - 1


def crash_qmgr(mode):
    qm_reset()
    run, status, total = qm_crash_run(0, mode)
    assert status == 0 and total, "clean run: exit %s, %s calls\n%s" % (status, total, "\n".join(run.log))
    queue, state = qm_spool("qmgr %s clean run" % mode)
    assert not queue and not state, (queue, state)
    points = dups = reports = 0
    for n in range(1, MAX_CALLS):
        qm_reset()
        run, status, _ = qm_crash_run(n, mode)
        if status != -signal.SIGKILL:
            assert status == 0, "N=%d: exit %s\n%s" % (n, status, "\n".join(run.log))
            break
        notes.append("qmgr %s N=%d %s" % (mode, n, run.log[-1:]))
        post = qm_spool("qmgr %s N=%d, after the crash" % (mode, n))
        rec = qm_recover(mode, post[0])
        d, r = qm_check(n, mode, run, post, rec)
        dups += d
        reports += r
        points += 1
    else:
        raise AssertionError("qmgr still crashing after %d calls" % MAX_CALLS)
    assert points == total + 1, "%d crash points, the clean run made %d calls" % (points, total)
    return points, dups, reports


def test_qmgr_state_survives_crash_and_power_loss():
    # The message, from a clean enqueue: three recipients.
    clear(os.path.join(inst.spool, "new"))
    got_k, status, _, err = run_enqueue(0, "kill", QM_SENDER, QM_RCPTS, QM_BODY)
    assert got_k and status == 0, err
    (qid,) = os.listdir(os.path.join(inst.spool, "new"))
    with open(os.path.join(inst.spool, "new", qid), "rb") as f:
        qm["id"], qm["data"] = qid, f.read()
    kp, kd, kr = crash_qmgr("kill")
    pp, pd, pr = crash_qmgr("power")
    print("   powerloss: qmgr: %d crash points checked (%d kill -9, %d power loss); "
          "%d deliveries made again (answered, not yet recorded), %d reports made twice" % (
              kp + pp, kp, pp, kd + pd, kr + pr))
