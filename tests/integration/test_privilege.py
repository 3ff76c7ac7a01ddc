"""Who runs as whom, where, holding what (issue 2, test b): read /proc while a
session is open and check smtpd is unprivileged, chrooted and blind to the
spool, and that enqueue and qmgr run as the queue user."""
import os
import pwd
import stat

from harness import Instance, wait_for

inst = None


def setup_module():
    global inst
    inst = Instance("privilege").start()


def teardown_module():
    inst.cleanup()


def failure_log():
    return inst.log()


def session_procs():
    """Open a session and return it with its smtpd and enqueue processes
    (sessiond hands the session to an enqueue worker at smtpd's first
    request: MAIL)."""
    r = inst.raw()
    assert r.cmd("EHLO client.test")[0] == 250
    assert r.cmd("MAIL FROM:<s@client.test>")[0] == 250
    # ours alone: the smtpd of start()'s readiness probe may still be ending
    smtpd = wait_for(lambda: len(inst.children("smtpd")) == 1 and inst.children("smtpd"), 10,
                     "our session's smtpd alone")[0]
    enqueue = wait_for(lambda: inst.children("enqueue"), 10, "enqueue")[0]
    return r, smtpd, enqueue


def all_ids(p, uid, gid):
    assert p.uids == [uid] * 4, (p.comm, p.uids)
    assert p.gids == [gid] * 4, (p.comm, p.gids)
    assert set(p.groups) <= {gid}, (p.comm, p.groups)


def test_smtpd_unprivileged_chrooted_no_spool_fd():
    r, smtpd, _ = session_procs()
    u = pwd.getpwnam("postern-smtpd")
    all_ids(smtpd, u.pw_uid, u.pw_gid)
    chroot = inst.conf["smtpd_chroot_directory"]
    assert smtpd.root() == chroot, smtpd.root()
    st = os.stat(chroot)
    assert st.st_uid == 0 and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    assert os.listdir(chroot) == []                # nothing to read or write there
    for fd, target in smtpd.fds().items():
        assert not target.startswith(inst.spool), (fd, target)
        assert not target.startswith(inst.etc), (fd, target)
        # sockets and pipes only; fd 2 is the foreground log master gave it
        assert not target.startswith("/") or target == "/dev/null" or \
            (fd == 2 and target == inst.logfile), (fd, target)
    r.cmd("QUIT")


def test_enqueue_and_qmgr_run_as_queue_user():
    r, _, enqueue = session_procs()
    q = pwd.getpwnam("postern-queue")
    all_ids(enqueue, q.pw_uid, q.pw_gid)
    assert enqueue.cwd() == os.path.realpath(inst.spool)
    assert enqueue.root() == "/"
    qmgr = inst.child("qmgr")
    all_ids(qmgr, q.pw_uid, q.pw_gid)
    assert qmgr.cwd() == os.path.realpath(inst.spool)
    r.cmd("QUIT")


def test_root_only_where_designed():
    master = [p for p in inst.tree() if p.pid == inst.master_pid()][0]
    assert master.uids[1] == 0
    lspawn = inst.child("lspawn")
    assert lspawn.uids[1] == 0                      # it must setuid per recipient
    # sessiond must chroot and change to two users for every session; it
    # reads nothing from the network and holds no listener, no spool file.
    sessiond = inst.child("sessiond")
    assert sessiond.uids[1] == 0
    for fd, target in sessiond.fds().items():
        assert not target.startswith(inst.spool), (fd, target)
        assert not target.startswith(inst.etc), (fd, target)
    # resolve and rspawn start as root to chroot (rspawn loads the CA store
    # first): wait until they have dropped, which a sanitized build makes
    # slower, then nothing but the three above may be root.
    def rooted():
        return [(p.comm, p.uids) for p in inst.tree()
                if p.comm not in ("master", "lspawn", "sessiond") and 0 in p.uids]
    wait_for(lambda: not rooted(), 10, "every other process without root (%s)" % rooted())
    # The remote side: each in its own jail as its own user.
    for prog, user, key in (("resolve", "postern-resolve", "resolve_chroot_directory"),
                            ("rspawn", "postern-remote", "remote_chroot_directory")):
        p = inst.child(prog)
        assert p is not None, prog
        assert set(p.uids) == {pwd.getpwnam(user).pw_uid}, (prog, p.uids)
        assert p.root() == inst.conf[key], (prog, p.root())


def test_spool_modes():
    q = pwd.getpwnam("postern-queue")
    for d in ("tmp", "new", "active", "deferred", "hold", "corrupt", "state"):
        st = os.stat(os.path.join(inst.spool, d))
        assert st.st_uid == q.pw_uid and stat.S_IMODE(st.st_mode) == 0o700, d
    st = os.stat(os.path.join(inst.spool, "trigger"))
    assert stat.S_ISFIFO(st.st_mode) and st.st_uid == q.pw_uid
    assert stat.S_IMODE(st.st_mode) == 0o600


def test_setup_is_idempotent():
    q = pwd.getpwnam("postern-queue")
    os.chmod(os.path.join(inst.spool, "new"), 0o777)
    inst.postern("setup")
    inst.postern("setup")
    st = os.stat(os.path.join(inst.spool, "new"))
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == q.pw_uid
