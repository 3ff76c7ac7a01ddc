"""smtpd_process_uses (docs/design-notes.md, "Reusing smtpd"): by default
every connection gets a fresh smtpd; above 1 an smtpd serves that many
sessions in turn, for one listener only, chrooted and unprivileged from
before its first, holding nothing of a session once it is over (no
descriptor, no state: TLS, AUTH, sender), retired after
smtpd_process_idle_seconds or a reload, and a reused smtpd that dies costs
its own session at most. Mail through reused processes is delivered, and
the session cap still counts only live sessions."""
import os
import pwd
import re
import signal
import smtplib

from harness import Instance, Proc, Raw, ensure_user, maildir_messages, wait_for
from test_auth import ALICE_PW, port_open, sha512_crypt
from test_master import quit_storm

USES = 3
inst = None


def setup_module():
    global inst
    ensure_user("pt-alice")
    inst = Instance("reuse", conf={"smtpd_process_uses": str(USES),
                                   "smtpd_process_idle_seconds": "60"},
                    tables={"passwd": {"alice": sha512_crypt(ALICE_PW)},
                            "senders": {"alice@mx.test": "alice"}})
    inst.enable_tls(smtps=False)
    inst.start()
    wait_for(lambda: port_open(inst.port_submission), 20, "the submission listener")


def teardown_module():
    inst.cleanup()


def failure_log():
    return inst.log()[-5000:]


def connect_pids(instance):
    """The pid of every smtpd session so far, in order (its connect line)."""
    return [int(p) for p in re.findall(r"smtpd\[(\d+)\]: connect from", instance.log())]


def quit_session(port):
    """One whole session: greeting, EHLO, QUIT; the pid that served it."""
    before = len(connect_pids(inst))
    c = Raw(port)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.test")[0] == 250
    assert c.cmd("QUIT")[0] == 221
    c.close()
    pids = wait_for(lambda: len(connect_pids(inst)) > before and connect_pids(inst), 10,
                    "the session's connect line")
    return pids[before]


def idle(pid):
    """pid is between sessions: /dev/null on its fds 0, 1 and 3."""
    try:
        fds = Proc(pid).fds()
    except OSError:
        return False
    return all(fds.get(n) == "/dev/null" for n in (0, 1, 3))


def gone(pid):
    return not os.path.exists("/proc/%d" % pid)


def idle_smtpd(port):
    """A session on port, and the smtpd that served it once it waits for
    the next (not one whose uses that session ended)."""
    for _ in range(USES + 1):
        pid = quit_session(port)
        wait_for(lambda: idle(pid) or gone(pid), 10, "smtpd %d between sessions" % pid)
        if idle(pid):
            return pid
    raise AssertionError("no smtpd stayed for another session")


def test_default_is_a_fresh_smtpd_per_session():
    fresh = Instance("fresh").start()
    try:
        before = len(connect_pids(fresh))
        for _ in range(3):
            c = Raw(fresh.port)
            assert c.reply()[0] == 220
            assert c.cmd("QUIT")[0] == 221
            c.close()
        pids = wait_for(lambda: len(connect_pids(fresh)) >= before + 3 and connect_pids(fresh),
                        10, "three sessions")
        # the last three: start()'s own probe may be logged after before
        assert len(set(pids[-3:])) == 3, pids
    finally:
        fresh.cleanup()


def test_each_smtpd_serves_at_most_uses_sessions_and_mail_gets_through():
    md = inst.virtual_maildir("demo/Maildir")
    before = len(connect_pids(inst))
    n = 4 * USES
    for i in range(n):
        inst.send("m@client.test", ["demo@localhost"],
                  ("Subject: reuse %d\r\n\r\nbody %d\r\n" % (i, i)).encode())
    pids = connect_pids(inst)[before:before + n]
    assert len(pids) == n, pids
    counts = {p: pids.count(p) for p in pids}
    assert max(counts.values()) <= USES, counts
    assert len(counts) < n, "no smtpd served two sessions: %s" % counts
    wait_for(lambda: sum(1 for m in maildir_messages(md) if b"Subject: reuse " in m) >= n, 30,
             "%d messages delivered" % n)
    got = sorted(m for m in maildir_messages(md) if b"Subject: reuse " in m)
    assert len(got) == n
    for i in range(n):
        assert any(("body %d\n" % i).encode() in m for m in got), i


def test_between_sessions_a_reused_smtpd_holds_nothing_of_them():
    pid = idle_smtpd(inst.port)
    p = Proc(pid)
    smtpd_user = pwd.getpwnam(inst.conf.get("smtpd_user", "postern-smtpd"))
    assert p.uids == [smtpd_user.pw_uid] * 4, p.uids
    assert p.gids == [smtpd_user.pw_gid] * 4, p.gids
    assert p.groups in ([], [smtpd_user.pw_gid]), p.groups
    assert p.root() == inst.conf.get("smtpd_chroot_directory", p.root())
    assert p.root() != "/"
    fds = p.fds()
    sockets = [n for n, t in fds.items() if t.startswith("socket:")]
    # the control socket to sessiond, and no connection or enqueue link
    assert sockets == [4], fds
    assert sorted(fds) == [0, 1, 2, 3, 4, 5], fds


