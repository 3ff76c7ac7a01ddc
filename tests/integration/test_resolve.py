"""resolve(8), the real program against a real DNS server: unbound on a
loopback address, serving a zone of its own (local-data), and nothing
else (every other name is answered from "." static: no query ever leaves
the machine).

resolve runs outside master, as master would start it: root, -c CONFDIR,
fd 3 a SOCK_STREAM socketpair whose other end is this test (as qmgr),
fd 4 a control socketpair (as master). The test checks what the contract
(docs/protocols.md, "qmgr -> resolve, and back") promises: the answers and
their exact lines, several queries outstanding at once, a protocol error
dropping the peer and a new one arriving on fd 4 with tag P, that
/etc/resolv.conf is the chroot's copy and is read again when it changes,
and that the process is chrooted and runs as resolve_user.
"""
import array
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

from harness import BUILD, REPO, wait_for

DNS_IP = "127.53.0.1"		# unbound
DEAD_IP = "127.53.0.2"		# nobody: a resolv.conf pointing here gets no answer
HOLE_IP = "127.53.0.3"		# a socket that reads queries and never answers
USER = "postern-resolve"

work = None
chroot = None
unbound = None
proc = None
qmgr = None
ctl = None
logfile = None

ZONE = [
    'local-zone: "." static',
    'local-zone: "example.test." static',
    'local-data: "example.test. 3600 IN SOA ns.example.test. hm.example.test. 1 3600 600 86400 30"',
    'local-data: "example.test. 300 IN MX 20 mx2.example.test."',
    'local-data: "example.test. 300 IN MX 10 mx1.example.test."',
    'local-data: "mx1.example.test. 300 IN A 127.0.1.10"',
    'local-data: "mx1.example.test. 300 IN AAAA ::1"',
    'local-data: "mx2.example.test. 300 IN A 127.0.1.20"',
    'local-data: "implicit.example.test. 300 IN A 127.0.1.30"',
    'local-data: "null.example.test. 300 IN MX 0 ."',
    'local-data: "loop.example.test. 300 IN MX 10 me.example.test."',
    'local-data: "me.example.test. 300 IN A 127.0.1.99"',
    'local-data: "badmx.example.test. 300 IN MX 10 bad_name.example.test."',
    'local-data: "txtonly.example.test. 300 IN TXT hello"',
    'local-zone: "refused.test." refuse',
]


def frame(t, fields):
    payload = b"".join(f.encode() + b"\0" for f in fields)
    return t + struct.pack(">I", len(payload)) + payload


def read_frame(sock):
    """(type, [fields]), or None at EOF."""
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
    assert payload.endswith(b"\0"), payload
    return hdr[:1], [f.decode() for f in payload[:-1].split(b"\0")]


def ask(qid, mode, name, port="25", sock=None):
    """One Q, its A: (status, code, text, hosts)."""
    s = sock or qmgr
    s.sendall(frame(b"Q", [qid, mode, name, port]))
    r = read_frame(s)
    assert r is not None, "resolve closed the connection:\n" + failure_log()
    t, f = r
    assert t == b"A" and len(f) == 5 and f[0] == qid, r
    return f[1], f[2], f[3], f[4]


def write_resolv_conf(ip):
    """Replaced by rename, as master does: a new inode."""
    path = os.path.join(chroot, "etc", "resolv.conf")
    with open(path + ".new", "w") as f:
        f.write("nameserver %s\noptions timeout:1 attempts:1\n" % ip)
    os.chmod(path + ".new", 0o644)
    os.rename(path + ".new", path)


def new_peer():
    """A new qmgr socket, handed to resolve over fd 4 with tag P."""
    global qmgr
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ctl.sendmsg([b"P"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                          array.array("i", [theirs.fileno()]))])
    theirs.close()
    ours.settimeout(30)
    qmgr = ours


