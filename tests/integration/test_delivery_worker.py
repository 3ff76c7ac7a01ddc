"""lspawn's delivery workers (docs/protocols.md, "lspawn -> delivery
worker"; docs/design-notes.md, "A delivery worker serves one user"): a
built-in delivery runs in a process that is already the recipient and
serves that user, and only that user, up to local_worker_uses times.

Which process wrote a Maildir file is in its name (deliver/maildir.c:
"P<pid>Q<count within the process>"), so these tests see the reuse in the
mail itself. They prove: successive mail to one user shares a worker; two
users never share one, and each worker holds exactly its user's uid, gid
and groups; between deliveries a worker keeps no queue file open; it is
replaced after local_worker_uses deliveries, after local_worker_idle_seconds
idle and after a reload; local_worker_uses = 0 forks a child per delivery;
the virtual mail user's one worker writes each virtual mailbox's mail to
that mailbox only; a worker killed in the middle of a delivery, or past
local_delivery_timeout_seconds, costs a retry, not the mail."""
import fcntl
import grp
import mailbox
import os
import pwd
import re
import signal

from harness import Instance, Proc, ensure_user, maildir_messages, wait_for
from test_local import mail_spool, outcome

USERS = ("pt-dw-a", "pt-dw-b")
insts = []


def setup_module():
    for u in USERS:
        ensure_user(u)


def teardown_module():
    for i in insts:
        i.cleanup()


def failure_log():
    return "\n".join(i.log() for i in insts)


def instance(name, **conf):
    inst = Instance(name, conf=dict({"queue_retry_min_seconds": "1",
                                     "queue_retry_max_seconds": "1"},
                                    **{k: str(v) for k, v in conf.items()}))
    insts.append(inst)
    return inst.start()


def maildir(user):
    return os.path.join(pwd.getpwnam(user).pw_dir, "Maildir")


def clear(user):
    for sub in ("new", "cur", "tmp"):
        p = os.path.join(maildir(user), sub)
        if os.path.isdir(p):
            for n in os.listdir(p):
                os.unlink(os.path.join(p, n))


NAME = re.compile(r"^\d+\.M\d+P(\d+)Q(\d+)\.")


def writers(user):
    """(pid, count) of each message in user's Maildir/new, oldest first."""
    new = os.path.join(maildir(user), "new")
    names = sorted(os.listdir(new), key=lambda n: os.stat(os.path.join(new, n)).st_mtime_ns)
    return [tuple(int(x) for x in NAME.match(n).groups()) for n in names]


def deliver(inst, user, n=1):
    """n messages to user, one after another, each delivered before the
    next is sent; the writers of all of user's mail so far."""
    for _ in range(n):
        have = len(maildir_messages(maildir(user)))
        inst.send("s@client.test", ["%s@localhost" % user], b"Subject: w\r\n\r\nbody\r\n")
        inst.wait_messages(maildir(user), have + 1)
    inst.wait_spool_empty()
    return writers(user)


def workers(inst):
    """Live delivery workers: lspawn's children (forked, not exec'd)."""
    lspawn = inst.child("lspawn")
    return [p for p in inst.children("lspawn") if lspawn and p.ppid == lspawn.pid]


def test_successive_mail_to_one_user_shares_a_worker():
    inst = instance("dw-reuse", local_worker_uses=100)
    clear(USERS[0])
    w = deliver(inst, USERS[0], 3)
    assert len({pid for pid, _ in w}) == 1, w
    # One process counting its names: 1, 2, 3 (one more at the start
    # when it had to make the Maildir first).
    qs = [q for _, q in w]
    assert qs == list(range(qs[0], qs[0] + 3)), w
    # It is still there, idle, waiting for the next one.
    assert w[0][0] in {p.pid for p in workers(inst)}


def test_two_users_never_share_a_worker_and_each_is_its_user():
    inst = instance("dw-users", local_worker_uses=100)
    for u in USERS:
        clear(u)
    a = deliver(inst, USERS[0])[0][0]
    b = deliver(inst, USERS[1])[0][0]
    a2 = deliver(inst, USERS[0])[-1][0]
    assert a != b and a2 == a, (a, b, a2)
    for pid, user in ((a, USERS[0]), (b, USERS[1])):
        pw = pwd.getpwnam(user)
        p = Proc(pid)
        assert p.uids == [pw.pw_uid] * 4, (user, p.uids)
        assert p.gids == [pw.pw_gid] * 4, (user, p.gids)
        want = {g.gr_gid for g in grp.getgrall() if user in g.gr_mem} | {pw.pw_gid}
        assert set(p.groups) == want, (user, p.groups, want)
        # Between deliveries: /dev/null, its socket to lspawn, stderr;
        # no queue file, no Maildir file, nothing of the spool.
        fds = p.fds()
        assert fds[0] == "/dev/null", fds
        assert fds[1].startswith("socket:"), fds
        assert set(fds) <= {0, 1, 2}, fds
        assert not any(inst.spool in v for v in fds.values()), fds


def test_replaced_after_local_worker_uses():
    inst = instance("dw-uses", local_worker_uses=2)
    clear(USERS[0])
    w = deliver(inst, USERS[0], 5)
    pids = [pid for pid, _ in w]
    assert pids[0] == pids[1] and pids[2] == pids[3] and pids[4] not in pids[:4], w
    assert len(set(pids)) == 3, w
    # The retired ones are gone, not idle.
    wait_for(lambda: {p.pid for p in workers(inst)} <= {pids[4]}, 10, "retired workers ending")


