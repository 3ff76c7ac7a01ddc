"""test_rspawn.py: rspawn(8) and its SMTP client, run directly (no master).

rspawn gets what master would give it: fd 3, a SOCK_SEQPACKET socketpair
whose other end plays qmgr (docs/protocols.md, "qmgr -> rspawn"), and fd 4,
the control socket. Each request carries a queue file written here in the
format of docs/protocols.md ("The queue file"). The destinations are fake
SMTP servers in this process, on 127.0.0.x: they record every byte they
receive (and how it arrived, for PIPELINING) and answer from a script, well
or badly. Each test asserts the R and E records qmgr would get, and what the
server saw on the wire.
"""
import fcntl
import os
import pwd
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

from harness import BUILD, REPO, read_proc, wait_for

RSPAWN = os.path.join(REPO, BUILD, "rspawn") if not os.path.isabs(BUILD) else os.path.join(BUILD, "rspawn")
USER = "postern-remote"

tmp = None          # the test's directory
rs = None           # the running rspawn
servers = []
certs = {}
_seq = [0]


# -- the queue file and the records ------------------------------------------

# What master does before exec: the qmgr socket on fd 3, control on fd 4,
# nothing else of ours left open.
FDS_TO_3_4 = """
import fcntl, os, sys
a, b = (fcntl.fcntl(int(x), fcntl.F_DUPFD, 10) for x in sys.argv[1:3])
for x in sys.argv[1:3]:
    os.close(int(x))
os.dup2(a, 3)
os.dup2(b, 4)
os.close(a)
os.close(b)
os.execv(sys.argv[3], sys.argv[3:])
"""


def rec(t, payload):
    return t.encode() + struct.pack(">I", len(payload)) + payload


def fields(*vals):
    return b"".join((v if isinstance(v, bytes) else v.encode()) + b"\0" for v in vals)


def parse_fields(payload):
    assert payload.endswith(b"\0") or payload == b"", payload
    return [f.decode("utf-8", "replace") for f in payload.split(b"\0")[:-1]]


def queue_file(msg, sender="s@client.test", rcpts=("r@remote.test",), body="7BIT",
               utf8=False, envid=None, ret=None):
    """A queue file as enqueue writes it (common/qfile.c); its path."""
    qid = "%015X" % (0x100000000000000 + _seq[0])
    out = b"POSTERN1\n"
    out += rec("T", str(int(time.time())).encode()) + rec("I", qid.encode())
    out += rec("C", b"192.0.2.1") + rec("H", b"client.test") + rec("P", b"ESMTP")
    out += rec("S", sender.encode()) + rec("B", body.encode())
    if envid:
        out += rec("E", envid.encode())
    if ret:
        out += rec("F", ret.encode())
    if utf8:
        out += rec("U", b"1")
    for r in rcpts:
        out += rec("R", r.encode())
    out += rec("M", msg) + rec("Z", str(len(msg)).encode())
    path = os.path.join(tmp, "q%d" % _seq[0])
    with open(path, "wb") as f:
        f.write(out)
    return path, qid


# -- rspawn ---------------------------------------------------------------------

