"""harness.py: real Postern instances for the integration tests.

An Instance is what an operator would have: the programs installed under a
directory of its own (sbin/, libexec/postern/), a postern.conf and tables in
etc/, a spool made by "postern setup", and "postern run" as the running MTA.
Tests talk to it over TCP with real clients (smtplib, swaks, raw sockets)
and look at what it left on disk and in /proc. Every wait is a poll with a
deadline (wait_for), never a bare sleep.
"""
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time

BUILD = os.environ.get("POSTERN_BUILD", "build")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIBEXEC_PROGS = ["master", "sessiond", "smtpd", "enqueue", "qmgr", "lspawn", "local", "lmtp", "resolve", "rspawn"]


def wait_for(pred, timeout=20.0, what="condition", interval=0.02):
    """Poll pred() until it returns something true; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ensure_user(name):
    """A real system user with a home directory (created once, kept)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/usr/sbin/nologin", name],
                       check=True)
        return pwd.getpwnam(name)


def maildir_messages(maildir):
    """Contents (bytes) of every message in maildir/new, oldest first."""
    new = os.path.join(maildir, "new")
    if not os.path.isdir(new):
        return []
    names = sorted(os.listdir(new), key=lambda n: os.stat(os.path.join(new, n)).st_mtime_ns)
    out = []
    for n in names:
        with open(os.path.join(new, n), "rb") as f:
            out.append(f.read())
    return out


