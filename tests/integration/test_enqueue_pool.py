"""sessiond's enqueue workers (docs/protocols.md, "sessiond -> enqueue
workers"): a session forks only its smtpd; the enqueue half is a pooled
worker, handed the session at smtpd's first request and serving one
session after another. These tests prove the pool is real (sessions share
a worker, an idle session holds none) and that nothing of one session
reaches the next on the same worker: not an AUTH login, not a local
submitter's right to relay, not a transaction; and that a worker is
replaced after WORKER_USES sessions, after a reload, and when it dies;
and that the tables it keeps open between sessions still show a rebuilt
table to the next session."""
import os
import shutil
import signal
import socket
import smtplib
import subprocess

from harness import BUILD, REPO, Instance, Proc, ensure_user, maildir_messages, wait_for
from test_auth import ALICE_PW, port_open, sha512_crypt, submission  # noqa: F401
import test_auth

WORKER_USES = 100       # sessiond/sessiond.c

inst = None


def setup_module():
    global inst
    ensure_user("pt-alice")
    inst = Instance("pool", tables={"passwd": {"alice": sha512_crypt(ALICE_PW)},
                                           "senders": {"alice@mx.test": "alice"}})
    inst.enable_tls()
    shutil.copy2(os.path.join(REPO, BUILD, "sendmail"), inst.sbin)
    inst.start()
    wait_for(lambda: port_open(inst.port_submission), 20, "the submission listener")
    wait_for(lambda: os.path.exists(os.path.join(inst.spool, "submit")), 10, "the submit socket")
    test_auth.inst = inst       # submission() reads its module's instance


def teardown_module():
    inst.cleanup()


def failure_log():
    return inst.log()


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode().split()
    except OSError:
        return []


def workers():
    return {p.pid for p in inst.children("enqueue")}


def busy_workers():
    """Workers serving a session: their title carries enqueue's -a."""
    return {pid for pid in workers() if "-a" in cmdline(pid)}


def serving(s_open):
    """The pid of the one worker busy while s_open (a session inside a
    transaction) is open."""
    return wait_for(lambda: (lambda b: b.pop() if len(b) == 1 else None)(busy_workers()),
                    10, "exactly one busy enqueue worker")


def session_worker():
    """The worker that serves a session's MAIL; the session then ends."""
    with inst.smtp() as s:
        s.ehlo("client.test")
        s.mail("s@client.test")
        return serving(s)


def wait_idle():
    wait_for(lambda: not busy_workers(), 10, "every enqueue worker idle")


def test_idle_session_holds_no_enqueue():
    wait_idle()
    before = workers()
    # New pids, not a count: an earlier session's smtpd may still be
    # exiting (slowly, under LeakSanitizer) when this one starts.
    smtpds = {p.pid for p in inst.children("smtpd")}
    raws = [inst.raw() for _ in range(5)]
    for r in raws:
        assert r.cmd("EHLO client.test")[0] == 250
    wait_for(lambda: len({p.pid for p in inst.children("smtpd")} - smtpds) >= 5, 10,
             "five new smtpd")
    assert workers() == before and not busy_workers(), (before, workers())
    # the first request hands the session to a worker
    assert raws[0].cmd("MAIL FROM:<s@client.test>")[0] == 250
    pid = serving(raws[0])
    assert cmdline(pid)[:3] == ["enqueue", "-a", "127.0.0.1"], cmdline(pid)
    for r in raws:
        r.cmd("QUIT")
        r.close()
    wait_idle()


def test_sessions_share_a_worker():
    wait_idle()
    used = set()
    for i in range(10):
        with inst.smtp() as s:
            s.ehlo("client.test")
            assert s.mail("s@client.test")[0] == 250
            used.add(serving(s))
            assert s.rcpt("demo@localhost")[0] == 250
            assert s.data(b"Subject: pool %d\r\n\r\nbody\r\n" % i)[0] == 250
        wait_idle()
    assert len(used) == 1, "10 sessions one after another used workers %s" % used
    inst.wait_messages(inst.virtual_maildir("demo/Maildir"), 10)


def test_auth_login_does_not_reach_the_next_session():
    wait_idle()
    with submission() as s:
        s.login("alice", ALICE_PW)
        assert s.mail("alice@mx.test")[0] == 250
        authed = serving(s)
        assert s.rcpt("someone@other.example")[0] == 250
        s.rset()
    wait_idle()
    with inst.smtp() as s:
        s.ehlo("client.test")
        assert s.mail("alice@mx.test")[0] == 250
        assert serving(s) == authed, "not the same worker: the test proves nothing"
        code, msg = s.rcpt("someone@other.example")
        assert code == 550 and b"Relay access denied" in msg, (code, msg)


