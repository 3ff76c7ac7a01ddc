"""netlab.py: a network of test hosts for remote delivery, on loopback only.

The lab is two network namespaces joined by a veth pair, with addresses
from 127.0.0.0/8 and nothing else (route_localnet lets 127.x addresses
cross the link):

    namespace MTA (pt-mta-PID)              namespace PEER (pt-peer-PID)
    lo      127.0.0.1   Postern's listeners  lo     127.0.0.1  policy server
            127.0.0.53  unbound (DNS)        lab0   127.2.0.1  Postfix, MX1 (:25, :2525)
    lab0    127.1.0.1   Postern's client            127.2.0.2  Postfix, MX2 (:25, :2526)
            127.1.0.53  unbound, for PEER           127.2.0.3  malicious MX (RCPT replies)
                                                    127.2.0.4  dead: nothing listens
                                                    127.2.0.6  malicious MX (EHLO reply)

* DNS: a private unbound (Debian's, "make deps-test" installs it and runs
  no system service) answers for the zone "test." (and "." : NXDOMAIN, so
  nothing is ever asked of the Internet) on 127.0.0.53 inside MTA, and on
  127.1.0.53 for PEER (the records: ZONE; tempfail.test answers REFUSED,
  servfail.test SERVFAIL). /etc/netns/MTA/resolv.conf says
  "nameserver 127.0.0.53": "ip netns exec MTA CMD" binds it over
  /etc/resolv.conf for CMD and its children. Nothing listens on
  127.0.0.1:53 in MTA: a resolver that fell back to the default fails.
* Postfix (a private instance, "postfix -c DIR", started inside PEER) is
  the destination MTA: virtual mailboxes (Maildir) under a temp dir for
  the domains in DOMAINS, STARTTLS with a certificate of the lab's own CA
  (ca_file), a log file of its own (maillog_file), and a policy server
  (a thread of this process) that can make it answer 4xx or 5xx to any
  recipient at any time, with no reload.
* Malicious MXes (threads of this process): multi-line replies with lines
  shorter than 4 bytes and CR or LF inside reply text (OpenSMTPD
  CVE-2020-8794); they record every command they get.
* inside(NS): the calling thread's sockets are made in NS (setns(2)); a
  socket keeps the namespace it was made in.
* NetInstance: a harness.Instance whose master runs inside MTA
  ("ip netns exec"), reached by smtplib from inside MTA.

Namespace names carry the pid of the test process; a lab whose process is
gone (a crashed run) is removed by the next Lab.start(): its processes
killed by pid, its namespaces and /etc/netns entries deleted. Every wait is
a poll with a deadline (harness.wait_for).
"""
import atexit
import contextlib
import ctypes
import email
import os
import pwd
import random
import re
import shutil
import signal
import smtplib
import socket
import struct
import subprocess
import tempfile
import threading
import time

import harness
from harness import maildir_messages, wait_for

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/var/run/netns"
ETC_NETNS = "/etc/netns"
NAME_RE = re.compile(r"^pt-(mta|peer)-(\d+)$")
POSTFIX = "/usr/sbin/postfix"
UNBOUND = "/usr/sbin/unbound"

# Addresses (all in 127.0.0.0/8).
MTA_ADDR = "127.1.0.1"      # Postern's side of the link: its client's source
DNS = "127.0.0.53"          # unbound, for MTA
PEER_DNS = "127.1.0.53"     # unbound again, for PEER (Postfix's reverse lookups)
MX1 = "127.2.0.1"           # Postfix: mx1.example.test (25), alt.example.test (2525)
MX2 = "127.2.0.2"           # Postfix: mx2.example.test (25), smarthost.example.test (2526)
EVIL = "127.2.0.3"          # malicious MX: mx.evil.test
DEAD = "127.2.0.4"          # an address with nothing listening: refused
EVIL2 = "127.2.0.6"         # malicious MX: mx.evil2.test
PEER_ADDRS = [MX1, MX2, EVIL, DEAD, EVIL2]
ALT_PORT = 2525             # MX1:2525 "alt.example.test" (for a route)
SMARTHOST_PORT = 2526       # MX2:2526 "smarthost.example.test" (for a "*" route)
POLICY_PORT = 10040         # 127.0.0.1 inside PEER

# Postfix's listeners: (address, port, the name it greets with and puts in
# its Received: line "by NAME (Postfix)").
LISTENERS = [
    (MX1, 25, "mx1.example.test"),
    (MX2, 25, "mx2.example.test"),
    (MX1, ALT_PORT, "alt.example.test"),
    (MX2, SMARTHOST_PORT, "smarthost.example.test"),
]