def failure_log():
    try:
        with open(logfile, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except (OSError, TypeError):
        return ""


def start_resolve():
    global proc, qmgr, ctl
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ctl_ours, ctl_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def child_fds():
        os.dup2(theirs.fileno(), 3)
        os.dup2(ctl_theirs.fileno(), 4)
    env = {"PATH": "/usr/bin:/bin", "POSTERN_LOG_STDERR": "1"}
    before = len(failure_log())
    log = open(logfile, "ab")
    proc = subprocess.Popen([os.path.join(REPO, BUILD, "resolve"), "-c", os.path.join(work, "etc")],
                            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            preexec_fn=child_fds, close_fds=False)
    log.close()
    theirs.close()
    ctl_theirs.close()
    ours.settimeout(30)
    qmgr, ctl = ours, ctl_ours
    wait_for(lambda: "started" in failure_log()[before:] or proc.poll() is not None, 20,
             "resolve to start")
    assert proc.poll() is None, "resolve exited:\n" + failure_log()


def setup_module():
    global work, chroot, unbound, logfile
    assert shutil.which("unbound"), "unbound is not installed (make deps-test)"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-r", "-s", "/usr/sbin/nologin", USER], check=True)
    work = tempfile.mkdtemp(prefix="postern-resolve-", dir="/tmp")
    os.chmod(work, 0o755)
    logfile = os.path.join(work, "resolve.log")
    chroot = os.path.join(work, "chroot")
    # The jail must be searchable by resolve_user, and hold nothing else.
    os.makedirs(os.path.join(chroot, "etc"))
    os.chmod(chroot, 0o755)
    os.chmod(os.path.join(chroot, "etc"), 0o755)
    os.makedirs(os.path.join(work, "etc"))
    with open(os.path.join(work, "etc", "postern.conf"), "w") as f:
        f.write("hostname = me.example.test\n"
                "resolve_user = %s\n"
                "resolve_chroot_directory = %s\n"
                "resolve_address_limit = 5\n" % (USER, chroot))
    conf = os.path.join(work, "unbound.conf")
    with open(conf, "w") as f:
        f.write("server:\n")
        for line in ["interface: %s" % DNS_IP, "port: 53", "do-daemonize: no",
                     'username: ""', 'chroot: ""', 'directory: "%s"' % work,
                     'pidfile: ""', "use-syslog: no", 'logfile: ""', "verbosity: 0",
                     "do-ip6: no", "access-control: 127.0.0.0/8 allow",
                     'module-config: "iterator"'] + ZONE:
            f.write("    %s\n" % line)
    subprocess.run(["unbound-checkconf", conf], check=True, stdout=subprocess.DEVNULL)
    unbound = subprocess.Popen(["unbound", "-d", "-c", conf], stdout=subprocess.DEVNULL,
                               stderr=open(os.path.join(work, "unbound.log"), "ab"))

    def answering():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\x07example\x04test\x00\x00\x0f\x00\x01"
        try:
            s.sendto(q, (DNS_IP, 53))
            return s.recv(4096)[:2] == b"\x00\x07"
        except OSError:
            return False
        finally:
            s.close()
    wait_for(answering, 20, "unbound on %s" % DNS_IP)
    # At first the chroot's resolv.conf names a server that is not there:
    # test_resolv_conf_reread() checks the copy is read again.
    write_resolv_conf(DEAD_IP)
    start_resolve()


def teardown_module():
    for p in (proc, unbound):
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    log = failure_log()
    if not os.environ.get("POSTERN_KEEP"):
        shutil.rmtree(work, ignore_errors=True)
    for mark in ("Sanitizer", "runtime error:"):
        assert mark not in log, log


def test_chrooted_as_resolve_user():
    u = pwd.getpwnam(USER)
    assert os.readlink("/proc/%d/root" % proc.pid) == chroot
    with open("/proc/%d/status" % proc.pid) as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    assert [int(x) for x in status["Uid"].split()] == [u.pw_uid] * 4, status["Uid"]
    assert [int(x) for x in status["Gid"].split()] == [u.pw_gid] * 4, status["Gid"]


def test_resolv_conf_reread():
    # The copy names a dead server: no answer, a temporary failure.
    st, code, text, hosts = ask("1", "m", "example.test")
    assert (st, code, hosts) == ("Z", "4.4.3", ""), (st, code, text)
    assert "example.test" in text, text
    # master replaces the copy; resolve sees it within a second or so.
    write_resolv_conf(DNS_IP)
    time.sleep(1.1)
    st, code, text, hosts = ask("2", "m", "example.test")
    assert st == "K", (st, code, text)


def test_answers():
    assert ask("m1", "m", "example.test") == ("K", "2.0.0", "",
        "10 mx1.example.test ::1 25\n"
        "10 mx1.example.test 127.0.1.10 25\n"
        "20 mx2.example.test 127.0.1.20 25")
    assert ask("m2", "m", "Implicit.Example.Test", "2525") == (
        "K", "2.0.0", "", "0 Implicit.Example.Test 127.0.1.30 2525")
    assert ask("a1", "a", "mx2.example.test", "587") == (
        "K", "2.0.0", "", "0 mx2.example.test 127.0.1.20 587")
    assert ask("l1", "m", "[127.0.0.1]") == ("K", "2.0.0", "", "0 [127.0.0.1] 127.0.0.1 25")
    for name, st, code in (("nx.example.test", "D", "5.1.2"),
                           ("null.example.test", "D", "5.1.10"),
                           ("loop.example.test", "D", "5.4.6"),
                           ("badmx.example.test", "D", "5.4.4"),
                           ("txtonly.example.test", "D", "5.4.4"),
                           ("refused.test", "Z", "4.4.3"),
                           ("bad name", "D", "5.1.2"),
                           ("[999.1.1.1]", "D", "5.1.2")):
        got = ask("x", "m", name)
        assert got[:2] == (st, code) and got[3] == "", (name, got)
    assert "loops back to myself" in ask("x", "m", "loop.example.test")[2]


def test_outstanding_queries():
    names = ["example.test", "nx.example.test", "mx1.example.test", "[IPv6:::1]"]
    qmgr.sendall(b"".join(frame(b"Q", ["o%d" % i, "a" if i == 2 else "m", n, "25"])
                          for i, n in enumerate(names)))
    got = {}
    for _ in names:
        t, f = read_frame(qmgr)
        assert t == b"A"
        got[f[0]] = f[1]
    assert got == {"o0": "K", "o1": "D", "o2": "K", "o3": "K"}, got


def test_protocol_error_drops_peer():
    for bad in (frame(b"X", ["1"]),                      # unknown type
                frame(b"Q", ["1", "m", "example.test"]),  # three fields
                frame(b"Q", ["1", "x", "example.test", "25"]),  # mode
                frame(b"Q", ["1", "m", "example.test", "0"]),   # port
                frame(b"Q", ["1", "m", "example.test", "65536"]),
                b"Q\xff\xff\xff\xff"):                     # too long
        qmgr.sendall(bad)
        assert read_frame(qmgr) is None, bad		# dropped
        assert proc.poll() is None, failure_log()
        new_peer()
        assert ask("after", "m", "example.test")[0] == "K"
    assert "unexpected record type" in failure_log()
    assert "malformed Q record" in failure_log()


def test_eof_then_new_peer():
    qmgr.close()
    time.sleep(0.2)
    assert proc.poll() is None
    new_peer()
    assert ask("again", "a", "mx1.example.test")[0] == "K"


def test_sighup():
    # postern.conf is outside the jail: the cache goes, resolv.conf is
    # read again, and resolve goes on.
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "SIGHUP: cache emptied" in failure_log(), 10, "the reload")
    assert ask("hup", "m", "example.test")[0] == "K"


def test_sigterm_inside_dns_wait():
    """A server that never answers: SIGTERM ends resolve at once, not
    after the resolver's timeout (here 2 x 5 s)."""
    hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hole.bind((HOLE_IP, 53))
    try:
        path = os.path.join(chroot, "etc", "resolv.conf")
        with open(path + ".new", "w") as f:
            f.write("nameserver %s\noptions timeout:5 attempts:2\n" % HOLE_IP)
        os.chmod(path + ".new", 0o644)
        os.rename(path + ".new", path)
        time.sleep(1.1)
        qmgr.sendall(frame(b"Q", ["t", "m", "uncached.example.test", "25"]))
        hole.settimeout(10)
        hole.recvfrom(4096)		# resolve is waiting for us now
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0, failure_log()
        assert time.monotonic() - t0 < 2
    finally:
        hole.close()


def test_master_gone():
    """EOF on fd 4: resolve exits 0."""
    write_resolv_conf(DNS_IP)
    start_resolve()
    assert ask("m", "m", "example.test")[0] == "K"
    ctl.close()
    assert proc.wait(10) == 0, failure_log()