def test_local_submitter_does_not_reach_the_next_session():
    """A local submission (sendmail, client "") may relay; the network
    session the same worker serves next may not."""
    wait_idle()
    before = workers()
    r = subprocess.run([os.path.join(inst.sbin, "sendmail"), "-C", inst.etc, "-f", "root",
                        "someone@other.example"], input=b"Subject: local\n\nbody\n",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert r.returncode == 0, r.stdout
    wait_idle()
    with inst.smtp() as s:
        s.ehlo("client.test")
        assert s.mail("s@client.test")[0] == 250
        pid = serving(s)
        code, msg = s.rcpt("someone@other.example")
        assert code == 550 and b"Relay access denied" in msg, (code, msg)
    # the same worker, unless the local session got a new one
    assert pid in before or len(workers()) > len(before), (pid, before)


def test_open_transaction_does_not_reach_the_next_session():
    """A client that hangs up inside a transaction: the next session on the
    worker starts with none (RCPT first is a 503 from smtpd, and MAIL is
    not 'nested')."""
    wait_idle()
    s = inst.smtp()
    s.ehlo("client.test")
    assert s.mail("s@client.test")[0] == 250
    assert s.rcpt("demo@localhost")[0] == 250
    first = serving(s)
    s.sock.shutdown(socket.SHUT_RDWR)      # smtplib's file keeps the fd open
    s.close()
    wait_idle()
    with inst.smtp() as s:
        s.ehlo("client.test")
        code, msg = s.mail("t@client.test")
        assert code == 250, msg
        assert serving(s) == first
    assert not os.listdir(os.path.join(inst.spool, "tmp")), "a tmp/ file outlived its session"


def test_kept_tables_see_a_rebuilt_table_at_once():
    """A worker keeps its tables open from one session to the next (it does
    not open and unmap them per session); a table rebuilt in between is
    still what the next session on that worker sees."""
    wait_idle()
    with inst.smtp() as s:
        s.ehlo("client.test")
        assert s.mail("s@client.test")[0] == 250
        first = serving(s)
        assert s.rcpt("demo@localhost")[0] == 250
    wait_idle()
    held = [v for v in Proc(first).fds().values() if v.endswith("/domains.cdb")]
    assert held, "the idle worker no longer holds the domains table: %s" % Proc(first).fds()
    inst.tables["access"] = {"sender:refused@client.test": "REJECT kept tables are checked"}
    inst.write_table("access")
    try:
        with inst.smtp() as s:
            s.ehlo("client.test")
            code, msg = s.mail("refused@client.test")
            assert code == 550 and b"kept tables are checked" in msg, (code, msg)
            assert s.mail("s@client.test")[0] == 250
            assert serving(s) == first, "not the same worker: the test proves nothing"
    finally:
        inst.tables.pop("access")
        for f in ("access", "access.cdb"):
            os.unlink(os.path.join(inst.etc, f))


def test_worker_replaced_after_its_uses():
    wait_idle()
    first = session_worker()
    served = 1
    # one session after another, each after the worker is idle again, so
    # that it serves them all (sessiond takes the first idle one)
    while os.path.exists("/proc/%d" % first) and served < WORKER_USES + 5:
        wait_for(lambda: "-a" not in cmdline(first), 10, "worker %d idle" % first)
        if not os.path.exists("/proc/%d" % first):
            break
        with inst.smtp() as s:
            s.ehlo("client.test")
            assert s.mail("s@client.test")[0] == 250
        served += 1
    wait_for(lambda: not os.path.exists("/proc/%d" % first), 10,
             "worker %d retired after %d sessions" % (first, WORKER_USES))
    # (it served the earlier tests' sessions too: at most WORKER_USES here)
    assert served <= WORKER_USES, served


def test_reload_retires_idle_workers():
    wait_idle()
    old = session_worker()
    wait_idle()
    inst.conf["smtpd_max_recipients"] = "150"
    inst.write_conf()
    assert inst.postern("reload").returncode == 0
    wait_for(lambda: "reload" in inst.log(), 10, "the reload")
    # sessiond sees the new file at the next session, at the latest
    with inst.smtp() as s:
        s.ehlo("client.test")
        assert s.mail("s@client.test")[0] == 250
        assert serving(s) != old
    wait_for(lambda: old not in workers(), 10, "the old worker gone")


def test_killed_worker_ends_only_its_session():
    wait_idle()
    s = inst.smtp()
    s.ehlo("client.test")
    assert s.mail("s@client.test")[0] == 250
    victim = serving(s)
    os.kill(victim, signal.SIGKILL)
    try:
        code, _ = s.rcpt("demo@localhost")
    except smtplib.SMTPServerDisconnected:
        code = 421
    assert 400 <= code < 500, code     # smtpd: the queue is unavailable
    s.close()
    wait_for(lambda: "enqueue (pid %d) ended: signal 9" % victim in inst.log(), 10,
             "sessiond's report of the killed worker")
    with inst.smtp() as s2:
        s2.ehlo("client.test")
        assert s2.mail("s@client.test")[0] == 250
        assert s2.rcpt("demo@localhost")[0] == 250
        assert s2.data(b"Subject: after the kill\r\n\r\nbody\r\n")[0] == 250
    wait_for(lambda: any(b"Subject: after the kill" in m for m in
                         maildir_messages(inst.virtual_maildir("demo/Maildir"))),
             30, "the message after the kill delivered")
