"""The power-loss model (issue 6, item 2): enqueue's commit and local(8)'s
Maildir delivery, each crashed in place of its 1st, 2nd, 3rd, ...
durability-relevant system call (tests/faults/crashshim.c, preloaded), once
as a process crash (kill -9) and once as a power loss (what was not fsync'd
is taken away as well), until a run completes. After every crash the
recovery invariant is checked:

  enqueue  the fake smtpd got K for F (the 250):  new/ holds exactly that
           message, complete (the queue file parses, the body is exact);
           it did not:  new/ holds nothing partial. A complete message there
           is the unavoidable window between the commit and the reply (the
           client is told 451 and sends again: a duplicate, never a loss);
           it is counted and printed, and only after the commit's rename.
  local    it reported K:  Maildir/new holds the message, complete;
           it did not:  nothing partial in new/ (a duplicate as above).
  both     a tmp/ leftover is allowed (start-up and the sweep remove it).

enqueue runs outside master, on a socketpair, with this test as smtpd
(docs/protocols.md, "smtpd <-> enqueue"), so that LD_PRELOAD reaches it and
nothing else; local runs as a real user, as lspawn would run it.
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile

from harness import BUILD, REPO, Instance, ensure_user

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
    inst = Instance("powerloss")
    work = tempfile.mkdtemp(prefix="postern-powerloss-", dir="/tmp")
    os.chmod(work, 0o755)
    # The shim must be readable by the user local runs as.
    shutil.copy2(SHIM, os.path.join(work, "crashshim.so"))
    os.chmod(os.path.join(work, "crashshim.so"), 0o755)


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


def run_enqueue(n, mode):
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
        script = [(b"M", [SENDER.encode(), b"7BIT", b"0", b"client.test", b"ESMTP",
                          b"", b"", b"0"]),
                  (b"R", [RCPT.encode(), b"", b""]),
                  (b"B", [])]
        for t, fields in script:
            ours.sendall(frame(t, fields))
            r = read_frame(ours)
            if r is None:
                raise EOFError
            assert r[0] == b"K", "enqueue refused %r: %r" % (t, r)
        third = len(BODY) // 3
        for chunk in (BODY[:third], BODY[third:2 * third], BODY[2 * third:]):
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