# The zone. TTLs are short; equal.test's is 0 so that every lookup is new
# (and shuffled) rather than cached.
ZONE = [
    "example.test. 5 IN MX 10 mx1.example.test.",
    "mx1.example.test. 5 IN A %s" % MX1,
    "mx2.example.test. 5 IN A %s" % MX2,
    "alt.example.test. 5 IN A %s" % MX1,
    # A name a bracketed route uses: its A is MX2; its MX (wrongly used,
    # would lead to MX1) must not be.
    "smarthost.example.test. 5 IN A %s" % MX2,
    "smarthost.example.test. 5 IN MX 10 mx1.example.test.",
    "dead.example.test. 5 IN A %s" % DEAD,
    # Two MX hosts of the same preference.
    "equal.test. 0 IN MX 10 mx1.example.test.",
    "equal.test. 0 IN MX 10 mx2.example.test.",
    # The primary is dead, the secondary works.
    "backup.test. 5 IN MX 10 dead.example.test.",
    "backup.test. 5 IN MX 20 mx2.example.test.",
    # RFC 7505 null MX.
    "nullmx.test. 5 IN MX 0 .",
    # No MX: the implicit MX is the A record (RFC 5321 5.1).
    "implicit.test. 5 IN A %s" % MX1,
    "many.test. 5 IN MX 10 mx1.example.test.",
    "tls.test. 5 IN MX 10 mx1.example.test.",
    "later.test. 5 IN MX 10 mx1.example.test.",
    # DNS says MX2:25; the routes table says [127.2.0.1]:2525.
    "routed.test. 5 IN MX 10 mx2.example.test.",
    "evil.test. 5 IN MX 10 mx.evil.test.",
    "mx.evil.test. 5 IN A %s" % EVIL,
    "evil2.test. 5 IN MX 10 mx.evil2.test.",
    "mx.evil2.test. 5 IN A %s" % EVIL2,
    # Postern's side, for Postfix's reverse lookup of its client.
    "postern.test. 5 IN A %s" % MTA_ADDR,
]
PTR = ["%s postern.test" % MTA_ADDR]
# A zone whose every answer is REFUSED: a temporary DNS failure.
REFUSED_ZONES = ["tempfail.test."]
# A zone whose every answer is SERVFAIL (its only server cannot be asked).
SERVFAIL_ZONES = ["servfail.test."]

# Postfix's virtual mailbox domains, and the mailboxes every lab has.
DOMAINS = ["example.test", "equal.test", "backup.test", "implicit.test", "many.test",
           "tls.test", "later.test", "routed.test"]
MAILBOXES = (["%s@example.test" % u for u in ("u", "v", "w", "lab", "body", "dsn1", "dsn2",
                                              "lit", "smart", "expire")] +
             ["u@%s" % d for d in DOMAINS] +
             ["m%02d@many.test" % i for i in range(50)])
# Postfix rewrites these (virtual_alias_maps) before delivery.
ALIASES = {"lit@[%s]" % MX1: "lit@example.test"}


# -- namespaces -------------------------------------------------------------
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: %s" % os.strerror(e))


@contextlib.contextmanager
def inside(ns):
    """Run the body with the calling thread in network namespace ns
    (a name under /var/run/netns). Sockets made here stay in ns."""
    orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        fd = os.open(os.path.join(NETNS_DIR, ns), os.O_RDONLY)
        try:
            _setns(fd)
        finally:
            os.close(fd)
        try:
            yield
        finally:
            _setns(orig)
    finally:
        os.close(orig)


def ns_run(ns, argv, check=True, timeout=60, **kw):
    """argv inside ns ("ip netns exec"), output captured."""
    r = subprocess.run(["ip", "netns", "exec", ns] + list(argv), timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    if check and r.returncode != 0:
        raise AssertionError("in %s: %s failed (%d): %s" %
                             (ns, " ".join(argv), r.returncode, r.stdout.decode(errors="replace")))
    return r


def _ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError("ip %s failed: %s" % (" ".join(args), r.stdout.decode(errors="replace")))
    return r.stdout.decode(errors="replace")


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def ns_pids(ns):
    out = _ip("netns", "pids", ns, check=False)
    return [int(p) for p in out.split() if p.isdigit()]


def _kill_ns(ns):
    """SIGKILL, by pid, every process left in ns (only labs' own: the
    namespace is one of ours), then wait for them to go."""
    for pid in ns_pids(ns):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while ns_pids(ns) and time.monotonic() < deadline:
        time.sleep(0.05)


def _delete_ns(ns):
    _kill_ns(ns)
    _ip("netns", "del", ns, check=False)
    shutil.rmtree(os.path.join(ETC_NETNS, ns), ignore_errors=True)


def cleanup_stale():
    """Remove the namespaces of labs whose test process is gone."""
    names = set()
    if os.path.isdir(NETNS_DIR):
        names |= set(os.listdir(NETNS_DIR))
    if os.path.isdir(ETC_NETNS):
        names |= set(os.listdir(ETC_NETNS))
    for n in sorted(names):
        m = NAME_RE.match(n)
        if m and int(m.group(2)) != os.getpid() and not _alive(int(m.group(2))):
            _delete_ns(n)
    # Their temp dirs, /tmp/postern-netlab-PID-* (kept with POSTERN_KEEP).
    for n in ([] if os.environ.get("POSTERN_KEEP") else os.listdir("/tmp")):
        m = re.match(r"^postern-netlab-(\d+)-", n)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            shutil.rmtree(os.path.join("/tmp", n), ignore_errors=True)


# -- DNS: a query by hand (the stdlib has no MX lookup) ----------------------
QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}
RCODES = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}