def read_proc(pid, name):
    try:
        with open("/proc/%d/%s" % (pid, name), "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


class Proc:
    def __init__(self, pid):
        self.pid = pid
        stat = read_proc(pid, "stat") or ""
        # comm may hold blanks and parentheses: split at the last ')'
        self.comm = stat[stat.find("(") + 1:stat.rfind(")")]
        rest = stat[stat.rfind(")") + 2:].split()
        self.ppid = int(rest[1]) if len(rest) > 1 else 0
        status = read_proc(pid, "status") or ""
        self.uids = self.gids = None
        for line in status.splitlines():
            if line.startswith("Uid:"):
                self.uids = [int(x) for x in line.split()[1:]]
            elif line.startswith("Gid:"):
                self.gids = [int(x) for x in line.split()[1:]]
            elif line.startswith("Groups:"):
                self.groups = [int(x) for x in line.split()[1:]]

    def root(self):
        return os.readlink("/proc/%d/root" % self.pid)

    def cwd(self):
        return os.readlink("/proc/%d/cwd" % self.pid)

    def fds(self):
        out = {}
        d = "/proc/%d/fd" % self.pid
        for n in os.listdir(d):
            try:
                out[int(n)] = os.readlink(os.path.join(d, n))
            except OSError:
                pass
        return out


def all_procs():
    out = []
    for n in os.listdir("/proc"):
        if n.isdigit():
            p = Proc(int(n))
            if p.comm:
                out.append(p)
    return out


class Raw:
    """A byte-exact SMTP client for conversations smtplib will not have."""

    def __init__(self, port, timeout=20):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed; buffered %r" % self.buf)
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """One whole (possibly multi-line) reply: (code, [lines])."""
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return int(lines[-1][:3]), lines

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def closed(self, timeout=10):
        """True once the server has closed the connection."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except (ConnectionResetError, BrokenPipeError):
            return True

    def close(self):
        self.sock.close()


DEFAULT_TABLES = {
    "domains": {"localhost": "local", "mx.test": "local", "virt.test": "virtual"},
    "virtual": {"demo@localhost": "demo/Maildir/", "v1@virt.test": "virt.test/v1/Maildir/"},
    # Remote mail (reports to remote senders above all) goes to a loopback
    # port where nothing listens: deferred (4.4.1), never a DNS lookup from
    # a test. The remote-delivery tests use netlab.py's instances instead.
    "routes": {"*": "[127.0.0.1]:9"},
}


class Instance:
    """One installed, configured Postern instance in a directory of its own."""

    def __init__(self, name, conf=None, tables=None, spool=None):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="postern-%s-" % name, dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.sbin = os.path.join(self.dir, "sbin")
        self.libexec = os.path.join(self.dir, "libexec", "postern")
        self.spool = spool or os.path.join(self.dir, "spool")
        self.mail = os.path.join(self.dir, "mail")
        self.port = free_port()
        self.port_submission = free_port()
        self.port_smtps = free_port()
        self.logfile = os.path.join(self.dir, "postern.log")
        self.master = None
        for d in (self.etc, self.sbin, self.libexec):
            os.makedirs(d, exist_ok=True)
        for p in LIBEXEC_PROGS:
            shutil.copy2(os.path.join(REPO, BUILD, p), self.libexec)
        shutil.copy2(os.path.join(REPO, BUILD, "postern"), self.sbin)
        self.conf = {
            "hostname": "mx.test",
            "spool_directory": self.spool,
            "smtpd_chroot_directory": os.path.join(self.dir, "empty"),
            "resolve_chroot_directory": os.path.join(self.dir, "resolve"),
            "remote_chroot_directory": os.path.join(self.dir, "remote"),
            "virtual_mailbox_base": self.mail,
            "pid_file": os.path.join(self.dir, "postern.pid"),
            "smtpd_listen": "127.0.0.1:%d" % self.port,
            "queue_retry_min_seconds": "1",
            "queue_retry_max_seconds": "2",
            "master_restart_max_seconds": "2",
        }
        self.conf.update(conf or {})
        self.write_conf()
        self.tables = {k: dict(v) for k, v in DEFAULT_TABLES.items()}
        for k, v in (tables or {}).items():
            self.tables[k] = dict(v)
        for t in self.tables:
            self.write_table(t)
        self.postern("setup")

    # -- configuration ------------------------------------------------------
    def write_conf(self, extra_lines=""):
        with open(os.path.join(self.etc, "postern.conf"), "w") as f:
            for k, v in self.conf.items():
                f.write("%s = %s\n" % (k, v))
            f.write(extra_lines)

    def write_table(self, name):
        with open(os.path.join(self.etc, name), "w") as f:
            for k, v in self.tables[name].items():
                f.write("%s %s\n" % (k, v))
        self.postern("makemap", name)

    def postern(self, *args, check=True):
        r = subprocess.run([os.path.join(self.sbin, "postern"), "-c", self.etc] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("postern %s failed (%d): %s" %
                                 (" ".join(args), r.returncode, r.stdout.decode()))
        return r

    def enable_tls(self, submission=True, smtps=True):
        """A self-signed certificate for mx.test, STARTTLS on every listener,
        and (by default) the submission (587-like) and smtps (465-like)
        listeners on their own loopback ports. Call before start()."""
        cert = os.path.join(self.etc, "cert.pem")
        key = os.path.join(self.etc, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=mx.test",
                        "-addext", "subjectAltName=DNS:mx.test"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.cert = cert
        self.conf["tls_cert_file"] = cert
        self.conf["tls_key_file"] = key
        if submission:
            self.conf["submission_listen"] = "127.0.0.1:%d" % self.port_submission
        if smtps:
            self.conf["smtps_listen"] = "127.0.0.1:%d" % self.port_smtps
        self.write_conf()
        return self

    def client_tls_context(self):
        """An ssl context that trusts exactly this instance's certificate."""
        import ssl
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = True
        return ctx

    # -- running ------------------------------------------------------------
    def start(self, prefix=(), timeout=20):
        """prefix: a command that runs postern (valgrind, for
        bench/callgrind.py); the processes then carry its name, so qmgr
        and lspawn are known by their first log lines."""
        self.logf = open(self.logfile, "ab")
        self.master = subprocess.Popen(list(prefix) + [os.path.join(self.sbin, "postern"), "-c", self.etc,
                                                       "run"], stdout=self.logf, stderr=self.logf)
        wait_for(self.listening, timeout, "postern to listen on %d" % self.port)
        if prefix:
            wait_for(lambda: "qmgr[" in self.log() and "lspawn[" in self.log(), timeout, "qmgr and lspawn")
        else:
            wait_for(lambda: self.child("qmgr") and self.child("lspawn"), timeout, "qmgr and lspawn")
        return self

    def listening(self):
        if self.master.poll() is not None:
            raise AssertionError("master exited with %s:\n%s" % (self.master.returncode, self.log()))
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.master and self.master.poll() is None:
            self.master.send_signal(signal.SIGTERM)
            try:
                self.master.wait(20)
            except subprocess.TimeoutExpired:
                self.master.kill()
                self.master.wait()
        self.master = None

    def cleanup(self):
        """Stop, remove, and fail if any process reported a sanitizer error
        (a SANITIZE=1 build prints them on the stderr master logs to)."""
        self.stop()
        log = self.log()
        if not os.environ.get("POSTERN_KEEP"):
            subprocess.run(["umount", "-l", self.spool], stderr=subprocess.DEVNULL)
            shutil.rmtree(self.dir, ignore_errors=True)
        for mark in ("Sanitizer", "runtime error:"):
            if mark in log:
                i = log.index(mark)
                raise AssertionError("%s in the log of %s:\n%s" % (mark, self.name, log[max(0, i - 2000):i + 3000]))

    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- processes ----------------------------------------------------------
    def tree(self):
        """Every live process below master (master included)."""
        procs = all_procs()
        mpid = self.master_pid()
        if mpid is None:
            return []
        keep = {mpid}
        changed = True
        while changed:
            changed = False
            for p in procs:
                if p.ppid in keep and p.pid not in keep:
                    keep.add(p.pid)
                    changed = True
        return [p for p in procs if p.pid in keep]

    def master_pid(self):
        """postern run execs master, so the Popen pid is master's."""
        if not self.master or self.master.poll() is not None:
            return None
        return self.master.pid

    def children(self, comm):
        return [p for p in self.tree() if p.comm == comm]

    def child(self, comm):
        c = [p for p in self.children(comm) if p.ppid == self.master_pid()]
        return c[0] if c else None

    # -- mail ---------------------------------------------------------------
    def smtp(self, **kw):
        return smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.test", timeout=60, **kw)

    def send(self, sender, rcpts, msg, **kw):
        with self.smtp() as s:
            return s.sendmail(sender, rcpts, msg, **kw)

    def raw(self):
        r = Raw(self.port)
        code, _ = r.reply()
        assert code == 220, code
        return r

    def spool_files(self):
        out = []
        for d in ("tmp", "new", "active", "deferred", "hold", "state"):
            p = os.path.join(self.spool, d)
            if os.path.isdir(p):
                out += [os.path.join(d, n) for n in os.listdir(p)]
        return out

    def envelope(self, path):
        """The envelope records of a queue file: [(type, payload)]."""
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return []
        out, off = [], 9
        while off + 5 <= len(data) and data[off:off + 1] != b"M":
            n = int.from_bytes(data[off + 1:off + 5], "big")
            out.append((data[off:off + 1].decode(), data[off + 5:off + 5 + n]))
            off += 5 + n
        return out

    def waiting_report(self, qid):
        """True when qid is one of qmgr's reports (an N record) to a
        remote address: it waits for remote delivery (routes "*" sends it
        to a closed port), like any remote mail."""
        for d in ("new", "active", "deferred"):
            env = self.envelope(os.path.join(self.spool, d, qid))
            if env:
                rcpts = [v.decode() for t, v in env if t == "R"]
                local = set(self.tables.get("domains", {}))
                return (any(t == "N" for t, _ in env) and
                        all("@" in r and r.rsplit("@", 1)[1] not in local for r in rcpts))
        return False

    def wait_spool_empty(self, timeout=30, strict=False):
        """Wait until nothing is queued. Unless strict, reports to remote
        senders may stay: they wait for remote delivery."""
        def left():
            files = self.spool_files()
            if strict:
                return files
            return [f for f in files if not self.waiting_report(os.path.basename(f))]
        wait_for(lambda: not left(), timeout, "an empty spool (left: %s)" % left())

    def virtual_maildir(self, mailbox):
        return os.path.join(self.mail, mailbox)

    def wait_messages(self, maildir, n, timeout=30):
        return wait_for(lambda: len(maildir_messages(maildir)) >= n and maildir_messages(maildir),
                        timeout, "%d messages in %s" % (n, maildir))