def test_replaced_after_idle_seconds():
    inst = instance("dw-idle", local_worker_uses=100, local_worker_idle_seconds=1)
    clear(USERS[0])
    pid = deliver(inst, USERS[0])[0][0]
    wait_for(lambda: pid not in {p.pid for p in workers(inst)}, 10, "the idle worker ending")
    assert deliver(inst, USERS[0])[-1][0] != pid


def test_reload_replaces_workers():
    inst = instance("dw-reload", local_worker_uses=100)
    clear(USERS[0])
    pid = deliver(inst, USERS[0])[0][0]
    assert inst.postern("reload").returncode == 0
    wait_for(lambda: pid not in {p.pid for p in workers(inst)}, 10, "the worker retired by reload")
    assert deliver(inst, USERS[0])[-1][0] != pid


def test_uses_zero_forks_a_child_per_delivery():
    inst = instance("dw-off", local_worker_uses=0)
    clear(USERS[0])
    w = deliver(inst, USERS[0], 3)
    assert len({pid for pid, _ in w}) == 3 and all(q <= 2 for _, q in w), w
    assert workers(inst) == []


def stuck_in_mbox(name, user, subject, during, **conf):
    """An mbox instance whose user's mailbox the test holds locked (fcntl),
    so that the worker delivering subject waits inside its delivery;
    during(inst, worker pid) runs then. The lock is let go, and the mail
    must then be delivered, once."""
    inst = Instance(name, conf=dict({"home_mailbox": "mbox", "local_worker_uses": "100"},
                                    **{k: str(v) for k, v in conf.items()}))
    insts.append(inst)
    d = mail_spool(inst)
    inst.conf["mail_spool_directory"] = d
    inst.write_conf()
    inst.start()
    pw = pwd.getpwnam(user)
    box = os.path.join(d, user)
    fd = os.open(box, os.O_RDWR | os.O_CREAT, 0o660)
    os.fchown(fd, pw.pw_uid, grp.getgrnam("mail").gr_gid)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    try:
        inst.send("s@client.test", ["%s@localhost" % user], b"Subject: %s\r\n\r\nbody\r\n" % subject)
        busy = wait_for(lambda: [p.pid for p in workers(inst) if p.uids and p.uids[0] == pw.pw_uid],
                        20, "the worker waiting for the mbox lock")[0]
        during(inst, busy)
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)
    wait_for(lambda: len(mailbox.mbox(box)) == 1, 30, "the retry's delivery")
    inst.wait_spool_empty()
    assert list(mailbox.mbox(box))[0]["Subject"] == subject.decode()


def test_worker_killed_mid_delivery_costs_a_retry_not_the_mail():
    user = USERS[1]

    def kill(inst, pid):
        os.kill(pid, signal.SIGKILL)
        text = outcome(inst, "%s@localhost" % user, "deferred")
        assert "delivery agent failed (killed by signal 9)" in text, text
    stuck_in_mbox("dw-kill", user, b"kill", kill)


def test_virtual_mailboxes_share_the_virtual_users_worker_each_to_its_own():
    """Kind v: one identity (virtual_mail_user) for every mailbox, so one
    worker; the mailbox, and the directories to make below the base, come
    with each request and nothing of one reaches the next."""
    inst = instance("dw-virt", local_worker_uses=100)
    inst.send("s@client.test", ["demo@localhost"], b"Subject: to-demo\r\n\r\nx\r\n")
    inst.wait_messages(inst.virtual_maildir("demo/Maildir"), 1)
    inst.send("s@client.test", ["v1@virt.test"], b"Subject: to-v1\r\n\r\nx\r\n")
    inst.wait_messages(inst.virtual_maildir("virt.test/v1/Maildir"), 1)
    inst.send("s@client.test", ["demo@localhost"], b"Subject: to-demo-2\r\n\r\nx\r\n")
    inst.wait_messages(inst.virtual_maildir("demo/Maildir"), 2)
    inst.wait_spool_empty()
    demo = inst.virtual_maildir("demo/Maildir/new")
    v1 = inst.virtual_maildir("virt.test/v1/Maildir/new")
    pids = {int(NAME.match(n).group(1)) for d in (demo, v1) for n in os.listdir(d)}
    assert len(pids) == 1, pids
    assert [m.split(b"Subject: ")[1].split(b"\n")[0] for m in
            maildir_messages(inst.virtual_maildir("virt.test/v1/Maildir"))] == [b"to-v1"]
    assert sorted(m.split(b"Subject: ")[1].split(b"\n")[0] for m in
                  maildir_messages(inst.virtual_maildir("demo/Maildir"))) == [b"to-demo", b"to-demo-2"]


def test_worker_past_the_delivery_timeout_is_killed_and_replaced():
    user = USERS[0]

    def wait_timeout(inst, pid):
        text = outcome(inst, "%s@localhost" % user, "deferred")
        assert text == "4.3.0 delivery agent timed out", text
        wait_for(lambda: pid not in {p.pid for p in workers(inst)}, 10, "the stuck worker gone")
    stuck_in_mbox("dw-timeout", user, b"slow", wait_timeout, local_delivery_timeout_seconds=2)