def _dns_name(data, off):
    labels, jumped, end = [], False, off
    for _ in range(128):
        n = data[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off = ((n & 0x3F) << 8) | data[off + 1]
            jumped = True
            continue
        labels.append(data[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    return ".".join(labels) + ".", (end if jumped else off)


def dns_query(name, qtype="MX", server=DNS, port=53, timeout=3.0):
    """One UDP query from the calling thread's namespace: (rcode name,
    [(type, ttl, value)]); MX values are (preference, exchange)."""
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", QTYPES[qtype], 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q, (server, port))
        while True:
            data, _ = s.recvfrom(65536)
            if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == qid:
                break
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", data[:12])
    off = 12
    for _ in range(qd):
        _, off = _dns_name(data, off)
        off += 4
    names = {v: k for k, v in QTYPES.items()}
    out = []
    for _ in range(an):
        _, off = _dns_name(data, off)
        t, _, ttl, rdlen = struct.unpack(">HHIH", data[off:off + 10])
        off += 10
        rd = data[off:off + rdlen]
        if t == 1:
            val = socket.inet_ntoa(rd)
        elif t == 28:
            val = socket.inet_ntop(socket.AF_INET6, rd)
        elif t == 15:
            val = (struct.unpack(">H", rd[:2])[0], _dns_name(data, off + 2)[0])
        elif t in (2, 5, 12):
            val = _dns_name(data, off)[0]
        else:
            val = rd
        out.append((names.get(t, t), ttl, val))
        off += rdlen
    return RCODES.get(flags & 0xF, str(flags & 0xF)), out


# -- unbound ----------------------------------------------------------------
class Unbound:
    """unbound -d -c CONF inside MTA, on 127.0.0.53 and 127.1.0.53."""

    def __init__(self, lab, records=None):
        self.lab = lab
        self.dir = os.path.join(lab.dir, "unbound")
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "unbound.conf")
        self.logfile = os.path.join(self.dir, "unbound.log")
        self.records = list(ZONE) + list(records or [])
        self.proc = None

    def write_conf(self):
        lines = [
            "server:",
            "    interface: %s" % DNS,
            "    interface: %s" % PEER_DNS,
            "    port: 53",
            "    do-ip4: yes",
            "    do-ip6: no",
            "    do-udp: yes",
            "    do-tcp: yes",
            "    chroot: \"\"",
            "    username: \"\"",
            "    directory: \"%s\"" % self.dir,
            "    pidfile: \"%s/unbound.pid\"" % self.dir,
            "    logfile: \"%s\"" % self.logfile,
            "    use-syslog: no",
            "    verbosity: 1",
            "    log-queries: yes",
            "    log-replies: yes",
            "    num-threads: 1",
            "    access-control: 127.0.0.0/8 allow",
            # No validator: no trust anchor, nothing fetched.
            "    module-config: \"iterator\"",
            # Everything is answered here: nothing is asked of the Internet.
            "    local-zone: \".\" static",
            "    local-zone: \"test.\" static",
        ]
        for z in REFUSED_ZONES:
            lines.append("    local-zone: \"%s\" always_refuse" % z)
        for z in SERVFAIL_ZONES:
            lines.append("    local-zone: \"%s\" transparent" % z)
        for r in self.records:
            lines.append("    local-data: \"%s\"" % r)
        for p in PTR:
            lines.append("    local-data-ptr: \"%s\"" % p)
        # Forwarded to an address unbound will not ask (do-not-query-localhost):
        # SERVFAIL at once.
        for z in SERVFAIL_ZONES:
            lines += ["forward-zone:", "    name: \"%s\"" % z, "    forward-addr: 127.0.0.54"]
        lines += ["remote-control:", "    control-enable: no", ""]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines))

    def start(self):
        self.write_conf()
        r = subprocess.run(["unbound-checkconf", self.conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise AssertionError("unbound-checkconf: %s" % r.stdout.decode(errors="replace"))
        self.out = open(os.path.join(self.dir, "unbound.stderr"), "ab")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.lab.mta, UNBOUND, "-d",
                                      "-c", self.conf], stdout=self.out, stderr=self.out)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("unbound exited (%s): %s" % (self.proc.returncode,
                                                                   self.log()))
            try:
                with inside(self.lab.mta):
                    return dns_query("example.test", "MX", timeout=0.5)[0] == "NOERROR"
            except OSError:
                return False
        wait_for(up, 20, "unbound to answer on %s" % DNS, interval=0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def set_records(self, records):
        """Replace the lab's extra records (on top of ZONE) and restart."""
        self.stop()
        self.records = list(ZONE) + list(records)
        self.start()

    def log(self):
        out = ""
        for n in ("unbound.log", "unbound.stderr"):
            try:
                with open(os.path.join(self.dir, n), "rb") as f:
                    out += f.read().decode("utf-8", "replace")
            except OSError:
                pass
        return out

    def queries(self):
        """[(client address, name, type)] that unbound logged."""
        return re.findall(r"info: (\S+) (\S+) (\S+) IN$", self.log(), re.M)


# -- Postfix's policy server: 4xx / 5xx on demand ---------------------------
class PolicyServer:
    """Postfix's check_policy_service, on 127.0.0.1:POLICY_PORT in PEER.
    Every RCPT that Postfix's smtpd sees is recorded (the request's
    attributes: recipient, sender, client_address, encryption_protocol,
    helo_name, instance...) and answered with the rule set for that
    recipient, DUNNO when none."""

    def __init__(self, lab):
        self.lab = lab
        self.rules = {}
        self.requests = []
        self.lock = threading.Lock()
        self.sock = None

    def start(self):
        with inside(self.lab.peer):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", POLICY_PORT))
            s.listen(64)
        self.sock = s
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        f = c.makefile("rb")
        try:
            while True:
                attrs = {}
                while True:
                    line = f.readline()
                    if not line:
                        return
                    line = line.rstrip(b"\n").decode("utf-8", "replace")
                    if not line:
                        break
                    k, _, v = line.partition("=")
                    attrs[k] = v
                rcpt = attrs.get("recipient", "").lower()
                with self.lock:
                    self.requests.append(attrs)
                    action = self.rules.get(rcpt, "DUNNO")
                c.sendall(("action=%s\n\n" % action).encode())
        except OSError:
            return
        finally:
            f.close()
            c.close()

    def defer(self, addr, text=None):
        """Answer 450 to RCPT TO:<addr> from now on: Postfix says
        "450 4.2.0 <addr>: Recipient address rejected: TEXT"."""
        with self.lock:
            self.rules[addr.lower()] = "450 4.2.0 %s" % (text or "lab says try again later")

    def reject(self, addr, text=None):
        with self.lock:
            self.rules[addr.lower()] = "550 5.7.1 %s" % (text or "lab says no")

    def lift(self, addr):
        with self.lock:
            self.rules.pop(addr.lower(), None)

    def seen(self, addr):
        """The requests made for RCPT TO:<addr>, oldest first."""
        with self.lock:
            return [r for r in self.requests if r.get("recipient", "").lower() == addr.lower()]

    def stop(self):
        if self.sock:
            self.sock.close()
            self.sock = None


# -- malicious MX (CVE-2020-8794) -------------------------------------------
def script_rcpt(verb, nth, session):
    """mx.evil.test: a fine greeting and EHLO (one continuation line of
    exactly "250-"), then for the first RCPT of a session a 553 whose
    lines are short or carry a bare CR or LF with text that would be an
    envelope line or a header if anyone split on them; for the second RCPT
    a 2-byte reply line "25"; later RCPTs, DATA and the rest look normal."""
    if verb == "GREETING":
        return b"220 mx.evil.test ESMTP ready\r\n"
    if verb == "EHLO":
        return b"250-mx.evil.test\r\n250-\r\n250 8BITMIME\r\n"
    if verb == "HELO":
        return b"250 mx.evil.test\r\n"
    if verb == "MAIL":
        return b"250 2.1.0 Ok\r\n"
    if verb == "RCPT":
        if nth == 1:
            return (b"553-\r\n"
                    b"553-5.1.1 first line\rX-Injected: by-cr\r\n"
                    b"553 5.1.1 no such user\nR <injected-rcpt@evil.test>\n"
                    b"S injected-sender@evil.test\nX-Injected: by-lf\r\n")
        if nth == 2:
            return b"25\r\n"
        return b"250 2.1.5 Ok\r\n"
    if verb == "DATA":
        return b"354 go ahead\r\n"
    if verb == "DOT":
        return (b"250-2.0.0 queued\r\n25\r\n"
                b"250 2.0.0 Ok\nX-Injected: after-data\r\n")
    if verb == "QUIT":
        return b"221 2.0.0 bye\r\n"
    return b"250 2.0.0 Ok\r\n"


def script_ehlo(verb, nth, session):
    """mx.evil2.test: EHLO answered with a 2-byte line inside a multi-line
    reply ("250-", "25", then more); a client that carries on anyway (or
    falls back to HELO) finds a server that accepts everything."""
    if verb == "GREETING":
        return b"220 mx.evil2.test ESMTP\r\n"
    if verb == "EHLO":
        return b"250-mx.evil2.test\r\n250-\r\n25\r\n250 SIZE 1000000\r\n"
    if verb == "HELO":
        return b"250 mx.evil2.test\r\n"
    if verb == "DATA":
        return b"354 go ahead\r\n"
    if verb == "QUIT":
        return b"221 bye\r\n"
    return b"250 Ok\r\n"


class EvilMX:
    """A scripted SMTP server on ADDR:25 in PEER. sessions: one list per
    connection of the command lines (bytes) it got, message data as one
    b"<DATA n bytes>" entry; data: the messages it took."""

    def __init__(self, lab, addr, script, port=25):
        self.lab, self.addr, self.port, self.script = lab, addr, port, script
        self.sessions = []
        self.data = []
        self.lock = threading.Lock()
        self.sock = None

    def start(self):
        with inside(self.lab.peer):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.addr, self.port))
            s.listen(16)
        self.sock = s
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        cmds = []
        with self.lock:
            self.sessions.append(cmds)
        # A client that waits for the rest of a bad reply gets nothing more;
        # the session ends after this long whatever happens.
        c.settimeout(30)
        buf = b""
        counts = {}
        try:
            c.sendall(self.script("GREETING", 1, cmds))
            while True:
                while b"\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                line, buf = buf.split(b"\n", 1)
                line = line.rstrip(b"\r")
                with self.lock:
                    cmds.append(line)
                verb = line.split(b" ", 1)[0].split(b":", 1)[0].upper().decode("ascii", "replace")
                counts[verb] = counts.get(verb, 0) + 1
                c.sendall(self.script(verb, counts[verb], cmds))
                if verb == "QUIT":
                    return
                if verb == "DATA":
                    while b"\r\n.\r\n" not in b"\r\n" + buf:
                        d = c.recv(65536)
                        if not d:
                            return
                        buf += d
                    i = (b"\r\n" + buf).index(b"\r\n.\r\n")
                    msg, buf = buf[:i], buf[i + 3:]
                    with self.lock:
                        self.data.append(msg)
                        cmds.append(b"<DATA %d bytes>" % len(msg))
                    c.sendall(self.script("DOT", 1, cmds))
        except OSError:
            return
        finally:
            c.close()

    def commands(self):
        with self.lock:
            return [l for s in self.sessions for l in s]

    def stop(self):
        if self.sock:
            self.sock.close()
            self.sock = None


