"""master: supervision, restarts with the survivor kept, the session cap,
SIGHUP with a good and a bad config, and the operator's start/stop/status."""
import os
import signal
import subprocess

from harness import Instance, Raw, maildir_messages, wait_for

inst = None


def setup_module():
    global inst
    inst = Instance("master").start()


def teardown_module():
    inst.cleanup()


def failure_log():
    return inst.log()


def delivered(tag):
    md = inst.virtual_maildir("demo/Maildir")
    inst.send("m@client.test", ["demo@localhost"], ("Subject: %s\r\n\r\nx\r\n" % tag).encode())
    wait_for(lambda: [m for m in maildir_messages(md) if ("Subject: %s\n" % tag).encode() in m],
             30, "delivery of %s" % tag)


def pids():
    """qmgr's and lspawn's pids, once both are up."""
    def both():
        q, ls = inst.child("qmgr"), inst.child("lspawn")
        return q and ls and (q.pid, ls.pid)
    return wait_for(both, 20, "qmgr and lspawn")


def test_qmgr_restart_keeps_lspawn():
    qmgr, lspawn = pids()
    os.kill(qmgr, signal.SIGKILL)
    wait_for(lambda: pids()[0] != qmgr, 20, "a new qmgr")
    assert pids()[1] == lspawn
    delivered("after-qmgr-restart")


def test_lspawn_restart_keeps_qmgr():
    qmgr, lspawn = pids()
    os.kill(lspawn, signal.SIGKILL)
    wait_for(lambda: pids()[1] != lspawn, 20, "a new lspawn")
    assert pids()[0] == qmgr
    delivered("after-lspawn-restart")


def test_sessiond_crash_mail_still_accepted():
    """sessiond killed: a session it forked goes on, master execs the pair
    for a connection while sessiond is down, then restarts it."""
    old = wait_for(lambda: inst.child("sessiond"), 20, "sessiond").pid
    r = inst.raw()
    assert r.cmd("EHLO client.test")[0] == 250
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: "sessiond (pid %d) exited" % old in inst.log(), 10, "the exit logged")
    delivered("while-sessiond-down")
    assert r.cmd("NOOP")[0] == 250
    r.cmd("QUIT")
    wait_for(lambda: inst.child("sessiond") and inst.child("sessiond").pid != old, 20,
             "a new sessiond")
    delivered("after-sessiond-restart")


def test_session_survives_restarts():
    r = inst.raw()
    r.cmd("EHLO client.test")
    assert r.cmd("MAIL FROM:<m@client.test>")[0] == 250
    os.kill(pids()[0], signal.SIGKILL)
    assert r.cmd("RCPT TO:<demo@localhost>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: survived\r\n\r\nx\r\n.\r\n")
    assert r.reply()[0] == 250
    r.cmd("QUIT")
    md = inst.virtual_maildir("demo/Maildir")
    wait_for(lambda: [m for m in maildir_messages(md) if b"Subject: survived\n" in m], 30, "delivery")


def test_reload_refuses_bad_config():
    inst.write_conf("smtpd_max_sesions = 3\n")       # a typo: unknown key
    os.kill(inst.master_pid(), signal.SIGHUP)
    wait_for(lambda: "reload refused" in inst.log(), 10, "the refusal in the log")
    assert "postern.conf:%d" % (len(inst.conf) + 1) in inst.log()
    r = inst.postern("reload", check=False)
    assert r.returncode != 0 and b"postern.conf:" in r.stdout
    inst.write_conf()
    delivered("after-bad-reload")


def test_session_cap_and_reload():
    inst.conf["smtpd_max_sessions"] = "2"
    inst.write_conf()
    assert inst.postern("reload").returncode == 0
    wait_for(lambda: "reload" in inst.log(), 10, "the reload")

    def third_refused():
        a, b = inst.raw(), inst.raw()
        c = Raw(inst.port)
        code, lines = c.reply()
        for x in (a, b, c):
            x.close()
        return code == 421 and "4.3.2" in lines[0]
    wait_for(third_refused, 20, "a 421 for the third session")
    inst.conf["smtpd_max_sessions"] = "100"
    inst.write_conf()
    inst.postern("reload")


def quit_storm(port, clients, each):
    """clients threads, each opening each sessions one after another and
    quitting at once: (refusals' first lines, errors)."""
    import threading
    refused, errors = [], []

    def client():
        for _ in range(each):
            try:
                c = Raw(port)
                code, lines = c.reply()
                if code != 220:
                    refused.append(lines[0])
                else:
                    assert c.cmd("QUIT")[0] == 221
                c.close()
            except Exception as e:  # noqa: BLE001 -- reported by the caller
                errors.append(repr(e))
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return refused, errors