class Rspawn:
    def __init__(self, conf):
        self.dir = tempfile.mkdtemp(prefix="rspawn-", dir=tmp)
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.root = os.path.join(self.dir, "root")
        os.mkdir(self.etc)
        os.mkdir(self.root, 0o755)
        lines = {"hostname": "client.postern.test", "remote_user": USER,
                 "remote_chroot_directory": self.root,
                 "tls_ca_file": certs["a"][0]}
        lines.update(conf)
        with open(os.path.join(self.etc, "postern.conf"), "w") as f:
            for k, v in lines.items():
                f.write("%s = %s\n" % (k, v))
        self.q, q_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.ctl, ctl_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.logfile = os.path.join(self.dir, "log")
        # LeakSanitizer reads /proc at exit, which is not in the chroot.
        env = {"PATH": "/usr/bin:/bin", "POSTERN_LOG_STDERR": "1",
               "ASAN_OPTIONS": "detect_leaks=0"}
        a, b = q_theirs.fileno(), ctl_theirs.fileno()
        with open(self.logfile, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", FDS_TO_3_4, str(a), str(b), RSPAWN, "-c", self.etc],
                pass_fds=(a, b), stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        q_theirs.close()
        ctl_theirs.close()
        self.q.settimeout(30)
        self.ids = 0
        wait_for(lambda: "started" in self.log() or self.proc.poll() is not None, 10,
                 "rspawn to start")
        assert self.proc.poll() is None, self.log()

    def log(self):
        with open(self.logfile, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def send(self, payload_fields, qpath=None, raw=None):
        data = raw if raw is not None else rec("T", fields(*payload_fields))
        if qpath is None:
            self.q.send(data)
            return
        fd = os.open(qpath, os.O_RDONLY)
        try:
            socket.send_fds(self.q, [data], [fd])
        finally:
            os.close(fd)

    def request(self, dest, policy, hosts, rcpts, qpath, rid=None):
        """Send one T; its request id."""
        self.ids += 1
        rid = rid or "req%d" % self.ids
        hl = "\n".join("%d %s %s %d" % h for h in hosts)
        rl = "\n".join("%d\t%s\t%s\t%s" % ((i,) + (r if isinstance(r, tuple) else (r, "", "")))
                       for i, r in enumerate(rcpts))
        self.send([rid, self._qid(qpath), dest, policy, hl, rl], qpath)
        return rid

    @staticmethod
    def _qid(qpath):
        data = open(qpath, "rb").read()
        off = 9
        while True:
            t, n = data[off:off + 1], struct.unpack(">I", data[off + 1:off + 5])[0]
            if t == b"I":
                return data[off + 5:off + 5 + n].decode()
            off += 5 + n

    def results(self, rid, timeout=30):
        """The R records (as dicts by N) and the E's dead-host field."""
        self.q.settimeout(timeout)
        got = {}
        while True:
            data = self.q.recv(300000)
            assert data, "rspawn closed the qmgr socket"
            t = chr(data[0])
            n = struct.unpack(">I", data[1:5])[0]
            assert len(data) == 5 + n, "a datagram holds exactly one record"
            f = parse_fields(data[5:])
            assert f[0] == rid, (f, rid)
            if t == "R":
                assert len(f) == 6, f
                assert f[1] not in got, "two R for one recipient"
                assert f[4] != "" and len(f[4].encode()) <= 1000, f
                assert not any(ord(c) < 0x20 or ord(c) == 0x7f for c in f[4]), f
                got[f[1]] = {"status": f[2], "code": f[3], "text": f[4], "mta": f[5]}
            else:
                assert t == "E" and len(f) == 2, (t, f)
                return got, f[1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.q.close()
        self.ctl.close()

    def children(self):
        out = []
        for p in os.listdir("/proc"):
            if p.isdigit():
                st = read_proc(int(p), "stat") or ""
                if st and st[st.rindex(")") + 2:].split()[1] == str(self.proc.pid):
                    out.append(int(p))
        return out


# -- the fake SMTP servers -------------------------------------------------------

class Conn:
    def __init__(self):
        self.chunks = []        # bytes as each recv() got them (clear or TLS)
        self.cmds = []          # command lines, without CRLF
        self.data = []          # each message's raw DATA bytes, ".\r\n" included
        self.tls = False
        self.closed = False


class FakeSMTP:
    """A scripted SMTP server on 127.0.0.ADDR. script(conn, line) returns the
    reply bytes for a command, None for the default, or "hang" to stop
    answering; greeting is the first reply; ext the EHLO keywords."""

    def __init__(self, addr="127.0.0.2", name="mx.test", ext=("PIPELINING", "8BITMIME", "SIZE 100000"),
                 greeting=b"220 mx.test ESMTP fake\r\n", script=None, cert=None, starttls=None):
        self.addr, self.name, self.ext = addr, name, list(ext)
        self.greeting, self.script, self.starttls = greeting, script, starttls
        self.conns = []
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((addr, 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*cert)
            if "STARTTLS" not in self.ext:
                self.ext.append("STARTTLS")
        self.stopped = False
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()
        servers.append(self)

    def host(self, pref=10, name=None):
        return (pref, name or self.name, self.addr, self.port)

    def accept(self):
        while not self.stopped:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            c = Conn()
            self.conns.append(c)
            threading.Thread(target=self.serve, args=(s, c), daemon=True).start()

    def serve(self, s, c):
        try:
            self._serve(s, c)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            c.closed = True
            try:
                s.close()
            except OSError:
                pass

    def _serve(self, s, c):
        s.settimeout(60)
        s.sendall(self.greeting)
        buf = b""
        in_data = False
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return
            c.chunks.append(chunk)
            buf += chunk
            while True:
                if in_data:
                    end = buf.find(b"\r\n.\r\n")
                    if end == -1 and not buf.startswith(b".\r\n"):
                        break
                    end = end + 5 if end != -1 else 3
                    c.data.append(buf[:end])
                    buf = buf[end:]
                    in_data = False
                    r = self.script(c, "<end of data>") if self.script else None
                    if r == "hang":
                        time.sleep(60)
                        return
                    if r == "close":
                        return
                    s.sendall(r if r is not None else b"250 2.0.0 Ok: queued as FAKE\r\n")
                    continue
                nl = buf.find(b"\n")
                if nl == -1:
                    break
                line = buf[:nl + 1].rstrip(b"\r\n").decode("utf-8", "replace")
                buf = buf[nl + 1:]
                c.cmds.append(line)
                r = self.script(c, line) if self.script else None
                if r == "hang":
                    time.sleep(60)
                    return
                verb = line.split(" ")[0].upper()
                if r is None:
                    r = self.default(verb)
                s.sendall(r)
                if verb == "QUIT":
                    return
                if verb == "DATA" and r.startswith(b"354"):
                    in_data = True
                if verb == "STARTTLS" and r.startswith(b"220"):
                    if self.starttls == "garbage":
                        s.sendall(b"this is not TLS\r\n" * 10)
                        return
                    s = self.ctx.wrap_socket(s, server_side=True)
                    c.tls = True
                    buf = b""

    def default(self, verb):
        if verb == "EHLO":
            lines = [self.name] + self.ext
            return b"".join(("250%s%s\r\n" % ("-" if i < len(lines) - 1 else " ", l)).encode()
                            for i, l in enumerate(lines))
        return {"HELO": b"250 %s\r\n" % self.name.encode(),
                "MAIL": b"250 2.1.0 Ok\r\n", "RCPT": b"250 2.1.5 Ok\r\n",
                "DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
                "RSET": b"250 2.0.0 Ok\r\n", "NOOP": b"250 2.0.0 Ok\r\n",
                "QUIT": b"221 2.0.0 Bye\r\n", "STARTTLS": b"220 2.0.0 Ready to start TLS\r\n",
                }.get(verb, b"502 5.5.2 Error: command not recognized\r\n")

    def stop(self):
        self.stopped = True
        self.lsock.close()


def refused_port(addr):
    """A port on addr where nothing listens (the socket is kept bound)."""
    s = socket.socket()
    s.bind((addr, 0))
    servers.append(s)
    return s.getsockname()[1]


def make_cert(name, cn):
    d = os.path.join(tmp, "cert-" + name)
    os.mkdir(d)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:" + cn],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(d, 0o755)
    os.chmod(cert, 0o644)
    return cert, key


# -- setup --------------------------------------------------------------------------

def setup_module():
    global tmp, rs
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-r", "-s", "/usr/sbin/nologin", USER], check=True)
    tmp = tempfile.mkdtemp(prefix="pt-rspawn-")
    os.chmod(tmp, 0o755)
    certs["a"] = make_cert("a", "mx.test")
    certs["b"] = make_cert("b", "mx.test")
    rs = Rspawn({"smtp_command_timeout_seconds": "3", "smtp_greeting_timeout_seconds": "3",
                 "smtp_connect_timeout_seconds": "3", "smtp_data_done_timeout_seconds": "3",
                 "smtp_8bit_without_8bitmime": "bounce",
                 "smtp_connection_reuse_seconds": "10", "smtp_dead_host_seconds": "60"})


def teardown_module():
    for s in servers:
        try:
            s.stop() if isinstance(s, FakeSMTP) else s.close()
        except OSError:
            pass
    log = rs.log() if rs else ""
    if rs:
        rs.stop()
    if not os.environ.get("POSTERN_KEEP"):
        shutil.rmtree(tmp, ignore_errors=True)
    for mark in ("Sanitizer", "runtime error:"):
        assert mark not in log, log[max(0, log.index(mark) - 2000):][:5000]


def failure_log():
    return rs.log() if rs else ""


MSG = b"Subject: hello\n\nbody\n"


def deliver(srv_hosts, rcpts=("r@remote.test",), msg=MSG, dest=None, policy="none", **qkw):
    path, _ = queue_file(msg, rcpts=[r if isinstance(r, str) else r[0] for r in rcpts], **qkw)
    _seq[0] += 1
    dest = dest or "d%d.test" % _seq[0]
    rid = rs.request(dest, policy, srv_hosts, rcpts, path)
    return rs.results(rid)


# -- the tests ----------------------------------------------------------------------

def test_privileges_chroot_and_user():
    uid = pwd.getpwnam(USER).pw_uid
    assert os.readlink("/proc/%d/root" % rs.proc.pid) == rs.root
    status = read_proc(rs.proc.pid, "status")
    uids = [l for l in status.splitlines() if l.startswith("Uid:")][0].split()[1:]
    assert all(int(u) == uid for u in uids), uids
    # a child, idle after its delivery, is chrooted and unprivileged too
    srv = FakeSMTP("127.0.0.2")
    got, dead = deliver([srv.host()])
    assert got["0"]["status"] == "K", got
    kids = rs.children()
    assert kids, "an idle child keeps the connection"
    for k in kids:
        assert os.readlink("/proc/%d/root" % k) == rs.root
        st = read_proc(k, "status")
        assert [l for l in st.splitlines() if l.startswith("Uid:")][0].split()[1:] == [str(uid)] * 4


def test_exact_bytes_dot_stuffing_crlf():
    srv = FakeSMTP("127.0.0.3")
    msg = b"Subject: dots\n\n.leading dot\n..two\nlone\rcr\ncrlf\r\nmid.dot\n.\nlast line no newline"
    got, dead = deliver([srv.host()], msg=msg)
    assert got["0"]["status"] == "K" and got["0"]["code"] == "2.0.0", got
    assert got["0"]["text"] == "250 2.0.0 Ok: queued as FAKE" and got["0"]["mta"] == "mx.test", got
    assert dead == ""
    want = (b"Subject: dots\r\n\r\n..leading dot\r\n...two\r\nlone\r\ncr\r\ncrlf\r\nmid.dot\r\n"
            b"..\r\nlast line no newline\r\n.\r\n")
    assert srv.conns[0].data == [want], srv.conns[0].data
    # empty message, and one ending in a newline
    got, _ = deliver([srv.host()], msg=b"")
    assert got["0"]["status"] == "K"
    got, _ = deliver([srv.host()], msg=b"a\n")
    datas = [d for c in srv.conns for d in c.data]
    assert datas[-2:] == [b".\r\n", b"a\r\n.\r\n"], datas
    ehlo = [l for l in srv.conns[0].cmds if l.startswith("EHLO")]
    assert ehlo == ["EHLO client.postern.test"], srv.conns[0].cmds


def test_pipelining_and_per_recipient_results():
    def script(c, line):
        if line.startswith("RCPT TO:<bad@"):
            return b"550 5.1.1 <bad@remote.test>: Recipient address rejected: User unknown\r\n"
        return None
    srv = FakeSMTP("127.0.0.4", ext=("PIPELINING", "SIZE 100000", "DSN"), script=script)
    rcpts = [("a@remote.test", "SUCCESS,FAILURE", "rfc822;a@orig.test"), ("bad@remote.test", "", ""),
             ("c@remote.test", "", "")]
    got, _ = deliver([srv.host()], rcpts=rcpts, envid="ENV1", ret="HDRS")
    assert got["0"]["status"] == "K" and got["2"]["status"] == "K", got
    assert got["1"] == {"status": "D", "code": "5.1.1", "mta": "mx.test",
                        "text": "550 5.1.1 <bad@remote.test>: Recipient address rejected: User unknown"}, got
    c = srv.conns[0]
    mail = [ch for ch in c.chunks if b"MAIL FROM" in ch]
    assert len(mail) == 1 and mail[0].count(b"RCPT TO") == 3, c.chunks   # one write
    assert b"MAIL FROM:<s@client.test> SIZE=%d RET=HDRS ENVID=ENV1\r\n" % len(MSG) in mail[0], mail
    assert b"RCPT TO:<a@remote.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@orig.test\r\n" in mail[0]
    assert b"RCPT TO:<c@remote.test>\r\n" in mail[0]
    assert "" not in c.cmds, c.cmds


def test_no_pipelining_one_command_at_a_time():
    srv = FakeSMTP("127.0.0.5", ext=("8BITMIME",))
    got, _ = deliver([srv.host()], rcpts=("a@remote.test", "b@remote.test"))
    assert got["0"]["status"] == "K" and got["1"]["status"] == "K", got
    c = srv.conns[0]
    for ch in c.chunks:
        if b"MAIL FROM" in ch or b"RCPT TO" in ch:
            assert ch.count(b"\r\n") == 1, c.chunks
    assert "MAIL FROM:<s@client.test>" in c.cmds, c.cmds      # no SIZE: not offered


def test_mail_refused_is_everyones():
    def script(c, line):
        if line.startswith("MAIL"):
            return b"451 4.3.0 <s@client.test>: Temporary lookup failure\r\n"
        return None
    srv = FakeSMTP("127.0.0.6", script=script)
    got, _ = deliver([srv.host()], rcpts=("a@remote.test", "b@remote.test"))
    for n in ("0", "1"):
        assert got[n]["status"] == "Z" and got[n]["code"] == "4.3.0", got
        assert got[n]["text"] == "451 4.3.0 <s@client.test>: Temporary lookup failure"
    assert "DATA" not in srv.conns[0].cmds


def test_helo_when_ehlo_is_refused():
    """RFC 5321 3.2: a server that refuses EHLO gets HELO, and the
    transaction goes on without extensions (no PIPELINING, no SIZE)."""
    def script(c, line):
        if line.startswith("EHLO"):
            return b"502 5.5.2 Error: command not recognized\r\n"
        return None
    srv = FakeSMTP("127.0.0.40", script=script)
    got, _ = deliver([srv.host()], rcpts=("a@remote.test",))
    assert got["0"]["status"] == "K", got
    cmds = srv.conns[0].cmds
    assert [c.split(" ")[0] for c in cmds[:2]] == ["EHLO", "HELO"], cmds
    assert "MAIL FROM:<s@client.test>" in cmds, cmds


def test_greeting_4xx_next_host():
    bad = FakeSMTP("127.0.0.7", name="mx1.test", greeting=b"421 4.3.2 busy, come back later\r\n")
    good = FakeSMTP("127.0.0.8", name="mx2.test")
    got, dead = deliver([bad.host(10), good.host(20)])
    assert got["0"]["status"] == "K" and got["0"]["mta"] == "mx2.test", got
    assert dead == ""
    # greeted badly by every host: the greeting's code, temporary
    got, dead = deliver([bad.host(10)])
    assert got["0"]["status"] == "Z" and got["0"]["code"] == "4.3.2", got
    assert got["0"]["text"] == "421 4.3.2 busy, come back later"


def test_refused_then_dead_host_skipped():
    port = refused_port("127.0.0.9")
    good = FakeSMTP("127.0.0.10", name="mx2.test")
    got, dead = deliver([(10, "mx1.test", "127.0.0.9", port), good.host(20)])
    assert got["0"]["status"] == "K" and got["0"]["mta"] == "mx2.test", got
    assert dead == "127.0.0.9 %d" % port, dead
    # another destination with the same first host: not tried again
    got, dead = deliver([(10, "mx1.test", "127.0.0.9", port), good.host(20)])
    assert got["0"]["status"] == "K" and dead == "", (got, dead)
    # only the dead host: answered without a child, Z 4.4.1
    kids = set(rs.children())
    got, dead = deliver([(10, "mx1.test", "127.0.0.9", port)])
    assert got["0"]["status"] == "Z" and got["0"]["code"] == "4.4.1" and got["0"]["mta"] == "", got
    assert dead == "127.0.0.9 %d" % port
    assert not set(rs.children()) - kids


def test_size_utf8_8bit_refusals():
    srv = FakeSMTP("127.0.0.11", ext=("PIPELINING", "SIZE 10"))
    got, _ = deliver([srv.host()])
    assert got["0"]["status"] == "D" and got["0"]["code"] == "5.3.4", got
    srv2 = FakeSMTP("127.0.0.12", ext=("PIPELINING",))
    got, _ = deliver([srv2.host()], utf8=True)
    assert got["0"]["status"] == "D" and got["0"]["code"] == "5.6.7", got
    got, _ = deliver([srv2.host()], rcpts=("j\u00f6rg@remote.test",))
    assert got["0"]["status"] == "D" and got["0"]["code"] == "5.6.7", got
    got, _ = deliver([srv2.host()], body="8BITMIME", msg=b"Subject: caf\xc3\xa9\n\nx\n")
    assert got["0"]["status"] == "D" and got["0"]["code"] == "5.6.3", got
    assert not any(l.startswith("MAIL") for c in srv.conns + srv2.conns for l in c.cmds)
    # offered: BODY=8BITMIME, SMTPUTF8
    srv3 = FakeSMTP("127.0.0.13", ext=("8BITMIME", "SMTPUTF8", "size"))
    got, _ = deliver([srv3.host()], body="8BITMIME", utf8=True, msg=b"Subject: caf\xc3\xa9\n\nx\n")
    assert got["0"]["status"] == "K", got
    mail = [l for l in srv3.conns[0].cmds if l.startswith("MAIL")]
    assert mail == ["MAIL FROM:<s@client.test> SIZE=18 BODY=8BITMIME SMTPUTF8"], mail


def test_starttls_may_uses_tls():
    srv = FakeSMTP("127.0.0.14", cert=certs["b"])
    got, _ = deliver([srv.host()], policy="may")
    assert got["0"]["status"] == "K", got
    c = srv.conns[0]
    assert c.tls and "STARTTLS" in c.cmds and c.cmds.count("EHLO client.postern.test") == 2, c.cmds
    assert "mx.test[127.0.0.14]:%d: TLS TLSv1." % srv.port in rs.log()


def test_starttls_may_failed_handshake_retries_clear():
    srv = FakeSMTP("127.0.0.15", cert=certs["b"], starttls="garbage")
    got, _ = deliver([srv.host()], policy="may")
    assert got["0"]["status"] == "K", got
    assert len(srv.conns) == 2 and "STARTTLS" not in srv.conns[1].cmds, [c.cmds for c in srv.conns]
    assert srv.conns[1].data, "delivered in the clear"


def test_starttls_encrypt_not_offered():
    srv = FakeSMTP("127.0.0.16")
    got, _ = deliver([srv.host()], policy="encrypt")
    assert got["0"]["status"] == "Z" and got["0"]["code"] == "4.7.5", got
    assert not any(l.startswith("MAIL") for l in srv.conns[0].cmds)


def test_starttls_verify():
    # untrusted certificate: not in tls_ca_file
    srv = FakeSMTP("127.0.0.17", cert=certs["b"])
    got, _ = deliver([srv.host()], policy="verify")
    assert got["0"]["status"] == "Z" and got["0"]["code"] == "4.7.5", got
    assert "certificate verification failed" in got["0"]["text"], got
    # trusted certificate, wrong name
    srv2 = FakeSMTP("127.0.0.18", cert=certs["a"])
    got, _ = deliver([srv2.host(name="other.test")], policy="verify")
    assert got["0"]["status"] == "Z" and got["0"]["code"] == "4.7.5", got
    # trusted and the right name
    got, _ = deliver([srv2.host()], policy="verify")
    assert got["0"]["status"] == "K", got
    assert not any(l.startswith("MAIL") for c in srv.conns for l in c.cmds)


def test_starttls_injection_refused():
    def script(c, line):
        if line == "STARTTLS":
            return b"220 2.0.0 Ready\r\n250-injected\r\n250 2.1.0 fake ok\r\n"
        return None
    srv = FakeSMTP("127.0.0.19", cert=certs["a"], script=script)
    got, _ = deliver([srv.host()], policy="encrypt")
    assert got["0"]["status"] == "Z" and got["0"]["code"] == "4.7.0", got
    assert not any(l.startswith("MAIL") for c in srv.conns for l in c.cmds)
    # under "may": again, in the clear
    got, _ = deliver([srv.host()], policy="may")
    assert got["0"]["status"] == "K", got
    assert "STARTTLS" not in srv.conns[-1].cmds and srv.conns[-1].data


def test_connection_reuse():
    srv = FakeSMTP("127.0.0.20")
    dest = "reuse.test"
    got, _ = deliver([srv.host()], dest=dest)
    assert got["0"]["status"] == "K"
    got, _ = deliver([srv.host()], dest=dest, rcpts=("x@remote.test",))
    assert got["0"]["status"] == "K"
    assert len(srv.conns) == 1, [c.cmds for c in srv.conns]
    cmds = srv.conns[0].cmds
    assert cmds.count("RSET") == 1 and cmds.index("RSET") > cmds.index("DATA"), cmds
    assert cmds.count("EHLO client.postern.test") == 1 and len(srv.conns[0].data) == 2
    # another destination never takes it
    got, _ = deliver([srv.host()], dest="other-" + dest)
    assert len(srv.conns) == 2


def test_hostile_replies():
    def script(c, line):
        if line.startswith("RCPT TO:<a@"):
            return b"550 5.1.1 bad\r250 2.1.5 fake\r\n"
        if line.startswith("RCPT TO:<b@"):
            return b"250-\r\n250 ok\r\n"
        if line.startswith("RCPT TO:<c@"):
            return b"550 5.1.1 nul\0here \x1b[2J\r\n"
        return None
    srv = FakeSMTP("127.0.0.21", script=script)
    got, _ = deliver([srv.host()], rcpts=("a@remote.test", "b@remote.test", "c@remote.test"))
    assert got["0"] == {"status": "D", "code": "5.1.1", "mta": "mx.test",
                        "text": "550 5.1.1 bad?250 2.1.5 fake"}, got
    assert got["1"]["status"] == "K" and got["1"]["text"] == "250 2.0.0 Ok: queued as FAKE", got
    assert got["2"]["status"] == "D" and got["2"]["text"] == "550 5.1.1 nul?here ?[2J", got
    # a line shorter than a code, codes that differ, a 4th byte that is
    # neither blank nor hyphen: not replies
    for i, bad in enumerate((b"25\r\n", b"250-a\r\n251 b\r\n", b"250x\r\n", b"\r\n")):
        def script2(c, line, bad=bad):
            return bad if line.startswith("RCPT TO:<b@") else None
        s = FakeSMTP("127.0.0.%d" % (22 + i), script=script2)
        got, _ = deliver([s.host()], rcpts=("a@remote.test", "b@remote.test", "c@remote.test"))
        assert got["0"]["status"] == "K" or got["0"]["status"] == "Z", got
        assert got["1"]["status"] == "Z" and got["1"]["code"] == "4.5.0", got
        assert got["2"]["status"] == "Z", got
        assert all(g["status"] == "Z" for g in got.values()), got    # no DATA on a broken stream
        assert not s.conns[0].data
    assert rs.proc.poll() is None


def test_timeout_and_lost_connection():
    def hang(c, line):
        return "hang" if line.startswith("MAIL") else None
    srv = FakeSMTP("127.0.0.30", script=hang)
    t0 = time.monotonic()
    got, _ = deliver([srv.host()])
    assert got["0"]["status"] == "Z" and got["0"]["code"] == "4.4.2", got
    assert "timed out" in got["0"]["text"] and time.monotonic() - t0 < 15
    def drop(c, line):
        return "close" if line == "<end of data>" else None
    srv2 = FakeSMTP("127.0.0.31", script=drop)
    got, _ = deliver([srv2.host()])
    assert got["0"]["status"] == "Z" and got["0"]["code"] == "4.4.2", got
    assert "lost connection" in got["0"]["text"] and "end of DATA" in got["0"]["text"], got
    def late(c, line):
        return "hang" if line == "<end of data>" else None
    srv3 = FakeSMTP("127.0.0.34", script=late)
    got, _ = deliver([srv3.host()])
    assert got["0"]["status"] == "Z" and got["0"]["code"] == "4.4.2", got
    assert "timed out" in got["0"]["text"], got


def test_child_killed_mid_transaction():
    def hang(c, line):
        return "hang" if line.startswith("RCPT") else None
    srv = FakeSMTP("127.0.0.32", script=hang)
    before = set(rs.children())
    path, _ = queue_file(MSG, rcpts=["a@remote.test", "b@remote.test"])
    rid = rs.request("killed.test", "none", [srv.host()], ["a@remote.test", "b@remote.test"], path)
    wait_for(lambda: any(l.startswith("RCPT") for c in srv.conns for l in c.cmds), 10, "RCPT")
    new = set(rs.children()) - before
    assert len(new) >= 1, new
    for k in new:
        os.kill(k, signal.SIGKILL)
    got, dead = rs.results(rid)
    assert got["0"]["status"] == "Z" and got["0"]["code"] == "4.3.0", got
    assert got["1"]["status"] == "Z", got


def test_bad_requests():
    srv = FakeSMTP("127.0.0.33")
    path, qid = queue_file(MSG)
    # bad policy: each recipient answered Z 4.3.0
    rs.send(["bad1", qid, "x.test", "sometimes", "%d %s %s %d" % srv.host(), "0\ta@x.test\t\t"], path)
    got, _ = rs.results("bad1")
    assert got == {"0": {"status": "Z", "code": "4.3.0", "mta": "",
                         "text": "malformed delivery request"}}, got
    # a recipient with a CR in it, a host that is not an address, no queue file
    for rid, hosts, rcpt, p in (("bad2", "10 mx.test 127.0.0.33 25", "0\ta@x.test\r\nDATA\t\t", path),
                                ("bad3", "10 mx.test not-an-ip 25", "0\ta@x.test\t\t", path),
                                ("bad4", "10 mx.test 127.0.0.33 0", "0\ta@x.test\t\t", path),
                                ("bad5", "10 mx.test 127.0.0.33 %d" % srv.port, "0\ta@x.test\t\t", None)):
        rs.send([rid, qid, "x.test", "none", hosts, rcpt], p)
        got, _ = rs.results(rid)
        assert got["0"]["status"] == "Z" and got["0"]["code"] == "4.3.0", (rid, got)
    # not a T; fields missing; garbage: logged and dropped
    rs.send(None, raw=b"Q\0\0\0\0")
    rs.send(None, raw=rec("T", fields("x", "y")))
    rs.send(None, raw=b"\xff" * 7)
    # a corrupt queue file
    bad = os.path.join(tmp, "corrupt")
    with open(bad, "wb") as f:
        f.write(b"POSTERN1\nnonsense")
    rs.send(["bad6", qid, "x.test", "none", "%d %s %s %d" % srv.host(), "0\ta@x.test\t\t"], bad)
    got, _ = rs.results("bad6")
    assert got["0"]["status"] == "Z" and got["0"]["code"] == "4.3.0", got
    assert not srv.conns, "nothing sent for a corrupt file"
    # still answering
    got, _ = deliver([srv.host()])
    assert got["0"]["status"] == "K", got
    assert rs.proc.poll() is None