# -- Postfix as the destination MTA -----------------------------------------
class LabPostfix:
    """A private Postfix inside PEER: the listeners of LISTENERS, virtual
    Maildirs under DIR/mail, STARTTLS, a log file of its own."""

    def __init__(self, lab, mailboxes=(), aliases=None):
        self.lab = lab
        self.dir = os.path.join(lab.dir, "postfix")
        self.conf = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.mail = os.path.join(self.dir, "mail")
        self.logfile = os.path.join(self.dir, "postfix.log")
        self.mailboxes = sorted(set(MAILBOXES) | set(mailboxes))
        self.aliases = dict(ALIASES)
        self.aliases.update(aliases or {})
        self.domains = sorted(set(DOMAINS) | {a.rsplit("@", 1)[1] for a in self.mailboxes})
        for d in (self.conf, self.queue, self.data, self.mail):
            os.makedirs(d)
        os.chmod(self.dir, 0o755)
        shutil.chown(self.data, "postfix", "postfix")
        shutil.chown(self.mail, "nobody", "nogroup")
        for n in ("cert.pem", "key.pem"):
            shutil.copy(os.path.join(lab.dir, "tls", n), self.conf)
        os.chmod(os.path.join(self.conf, "key.pem"), 0o600)
        with open(os.path.join(self.conf, "vmailbox"), "w") as f:
            for a in self.mailboxes:
                local, dom = a.rsplit("@", 1)
                f.write("%s %s/%s/\n" % (a, dom, local))
        with open(os.path.join(self.conf, "valias"), "w") as f:
            for k, v in self.aliases.items():
                f.write("%s %s\n" % (k, v))
        nobody = pwd.getpwnam("nobody")
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "maillog_file": self.logfile,
            "maillog_file_prefixes": self.dir,
            "myhostname": "mx1.example.test",
            "mydomain": "example.test",
            "mydestination": "",
            # Its addresses in PEER: a domain literal [127.2.0.1] is "local".
            "inet_interfaces": "%s, %s" % (MX1, MX2),
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.1/32",
            "smtpd_relay_restrictions": "reject_unauth_destination",
            "smtpd_recipient_restrictions": "check_policy_service inet:127.0.0.1:%d" % POLICY_PORT,
            "smtpd_client_event_limit_exceptions": "127.0.0.0/8",
            "virtual_mailbox_domains": ", ".join(self.domains),
            "virtual_mailbox_base": self.mail,
            "virtual_mailbox_maps": "texthash:%s/vmailbox" % self.conf,
            "virtual_alias_maps": "texthash:%s/valias" % self.conf,
            "virtual_uid_maps": "static:%d" % nobody.pw_uid,
            "virtual_gid_maps": "static:%d" % nobody.pw_gid,
            "virtual_transport": "virtual",
            # It delivers into the Maildirs and nowhere else.
            "local_transport": "error:5.1.1 no local delivery in the lab",
            "default_transport": "error:5.7.1 the lab relays nothing",
            "relay_transport": "error:5.7.1 the lab relays nothing",
            "alias_maps": "", "alias_database": "",
            "biff": "no",
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": os.path.join(self.conf, "cert.pem"),
            "smtpd_tls_key_file": os.path.join(self.conf, "key.pem"),
            "smtpd_tls_loglevel": "1",
            "smtpd_tls_received_header": "yes",
        }
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        services = []
        for addr, port, name in LISTENERS:
            services.append(("%s:%d" % (addr, port), "inet", "n", "-", "n", "-", "-", "smtpd",
                             "-o", "myhostname=%s" % name,
                             "-o", "syslog_name=postfix/%s" % name.split(".")[0]))
        services += [
            ("pickup", "unix", "n", "-", "n", "60", "1", "pickup"),
            ("cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"),
            ("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"),
            ("tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr"),
            ("rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"),
            ("bounce", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("defer", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("trace", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("verify", "unix", "-", "-", "n", "-", "1", "verify"),
            ("flush", "unix", "n", "-", "n", "1000?", "0", "flush"),
            ("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"),
            ("smtp", "unix", "-", "-", "n", "-", "-", "smtp"),
            ("relay", "unix", "-", "-", "n", "-", "-", "smtp"),
            ("showq", "unix", "n", "-", "n", "-", "-", "showq"),
            ("error", "unix", "-", "-", "n", "-", "-", "error"),
            ("retry", "unix", "-", "-", "n", "-", "-", "error"),
            ("discard", "unix", "-", "-", "n", "-", "-", "discard"),
            ("virtual", "unix", "-", "n", "n", "-", "-", "virtual"),
            ("anvil", "unix", "-", "-", "n", "-", "1", "anvil"),
            ("scache", "unix", "-", "-", "n", "-", "1", "scache"),
            ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
        ]
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            for s in services:
                f.write(" ".join(s) + "\n")

    def run(self, *args):
        return ns_run(self.lab.peer, [POSTFIX, "-c", self.conf] + list(args), check=False)

    def start(self):
        r = self.run("start")
        if r.returncode != 0:
            raise AssertionError("postfix start failed:\n%s\n%s" %
                                 (r.stdout.decode(errors="replace"), self.log()))
        for addr, port, name in LISTENERS:
            wait_for(lambda: self.greets(addr, port, name), 30,
                     "postfix to greet as %s on %s:%d" % (name, addr, port), interval=0.1)

    def greets(self, addr, port, name):
        """True when addr:port, seen from MTA (across the link), greets."""
        try:
            with inside(self.lab.mta):
                s = socket.create_connection((addr, port), timeout=5)
            with s:
                s.settimeout(10)
                data = b""
                while b"\r\n" not in data:
                    d = s.recv(4096)
                    if not d:
                        return False
                    data += d
                s.sendall(b"QUIT\r\n")
                return data.startswith(b"220 %s " % name.encode())
        except OSError:
            return False

    def stop(self):
        self.run("stop")

    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=30, what=None):
        """The first match of the regex pattern in the log, waited for."""
        rx = re.compile(pattern, re.M)
        return wait_for(lambda: rx.search(self.log()), timeout, what or "postfix log: %s" % pattern,
                        interval=0.1)

    def maildir(self, addr):
        local, dom = addr.rsplit("@", 1)
        return os.path.join(self.mail, dom, local)

    def messages(self, addr):
        """Every message delivered to addr's Maildir (bytes, LF endings)."""
        return maildir_messages(self.maildir(addr))

    def wait_messages(self, addr, n=1, timeout=30, token=None):
        """Wait for n messages (holding token, when given) in addr's Maildir."""
        def got():
            ms = [m for m in self.messages(addr) if token is None or token in m]
            return len(ms) >= n and ms
        return wait_for(got, timeout, "%d message(s)%s in %s's Maildir" %
                        (n, " with %r" % token if token else "", addr), interval=0.1)


def received_by(msg):
    """The host names in the "by NAME" of msg's Received: lines, top first."""
    out = []
    for h in email.message_from_bytes(msg).get_all("Received") or []:
        m = re.search(r"\bby\s+([A-Za-z0-9.-]+)", str(h))
        out.append(m.group(1) if m else None)
    return out


# -- certificates -----------------------------------------------------------
def make_certs(d, names):
    """d/ca.pem (a CA) and d/cert.pem, d/key.pem (a server certificate it
    signed, for every name in names)."""
    os.makedirs(d, exist_ok=True)

    def ossl(*args):
        subprocess.run(["openssl"] + list(args), check=True, cwd=d,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=Postern test lab CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ossl("req", "-new", *ec, "-keyout", "key.pem", "-out", "cert.csr",
         "-subj", "/CN=%s" % names[0])
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=%s\n" % ",".join("DNS:%s" % n for n in names))
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    ossl("x509", "-req", "-in", "cert.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "cert.pem", "-days", "2", "-extfile", "ext.cnf")
    os.chmod(os.path.join(d, "ca.pem"), 0o644)


# -- the lab ----------------------------------------------------------------
class Lab:
    """The namespaces, unbound, Postfix, the policy server and the malicious
    MXes. Lab().start() ... lab.stop() (idempotent, also run at exit);
    or "with Lab() as lab:". records: more zone lines; mailboxes, aliases:
    more of Postfix's (on top of MAILBOXES, ALIASES); postfix=False: no
    Postfix (nor policy server)."""

    def __init__(self, records=None, mailboxes=(), aliases=None, postfix=True, evil=True):
        pid = os.getpid()
        self.mta = "pt-mta-%d" % pid
        self.peer = "pt-peer-%d" % pid
        self.dir = None
        self.records = records or []
        self.mailboxes, self.aliases = mailboxes, aliases
        self.want_postfix, self.want_evil = postfix, evil
        self.dns = self.postfix = self.policy = self.evil = self.evil2 = None
        self.started = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        for tool, pkg in ((UNBOUND, "unbound"), (POSTFIX, "postfix"), ("/usr/bin/swaks", "swaks")):
            if not os.path.exists(tool):
                raise AssertionError("%s is not installed (make deps-test installs %s)" %
                                     (tool, pkg))
        cleanup_stale()
        for ns in (self.mta, self.peer):        # ours, from an earlier lab in this process
            if os.path.exists(os.path.join(NETNS_DIR, ns)):
                _delete_ns(ns)
        self.started = True
        atexit.register(self.stop)
        self.dir = tempfile.mkdtemp(prefix="postern-netlab-%d-" % os.getpid(), dir="/tmp")
        os.chmod(self.dir, 0o755)
        self._network()
        self.dns = Unbound(self, self.records)
        self.dns.start()
        make_certs(os.path.join(self.dir, "tls"), [n for _, _, n in LISTENERS])
        self.ca_file = os.path.join(self.dir, "tls", "ca.pem")
        if self.want_evil:
            self.evil = EvilMX(self, EVIL, script_rcpt)
            self.evil.start()
            self.evil2 = EvilMX(self, EVIL2, script_ehlo)
            self.evil2.start()
        if self.want_postfix:
            self.policy = PolicyServer(self)
            self.policy.start()
            self.postfix = LabPostfix(self, self.mailboxes, self.aliases)
            self.postfix.start()
        return self

    def _network(self):
        _ip("netns", "add", self.mta)
        _ip("netns", "add", self.peer)
        _ip("link", "add", "name", "lab0", "netns", self.mta, "type", "veth",
            "peer", "name", "lab0", "netns", self.peer)
        for ns in (self.mta, self.peer):
            ns_run(ns, ["sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1",
                        "net.ipv4.conf.default.route_localnet=1"])
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", "lab0", "up")
            ns_run(ns, ["sysctl", "-q", "-w", "net.ipv4.conf.lab0.route_localnet=1"])
        for a in (MTA_ADDR, PEER_DNS):
            _ip("-n", self.mta, "addr", "add", a + "/32", "dev", "lab0")
        for a in PEER_ADDRS:
            _ip("-n", self.peer, "addr", "add", a + "/32", "dev", "lab0")
        _ip("-n", self.mta, "route", "add", "127.2.0.0/16", "dev", "lab0", "src", MTA_ADDR)
        _ip("-n", self.peer, "route", "add", "127.1.0.0/16", "dev", "lab0", "src", MX1)
        for ns, server in ((self.mta, DNS), (self.peer, PEER_DNS)):
            d = os.path.join(ETC_NETNS, ns)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "resolv.conf"), "w") as f:
                f.write("nameserver %s\n" % server)

    def stop(self):
        if not self.started:
            return
        self.started = False
        for part in (self.postfix, self.policy, self.evil, self.evil2, self.dns):
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    pass
        # Postfix's master stops its children and then itself: give them
        # the time to, so that none is left for init to reap; then SIGKILL
        # whatever still runs in the namespaces.
        deadline = time.monotonic() + 10
        while (ns_pids(self.mta) or ns_pids(self.peer)) and time.monotonic() < deadline:
            time.sleep(0.05)
        for ns in (self.mta, self.peer):
            _delete_ns(ns)
        if self.dir and not os.environ.get("POSTERN_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def resolv_conf(self, ns=None):
        with open(os.path.join(ETC_NETNS, ns or self.mta, "resolv.conf")) as f:
            return f.read()

    def swaks(self, *args, ns=None, check=True):
        """swaks inside MTA (by default), its transcript as text."""
        r = ns_run(ns or self.mta, ["swaks", "--helo", "postern.test"] + list(args),
                   check=check, timeout=60)
        return r.stdout.decode(errors="replace")

    def log(self):
        """Everything the lab's servers logged, for a failure report."""
        out = "--- unbound:\n%s\n" % (self.dns.log()[-3000:] if self.dns else "")
        if self.postfix:
            out += "--- postfix:\n%s\n" % self.postfix.log()[-5000:]
        return out


# -- Postern inside the lab -------------------------------------------------
EXTRA_PROGS = ["resolve", "rspawn"]


class NetInstance(harness.Instance):
    """A Postern instance whose master runs inside the lab's MTA namespace
    (so resolve finds /etc/netns/MTA/resolv.conf: nameserver 127.0.0.53),
    relaying for 127.0.0.0/8, with fast retries and small client timeouts.
    Its listeners are on 127.0.0.1 inside MTA: smtp(), send() and raw()
    connect from there."""

    def __init__(self, lab, name, conf=None, tables=None):
        self.lab = lab
        self.chroots = tempfile.mkdtemp(prefix="postern-chroot-%s-" % name, dir="/tmp")
        os.chmod(self.chroots, 0o755)
        for d in ("resolve", "remote"):
            os.makedirs(os.path.join(self.chroots, d), mode=0o755)
        base = {
            "qmgr_rescan_seconds": "1",
            "queue_retry_min_seconds": "1",
            "queue_retry_max_seconds": "2",
            "resolve_chroot_directory": os.path.join(self.chroots, "resolve"),
            "remote_chroot_directory": os.path.join(self.chroots, "remote"),
            "smtp_connect_timeout_seconds": "5",
            "smtp_greeting_timeout_seconds": "10",
            "smtp_command_timeout_seconds": "10",
            "smtp_data_init_timeout_seconds": "10",
            "smtp_data_block_timeout_seconds": "10",
            "smtp_data_done_timeout_seconds": "10",
        }
        base.update(conf or {})
        # No "*" route of the harness's: the lab's DNS routes.
        t = {"relay": {"127.0.0.0/8": "OK"}, "routes": {}}
        for k, v in (tables or {}).items():
            t[k] = v
        try:
            super().__init__(name, conf=base, tables=t)
        except Exception:
            shutil.rmtree(self.chroots, ignore_errors=True)
            raise
        for p in EXTRA_PROGS:
            src = os.path.join(harness.REPO, harness.BUILD, p)
            if p not in harness.LIBEXEC_PROGS and os.path.exists(src):
                shutil.copy2(src, self.libexec)

    def start(self):
        self.logf = open(self.logfile, "ab")
        self.master = subprocess.Popen(
            ["ip", "netns", "exec", self.lab.mta, os.path.join(self.sbin, "postern"),
             "-c", self.etc, "run"], stdout=self.logf, stderr=self.logf)
        wait_for(self.listening, 20, "postern to listen on %d in %s" % (self.port, self.lab.mta))
        wait_for(lambda: self.child("qmgr") and self.child("lspawn"), 20, "qmgr and lspawn")
        return self

    def listening(self):
        with inside(self.lab.mta):
            return super().listening()

    def smtp(self, **kw):
        with inside(self.lab.mta):
            return smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.test",
                                timeout=60, **kw)

    def raw(self):
        with inside(self.lab.mta):
            r = harness.Raw(self.port)
        code, _ = r.reply()
        assert code == 220, code
        return r

    def send_id(self, sender, rcpts, msg, mail_options=(), rcpt_options=()):
        """Submit msg; the queue ID from "250 2.0.0 Ok: queued as ID"."""
        if isinstance(msg, str):
            msg = msg.encode()
        with self.smtp() as s:
            s.ehlo("client.test")
            code, resp = s.mail(sender, list(mail_options))
            assert code == 250, (code, resp)
            for r in rcpts:
                code, resp = s.rcpt(r, list(rcpt_options))
                assert code == 250, (r, code, resp)
            code, resp = s.data(msg)
            assert code == 250, (code, resp)
        m = re.search(rb"queued as ([0-9A-Za-z]+)", resp)
        assert m, resp
        return m.group(1).decode()

    def cleanup(self):
        try:
            super().cleanup()
        finally:
            if not os.environ.get("POSTERN_KEEP"):
                shutil.rmtree(self.chroots, ignore_errors=True)