def test_no_state_crosses_from_one_session_to_the_next():
    """Session A: STARTTLS, AUTH as alice, MAIL; session B on the same
    process: STARTTLS offered again (no TLS carried), MAIL needs AUTH (no
    login carried), RCPT needs MAIL (no sender carried)."""
    for _ in range(5):
        before = len(connect_pids(inst))
        s = smtplib.SMTP("127.0.0.1", inst.port_submission, timeout=20)
        s._host = "mx.test"      # what starttls() checks the certificate against
        s.ehlo("client.test")
        s.starttls(context=inst.client_tls_context())
        s.ehlo("client.test")
        s.login("alice", ALICE_PW)
        assert s.mail("alice@mx.test")[0] == 250
        s.quit()
        a = wait_for(lambda: len(connect_pids(inst)) > before and connect_pids(inst)[before], 10,
                     "session A")
        wait_for(lambda: idle(a) or gone(a), 10, "smtpd %d between sessions" % a)
        c = Raw(inst.port_submission)
        assert c.reply()[0] == 220
        code, lines = c.cmd("EHLO client.test")
        assert code == 250
        assert any("STARTTLS" in line for line in lines), lines
        assert c.cmd("RCPT TO:<demo@localhost>")[0] == 503
        code, lines = c.cmd("MAIL FROM:<alice@mx.test>")
        assert code == 530 and "5.7.0" in lines[0], lines
        assert c.cmd("QUIT")[0] == 221
        c.close()
        b = wait_for(lambda: len(connect_pids(inst)) > before + 1 and
                     connect_pids(inst)[before + 1], 10, "session B")
        if a == b:
            return
    raise AssertionError("five pairs of sessions never shared an smtpd")


def test_listeners_never_share_an_smtpd():
    smtp = {quit_session(inst.port) for _ in range(2 * USES)}
    submission = {quit_session(inst.port_submission) for _ in range(2 * USES)}
    assert smtp and submission and not smtp & submission, (smtp, submission)


def test_reload_retires_an_idle_smtpd():
    pid = idle_smtpd(inst.port)
    inst.postern("reload")
    wait_for(lambda: gone(pid), 20, "smtpd %d to end" % pid)
    assert quit_session(inst.port) != pid


def test_idle_smtpd_retires_after_idle_seconds():
    quick = Instance("reuse-idle", conf={"smtpd_process_uses": "100",
                                         "smtpd_process_idle_seconds": "1"}).start()
    try:
        c = Raw(quick.port)
        assert c.reply()[0] == 220
        assert c.cmd("QUIT")[0] == 221
        c.close()
        pid = wait_for(lambda: connect_pids(quick) and connect_pids(quick)[-1], 10, "a session")
        wait_for(lambda: gone(pid), 10, "smtpd %d to retire" % pid)
        c = Raw(quick.port)
        assert c.reply()[0] == 220
        c.close()
    finally:
        quick.cleanup()


def test_a_reused_smtpd_killed_costs_only_its_own_session():
    # killed between sessions: the next session is served all the same
    pid = idle_smtpd(inst.port)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: gone(pid), 10, "smtpd %d gone" % pid)
    assert quit_session(inst.port) != pid
    # killed inside a session: that client loses its connection, nothing
    # it had not finished is queued, and the next client is served
    before = len(connect_pids(inst))
    c = Raw(inst.port)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.test")[0] == 250
    assert c.cmd("MAIL FROM:<killed@client.test>")[0] == 250
    busy = wait_for(lambda: len(connect_pids(inst)) > before and connect_pids(inst)[before], 10,
                    "the session's pid")
    os.kill(busy, signal.SIGKILL)
    assert c.closed()
    c.close()
    assert quit_session(inst.port) != busy
    assert not [f for f in inst.spool_files()
                if b"killed@client.test" in open(os.path.join(inst.spool, f), "rb").read()]


def test_session_cap_counts_only_live_sessions_with_reuse():
    """As test_master's case, with reused smtpds: a session stops counting
    at its 'D', not at a process exit that no longer comes."""
    cap = Instance("reuse-cap", conf={"smtpd_max_sessions": "40",
                                      "smtpd_process_uses": "100"}).start()
    try:
        refused, errors = quit_storm(cap.port, 10, 50)
        assert not errors, errors[:3]
        assert not refused, "%d of 500 refused: %s" % (len(refused), refused[0])
        pids = connect_pids(cap)
        assert len(set(pids)) < len(pids) / 2, "hardly any reuse: %d pids" % len(set(pids))
    finally:
        cap.cleanup()