def test_session_cap_counts_only_live_sessions():
    """Ten clients, each opening and quitting a session as fast as it can,
    never meet a cap of 40: a session stops counting when it ends. sessiond
    used to start every queued session before reaping an ended one, and
    master, which counts a session until sessiond reports its end, refused
    about half of 1,000 such sessions as "too many"."""
    cap = Instance("cap", conf={"smtpd_max_sessions": "40"}).start()
    try:
        refused, errors = quit_storm(cap.port, 10, 100)
        assert not errors, errors[:3]
        assert not refused, "%d of 1000 refused: %s" % (len(refused), refused[0])
        assert "too many sessions" not in cap.log()
    finally:
        cap.cleanup()


def listen_backlog(port):
    """The backlog of the listening socket on 127.0.0.1:port (ss: Send-Q)."""
    out = subprocess.run(["ss", "-ltnH", "sport = :%d" % port], stdout=subprocess.PIPE,
                         check=True).stdout.decode().split()
    assert out and out[0] == "LISTEN", out
    return int(out[2])


def test_listen_backlog_follows_session_cap():
    """A burst of as many clients as may be served at once fits in the
    accept queue: the backlog is smtpd_max_sessions, at least 256."""
    assert listen_backlog(inst.port) == 256          # smtpd_max_sessions = 100
    big = Instance("backlog", conf={"smtpd_max_sessions": "1000"}).start()
    try:
        assert listen_backlog(big.port) == 1000
    finally:
        big.cleanup()


def test_status_and_stop():
    r = inst.postern("status", check=False)
    assert r.returncode == 0 and b"running" in r.stdout
    tree = [p.pid for p in inst.tree()]
    assert inst.postern("stop").returncode == 0
    inst.master.wait(30)
    assert inst.master.returncode == 0
    wait_for(lambda: not [p for p in tree if os.path.exists("/proc/%d" % p)], 20, "every process gone")
    r = inst.postern("status", check=False)
    assert r.returncode == 3, r


def test_start_as_daemon():
    r = inst.postern("start", check=False)
    assert r.returncode == 0, r.stdout
    pid = int(open(inst.conf["pid_file"]).read().strip())
    wait_for(inst_listening, 20, "the daemon to listen")
    delivered_daemon()
    r = inst.postern("start", check=False)
    assert r.returncode != 0 and b"already running" in r.stdout
    assert inst.postern("stop").returncode == 0
    wait_for(lambda: not os.path.exists("/proc/%d" % pid), 20, "the daemon gone")


def inst_listening():
    try:
        Raw(inst.port).close()
        return True
    except OSError:
        return False


def delivered_daemon():
    md = inst.virtual_maildir("demo/Maildir")
    inst.send("d@client.test", ["demo@localhost"], b"Subject: daemon\r\n\r\nx\r\n")
    wait_for(lambda: [m for m in maildir_messages(md) if b"Subject: daemon\n" in m], 30, "delivery")


def test_sysv_init_script():
    """conf/postern.init drives the same instance: start, status, reload, stop."""
    import harness
    script = os.path.join(harness.REPO, "conf", "postern.init")
    env = dict(os.environ, POSTERN=os.path.join(inst.sbin, "postern"), CONFDIR=inst.etc)

    def init(action):
        return subprocess.run(["sh", script, action], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60)
    inst.stop()                                    # the foreground instance, if any
    assert init("status").returncode == 3
    r = init("start")
    assert r.returncode == 0, r.stdout
    r = init("status")
    assert r.returncode == 0, r.stdout
    assert init("start").returncode == 0           # already running: LSB says 0
    wait_for(inst_listening, 20, "the daemon to listen")
    assert init("reload").returncode == 0
    pid = open(inst.conf["pid_file"]).read().strip()
    inst.write_conf("no_such_key = 1\n")
    r = init("restart")
    assert r.returncode == 6 and b"postern.conf:" in r.stdout   # refused...
    inst.write_conf()
    r = init("status")
    assert r.returncode == 0 and pid.encode() in r.stdout, r.stdout   # ...and not stopped
    assert init("restart").returncode == 0
    assert init("stop").returncode == 0
    assert init("status").returncode == 3
    assert init("bogus").returncode == 2


def test_systemd_unit_verifies():
    """conf/postern.service parses and its commands exist (systemd-analyze)."""
    import harness
    import shutil as sh
    import tempfile
    analyze = sh.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (package systemd)"
    with open(os.path.join(harness.REPO, "conf", "postern.service")) as f:
        unit = f.read().replace("/usr/sbin/postern", os.path.join(inst.sbin, "postern"))
    d = tempfile.mkdtemp(prefix="postern-unit-")
    path = os.path.join(d, "postern.service")
    with open(path, "w") as f:
        f.write(unit)
    r = subprocess.run([analyze, "verify", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    sh.rmtree(d)
    # man pages are not installed in the test instance: that line is expected
    problems = [l for l in r.stdout.decode().splitlines()
                if "postern.service" in l and "man postern" not in l and "man:" not in l]
    assert not problems, r.stdout.decode()
