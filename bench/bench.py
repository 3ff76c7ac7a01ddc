#!/usr/bin/env python3
"""bench.py: Postern side by side with Postfix, in one run on one machine.

Both MTAs run as private instances on loopback with the same jobs: accept
mail over SMTP and deliver it into a system user's Maildir, and relay mail
for one domain (sink.test) to Postfix's smtp-sink on another loopback port
(Postern: the routes table, "sink.test [127.0.0.1]:PORT", and the relay
table letting 127.0.0.0/8 relay; Postfix: transport_maps and mynetworks).
Every throughput figure is the median of RUNS runs, taken in turns (run 1
of every instance, then run 2 of each...), all instances up throughout.
Printed as one table (Postern, Postfix, ratio) and written to
bench/README.md's "Latest" section (BENCH_README names another file;
tests/integration/test_bench.py runs it small that way).

  inbound      messages/s accepted: smtp-source -s 10 -m N -l 4096
  delivery     messages/s from the first byte in to the last file in
               Maildir/new (the same run)
  relay        messages/s from the first byte in (smtp-source -s 10 -m N
               -l 4096 -t rcpt@sink.test) to the last message smtp-sink
               received; the sink counts with -c ("mesg=M" after every
               final dot, read from its stdout as it comes)
  cpu          the whole machine's CPU time (all cores, /proc/stat: all
               but idle, iowait and steal) over the inbound and delivery
               run, per message: both MTAs' processes, the kernel's
               threads, smtp-source and this script's polling alike
  reused       inbound, delivery and relay again with smtpd_process_uses =
               100 (each smtpd serves up to 100 sessions, as Postfix's
               max_use; Postern's default is a fresh smtpd per connection)
  one session  median ms per message, 200 messages over one connection
  memory       PSS that one idle session adds (SESSIONS held after EHLO),
               and the MTA's total with them
  concurrency  CONCURRENT sessions opened at once (every connect() first,
               then each conversation as its replies come): how many got a
               220 greeting and a 250 to EHLO and were still open after the
               next step; errors are the sessions that failed or were
               dropped, plus one if a well-behaved extra client could not
               send a message (and have it delivered) while they were held;
               and the MTA's total PSS with them. One run.
  floor        inbound, delivery and cpu again for bench/floor.c, not an
               MTA: Postern's durable writes per message (the commit into
               the spool and the Maildir delivery, each write, fsync,
               rename, fsync of the directory) behind just enough SMTP for
               smtp-source, in 20 processes forked once. What this machine
               allows any server that keeps Postern's promise; Postern's
               and Postfix's delivery rates as shares of it.
  machine      bench/proccost.c, once before the MTAs start: what a first
               write to a page costs here, a fork and exit of a small
               process, a round trip over a pipe to another process and
               the cheapest system call (the prices of a new process, of
               a hand-off and of a kernel entry)
  disk         durable writes/s on the spool's file system (create, write,
               fsync, rename, fsync dir): the ceiling any durable MTA has

Both instances allow the sessions asked for: Postern's smtpd_max_sessions
and Postfix's default_process_limit are max(SESSIONS, CONCURRENT) + 100,
loopback is exempt from Postern's per-client limits (its default,
smtpd_client_limit_exceptions) and Postfix counts no connections per client
(smtpd_client_connection_count_limit = 0). Toward one destination Postern
opens at most as many connections as Postfix does by default
(remote_destination_concurrency = 20, Postfix's
default_destination_concurrency_limit). The benchmark raises its own
RLIMIT_NOFILE to hold the sessions; the MTAs, started after, inherit it.

Environment: BENCH_MESSAGES (default 5000), BENCH_RUNS (3),
BENCH_SESSIONS (500), BENCH_CONCURRENT (1000), BENCH_README (the file
whose "Latest" block is rewritten, bench/README.md). Needs root, postfix
(smtp-source, smtp-sink) and a built tree (POSTERN_BUILD, default build).
"""
import bisect
import collections
import errno
import os
import re
import resource
import select
import selectors
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
os.environ.setdefault("POSTERN_BUILD", "build")

import harness  # noqa: E402
from harness import Instance, ensure_user, free_port, wait_for  # noqa: E402
from test_postfix_client import PrivatePostfix  # noqa: E402

N = int(os.environ.get("BENCH_MESSAGES", "5000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SESSIONS = int(os.environ.get("BENCH_SESSIONS", "500"))
CONCURRENT = int(os.environ.get("BENCH_CONCURRENT", "1000"))
BODY_LEN = 4096
SINK_DOMAIN = "sink.test"
POSTERN_USER = "pt-bench-pe"    # the recipient of Postern's local mail
HOLD_TIMEOUT = 300          # seconds for every session to get its EHLO reply
MAX_SESSIONS = max(SESSIONS, CONCURRENT) + 100


def pss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def tree(root):
    """root and every process below it."""
    kids = {}
    for p in harness.all_procs():
        kids.setdefault(p.ppid, []).append(p.pid)
    out, pending = [], [root]
    while pending:
        pid = pending.pop()
        out.append(pid)
        pending += kids.get(pid, [])
    return out


def maildir_count(md):
    try:
        return len(os.listdir(os.path.join(md, "new")))
    except OSError:
        return 0


def clear_maildir(md):
    shutil.rmtree(md, ignore_errors=True)


def raise_fd_limit(need):
    """The benchmark holds CONCURRENT sockets at once: enough fds for them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            hard = need         # root may raise the hard limit too
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


class Sink:
    """Postfix's smtp-sink on a free loopback port, counting what it
    receives: with -c it writes "sess=S quit=Q mesg=M\\r" to stdout after
    every final dot (and session end); a thread reads them as they come and
    notes when each count was reached."""

    def __init__(self):
        self.port = free_port()
        self.errlog = tempfile.TemporaryFile(prefix="postern-bench-sink-")
        # Root must name a user (-u) for smtp-sink to switch to.
        self.proc = subprocess.Popen(["smtp-sink", "-c", "-u", "nobody",
                                      "127.0.0.1:%d" % self.port, "256"],
                                     stdout=subprocess.PIPE, stderr=self.errlog)
        self.cond = threading.Condition()
        self.counts, self.times = [0], [time.monotonic()]
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        wait_for(self._listening, 20, "smtp-sink to listen on %d" % self.port)

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("smtp-sink exited with %s: %s" % (self.proc.returncode, self.log()))
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def _read(self):
        buf = b""
        fd = self.proc.stdout.fileno()
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            now = time.monotonic()
            buf += data
            *records, buf = buf.split(b"\r")
            for r in records:
                m = re.search(rb"mesg=(\d+)", r)
                if m and int(m.group(1)) > self.counts[-1]:
                    with self.cond:
                        self.counts.append(int(m.group(1)))
                        self.times.append(now)
                        self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def count(self):
        with self.cond:
            return self.counts[-1]

    def wait_count(self, target, timeout):
        """The monotonic time at which the sink had received target
        messages in all (waits for it, at most timeout seconds)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.counts[-1] < target:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError("smtp-sink: %d of %d messages after %ds%s" % (
                        self.counts[-1], target, timeout,
                        "" if self.proc.poll() is None else "; it exited: " + self.log()))
                self.cond.wait(min(left, 1.0))
            return self.times[bisect.bisect_left(self.counts, target)]

    def log(self):
        self.errlog.seek(0)
        return self.errlog.read().decode("utf-8", "replace")[-2000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        self.errlog.close()


class Mta:
    """What the benchmark needs of either MTA."""
    name = port = maildir = None

    def root_pid(self):
        raise NotImplementedError

    def settle(self):
        """Wait until the sessions just closed are gone."""


class Postern(Mta):
    name = "Postern"
    extra = {}

    def __init__(self, user, sink):
        self.user = user
        self.inst = Instance("bench", conf=dict(self.extra, **{
            "smtpd_max_sessions": str(MAX_SESSIONS),
            # Loopback is exempt from the per-client limits (the default;
            # said here because the bench relies on it).
            "smtpd_client_limit_exceptions": "127.0.0.0/8 ::1",
            "local_concurrency": "20",
            "remote_destination_concurrency": "20",
            "qmgr_rescan_seconds": "5",
        }), tables={
            "relay": {"127.0.0.0/8": "OK"},
            "routes": {SINK_DOMAIN: "[127.0.0.1]:%d" % sink.port, "*": "[127.0.0.1]:9"},
        })
        self.inst.start()
        self.port = self.inst.port
        self.maildir = os.path.join(user.pw_dir, "Maildir")
        self.spool = self.inst.spool

    def root_pid(self):
        return self.inst.master_pid()

    def settle(self):
        def sessions():
            # a session is its smtpd; sessiond's idle enqueue workers stay
            # (part of the MTA's resting memory, like Postfix's idle smtpd)
            return [p for p in self.inst.tree() if p.comm == "smtpd"]
        wait_for(lambda: not sessions(), 120, "Postern's sessions to end (%d left)" % len(sessions()),
                 interval=0.1)

    def stop(self):
        self.inst.cleanup()


class PosternReused(Postern):
    """Postern with Postfix's process economics for smtpd: each smtpd
    serves up to 100 sessions (smtpd_process_uses; the default, 1, is a
    fresh process per connection). Measured for the throughput lines."""
    name = "Postern, smtpd_process_uses = 100"
    extra = {"smtpd_process_uses": "100"}


class Postfix(Mta):
    name = "Postfix"

    def __init__(self, user, sink):
        self.user = user
        # relayhost: a closed port, so that nothing but sink.test (by
        # transport_maps) ever reaches the sink.
        self.pf = PrivatePostfix(9, "/etc/ssl/certs/ca-certificates.crt", overrides={
            "mydestination": "localhost",
            "local_transport": "local",
            "home_mailbox": "Maildir/",
            "transport_maps": "inline:{%s=smtp:[127.0.0.1]:%d}" % (SINK_DOMAIN, sink.port),
            "smtp_tls_security_level": "none",
            "smtp_tls_connection_reuse": "no",
            "default_process_limit": str(MAX_SESSIONS),
            "smtpd_client_connection_count_limit": "0",
        }, extra_services=[("local", "unix", "-", "n", "n", "-", "-", "local")])
        self.pf.start()
        self.port = self.pf.port
        self.maildir = os.path.join(user.pw_dir, "Maildir")
        self.spool = self.pf.queue

    def root_pid(self):
        with open(os.path.join(self.pf.queue, "pid", "master.pid")) as f:
            return int(f.read().strip())

    # settle(): nothing to wait for; Postfix keeps its idle smtpd processes
    # (max_idle) and gives them the next connections.

    def stop(self):
        self.pf.cleanup()


class Floor(Mta):
    """bench/floor.c: a message committed and delivered with Postern's
    durable writes (the spool's tmp/, fsync, rename into new/, fsync of
    new/; the same into Maildir after the session) and nothing else, by
    20 processes forked once: the rate this machine allows any server
    that keeps the promise Postern keeps."""
    name = "floor"
    procs = 20

    def __init__(self, user, sink):
        self.user = user        # smtp-source's recipient; the floor ignores it
        prog = os.path.join(os.path.abspath(os.environ["POSTERN_BUILD"]), "floor")
        # where the harness puts Postern's spool, so on its file system
        self.dir = tempfile.mkdtemp(prefix="postern-bench-floor-", dir="/tmp")
        self.port = free_port()
        self.maildir = os.path.join(self.dir, "Maildir")
        self.proc = subprocess.Popen([prog, str(self.port), self.dir, str(self.procs)])
        wait_for(self.listening, 10, "bench/floor.c on port %d" % self.port, interval=0.05)

    def listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("floor exited with %s" % self.proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", self.port), 1).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.proc.returncode != 0:
            raise AssertionError("floor exited with %s" % self.proc.returncode)


def busy_ms():
    """CPU time the whole machine has spent, in ms, all cores: everything
    but idle, iowait and steal (/proc/stat's first line)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:8]]
    user, nice, system, idle, iowait, irq, softirq = v
    return (user + nice + system + irq + softirq) * 1000.0 / os.sysconf("SC_CLK_TCK")


def inbound_and_delivery(mta):
    """(accepted/s, delivered/s, machine CPU ms per message) for N messages
    from 10 parallel sessions."""
    clear_maildir(mta.maildir)
    c0 = busy_ms()
    t0 = time.monotonic()
    subprocess.run(["smtp-source", "-s", "10", "-m", str(N), "-l", str(BODY_LEN),
                    "-f", "bench@client.test", "-t", "%s@localhost" % mta.user.pw_name,
                    "127.0.0.1:%d" % mta.port], check=True, timeout=3600)
    t_in = time.monotonic() - t0
    wait_for(lambda: maildir_count(mta.maildir) >= N, 3600, "%s: %d delivered" % (mta.name, N),
             interval=0.05)
    t_out = time.monotonic() - t0
    return N / t_in, N / t_out, (busy_ms() - c0) / N


def relay(mta, sink):
    """Relayed/s: N messages from 10 parallel sessions to rcpt@sink.test,
    from the first byte in to the last message smtp-sink received."""
    base = sink.count()
    t0 = time.monotonic()
    subprocess.run(["smtp-source", "-s", "10", "-m", str(N), "-l", str(BODY_LEN),
                    "-f", "bench@client.test", "-t", "rcpt@%s" % SINK_DOMAIN,
                    "127.0.0.1:%d" % mta.port], check=True, timeout=3600)
    t_end = sink.wait_count(base + N, 3600)
    return N / (t_end - t0)


def one_session(mta):
    """Median ms per message, 200 messages over one connection."""
    body = b"Subject: one\r\n\r\n" + b"x" * 70 + b"\r\n"
    times = []
    with smtplib.SMTP("127.0.0.1", mta.port, local_hostname="client.test", timeout=60) as s:
        for _ in range(200):
            t = time.monotonic()
            s.sendmail("one@client.test", ["%s@localhost" % mta.user.pw_name], body)
            times.append(time.monotonic() - t)
    return statistics.median(times) * 1000


def open_sessions(port, n, timeout=HOLD_TIMEOUT):
    """Open n SMTP sessions at once: every connect() first, then each
    conversation as its replies come (the greeting, EHLO, its reply), all in
    one poll loop. Returns (the sockets held after a 250 to EHLO, a Counter
    of the others by what went wrong, seconds until the last one was held
    or had failed)."""
    sel = selectors.DefaultSelector()
    errors = collections.Counter()
    held = []
    t0 = time.monotonic()
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS):
            errors["connect: %s" % os.strerror(err)] += 1
            s.close()
            continue
        # [bytes read and not yet parsed, the reply awaited: 220 or 250]
        sel.register(s, selectors.EVENT_READ, [b"", 220])

    def fail(s, why):
        errors[why] += 1
        sel.unregister(s)
        s.close()

    deadline = t0 + timeout
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(min(left, 1.0)):
            s, st = key.fileobj, key.data
            stage = "greeting" if st[1] == 220 else "EHLO"
            try:
                data = s.recv(65536)
            except OSError as e:
                fail(s, "%s: %s" % (stage, e.strerror or e))
                continue
            if not data:
                fail(s, "%s: connection closed" % stage)
                continue
            st[0] += data
            while b"\n" in st[0]:
                line, st[0] = st[0].split(b"\n", 1)
                if line[3:4] == b"-":
                    continue            # a multi-line reply goes on
                if line[:3] != str(st[1]).encode():
                    fail(s, "%s: %s" % (stage, line.decode("utf-8", "replace").strip()[:70]))
                    break
                if st[1] == 220:
                    st[1] = 250
                    s.send(b"EHLO client.test\r\n")
                else:
                    sel.unregister(s)
                    held.append(s)
                    break
    for key in list(sel.get_map().values()):
        fail(key.fileobj, "no %s reply within %ds" % ("greeting" if key.data[1] == 220 else "EHLO",
                                                      timeout))
    sel.close()
    return held, errors, time.monotonic() - t0


def dropped(socks):
    """How many of the held sessions the server has closed or written to
    (a 421 for a timeout, say) since their EHLO reply."""
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLIN)
    return len(p.poll(0))


def close_sessions(socks):
    for s in socks:
        try:
            s.send(b"QUIT\r\n")
        except OSError:
            pass
        s.close()


def memory(mta):
    """(KiB PSS per idle session, total KiB with SESSIONS open)."""
    before = pss_kib(tree(mta.root_pid()))
    socks, errors, _ = open_sessions(mta.port, SESSIONS)
    try:
        if errors:
            print("bench: %s: memory: %d of %d sessions held; %s" % (
                mta.name, len(socks), SESSIONS, dict(errors)), flush=True)
        time.sleep(0.5)          # a measurement settle, not synchronisation
        after = pss_kib(tree(mta.root_pid()))
    finally:
        close_sessions(socks)
    mta.settle()
    return (after - before) / max(len(socks), 1), after


def extra_message(mta):
    """One message from a well-behaved client while the sessions are held:
    None when it was accepted and delivered, else what went wrong."""
    before = maildir_count(mta.maildir)
    t = time.monotonic()
    try:
        with smtplib.SMTP("127.0.0.1", mta.port, local_hostname="client.test", timeout=120) as s:
            s.sendmail("extra@client.test", ["%s@localhost" % mta.user.pw_name],
                       b"Subject: extra\r\n\r\nwhile the others are held\r\n")
    except (OSError, smtplib.SMTPException) as e:
        return "not accepted: %s" % e
    try:
        wait_for(lambda: maildir_count(mta.maildir) > before, 120, "the extra message", interval=0.05)
    except AssertionError:
        return "accepted, not delivered within 120 s"
    print("bench: %s: the extra message was delivered %.2f s after its connect" %
          (mta.name, time.monotonic() - t), flush=True)
    return None


def concurrency(mta):
    """CONCURRENT sessions at once: {held, errors, total KiB PSS}."""
    socks, errors, secs = open_sessions(mta.port, CONCURRENT)
    lost = 0
    try:
        time.sleep(0.5)          # a measurement settle, not synchronisation
        total = pss_kib(tree(mta.root_pid()))
        why = extra_message(mta)
        if why:
            errors["extra client: " + why] += 1
        lost = dropped(socks)
        if lost:
            errors["closed or answered while held"] += lost
    finally:
        close_sessions(socks)
    print("bench: %s: %d of %d sessions held after %.1f s%s" % (
        mta.name, len(socks) - lost, CONCURRENT, secs,
        "; errors: %s" % dict(errors) if errors else ", no errors"), flush=True)
    mta.settle()
    return {"held": len(socks) - lost, "errors": sum(errors.values()), "total": total}


def disk_rate(directory, n=500):
    d = tempfile.mkdtemp(dir=directory)
    try:
        dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        data = b"x" * BODY_LEN
        t = time.monotonic()
        for i in range(n):
            tmp, new = os.path.join(d, "t%d" % i), os.path.join(d, "n%d" % i)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, data)
            os.fsync(fd)
            os.close(fd)
            os.rename(tmp, new)
            os.fsync(dfd)
        rate = n / (time.monotonic() - t)
        os.close(dfd)
        return rate
    finally:
        shutil.rmtree(d, ignore_errors=True)


def median_of(fn, *a):
    results = [fn(*a) for _ in range(RUNS)]
    if isinstance(results[0], tuple):
        return tuple(statistics.median(r[i] for r in results) for i in range(len(results[0])))
    return statistics.median(results)


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root (system users, Postfix's local delivery)")
    for prog in ("smtp-source", "smtp-sink"):
        if not shutil.which(prog):
            sys.exit("bench: %s not found (the postfix package; make deps-test installs it)" % prog)
    raise_fd_limit(max(SESSIONS, CONCURRENT) + 512)
    pe_user, pf_user = ensure_user(POSTERN_USER), ensure_user("pt-bench-pf")
    rows = []
    res = {}
    machine_cost = subprocess.run([os.path.join(os.path.abspath(os.environ["POSTERN_BUILD"]), "proccost")],
                                  check=True, capture_output=True, text=True, timeout=120).stdout.split()
    # Every instance runs from the start, so that the throughput runs can
    # take turns: run 1 of each, then run 2 of each... A slow minute of
    # the machine (its figures drift by a fifth over ten minutes) then
    # falls on all of them alike, not on whichever was measured in it.
    mtas, sinks = [], []
    try:
        for cls, user in ((Postern, pe_user), (PosternReused, pe_user), (Postfix, pf_user),
                          (Floor, pe_user)):
            sinks.append(Sink())
            mtas.append(cls(user, sinks[-1]))
            mtas[-1].sink = sinks[-1]
        runs = {m.name: ([], []) for m in mtas}
        for i in range(RUNS):
            for m in mtas:
                print("bench: %s, inbound and local delivery, run %d of %d ..." % (m.name, i + 1, RUNS),
                      flush=True)
                runs[m.name][0].append(inbound_and_delivery(m))
            for m in mtas:
                if not isinstance(m, Floor):    # a reference for local delivery only
                    print("bench: %s, relay, run %d of %d ..." % (m.name, i + 1, RUNS), flush=True)
                    runs[m.name][1].append(relay(m, m.sink))
        for m in mtas:
            io, rl = runs[m.name]
            r = res[m.name] = {}
            r["inbound"], r["delivery"], r["cpu"] = (statistics.median(x[k] for x in io) for k in range(3))
            if rl:
                r["relay"] = statistics.median(rl)
                if m.sink.count() != RUNS * N:
                    print("bench: %s: smtp-sink received %d messages, not %d" %
                          (m.name, m.sink.count(), RUNS * N), flush=True)
        # The rest one MTA at a time (the others idle), and not for the
        # reused smtpd (one process per held session either way) nor the
        # floor.
        for m in mtas:
            if isinstance(m, (PosternReused, Floor)):
                continue
            print("bench: %s, one session, memory, concurrency ..." % m.name, flush=True)
            r = res[m.name]
            r["session"] = median_of(one_session, m)
            r["mem_session"], r["mem_total"] = memory(m)
            r["conc"] = concurrency(m)
            r["disk"] = disk_rate(m.spool)
    finally:
        # Every instance and sink stopped even when one fails to (a
        # sanitizer report, the floor's exit status); then the first
        # failure is raised.
        failure = None
        for x in mtas + sinks:
            try:
                x.stop()
                if x in mtas:
                    clear_maildir(x.maildir)
            except Exception as e:      # noqa: BLE001 - re-raised below
                failure = failure or e
        if failure:
            raise failure

    pe, pr, pf, fl = res["Postern"], res[PosternReused.name], res["Postfix"], res[Floor.name]

    def row(label, a, b, unit, higher_better=True, fmt="%.0f"):
        ratio = (a / b if higher_better else b / a) if a and b else float("nan")
        rows.append("| %s | %s %s | %s %s | %.2fx |" % (label, fmt % a, unit, fmt % b, unit, ratio))

    def held(c):
        return "held %d of %d, errors %d" % (c["held"], CONCURRENT, c["errors"])
    row("inbound (smtp-source -s 10 -m %d -l %d)" % (N, BODY_LEN), pe["inbound"], pf["inbound"], "msg/s")
    row("local delivery, first byte in to last file", pe["delivery"], pf["delivery"], "msg/s")
    row("relay through a route to smtp-sink, first byte in to last received", pe["relay"], pf["relay"],
        "msg/s")
    row("inbound, smtpd_process_uses = 100 (Postfix's max_use)", pr["inbound"], pf["inbound"], "msg/s")
    row("local delivery, smtpd_process_uses = 100", pr["delivery"], pf["delivery"], "msg/s")
    row("relay, smtpd_process_uses = 100", pr["relay"], pf["relay"], "msg/s")
    row("machine CPU per message, inbound and local delivery (all cores, /proc/stat)",
        pe["cpu"], pf["cpu"], "ms", False, "%.2f")
    row("the same, smtpd_process_uses = 100", pr["cpu"], pf["cpu"], "ms", False, "%.2f")
    row("the floor (bench/floor.c, not Postern: its durable writes and nothing else): local delivery",
        fl["delivery"], pf["delivery"], "msg/s")
    row("the floor: machine CPU per message", fl["cpu"], pf["cpu"], "ms", False, "%.2f")
    rows.append("| Postern's local delivery as a share of the floor's: default, smtpd_process_uses = 100 "
                "| %.0f%%, %.0f%% | %.0f%% | - |" % (100 * pe["delivery"] / fl["delivery"],
                                                    100 * pr["delivery"] / fl["delivery"],
                                                    100 * pf["delivery"] / fl["delivery"]))
    row("one session, 200 messages: per message", pe["session"], pf["session"], "ms", False, "%.2f")
    row("memory per idle session (%d after EHLO), PSS" % SESSIONS, pe["mem_session"], pf["mem_session"],
        "KiB", False)
    row("memory total with them, PSS", pe["mem_total"] / 1024, pf["mem_total"] / 1024, "MiB", False, "%.1f")
    rows.append("| %d sessions opened at once, EHLO on each, one more message meanwhile | %s | %s | - |" %
                (CONCURRENT, held(pe["conc"]), held(pf["conc"])))
    row("memory total with %d sessions, PSS" % CONCURRENT, pe["conc"]["total"] / 1024,
        pf["conc"]["total"] / 1024, "MiB", False, "%.1f")
    rows.append("| this machine (bench/proccost.c): a page's first write, a fork and exit, "
                "a pipe round trip, getppid() | %s us, %s us, %s us, %s us | - | - |" % tuple(machine_cost))
    rows.append("| disk: durable writes/s on the spool's file system | %.0f/s | %.0f/s | - |" %
                (pe["disk"], pf["disk"]))
    rows.append("| Postern inbound as a share of the disk's limit | %.0f%% | - | - |" %
                (100 * pe["inbound"] / pe["disk"]))
    table = ["| measure | Postern | Postfix | Postern's advantage |", "|---|---|---|---|"] + rows
    machine = "%s, %d cores, %s; median of %d runs" % (
        os.uname().release, os.cpu_count(), time.strftime("%Y-%m-%d"), RUNS)
    text = "\n".join(table)
    print("\n" + text + "\n\n" + machine)
    readme = os.environ.get("BENCH_README", os.path.join(HERE, "README.md"))
    with open(readme) as f:
        doc = f.read()
    start = doc.index("<!-- latest -->")
    end = doc.index("<!-- /latest -->")
    doc = doc[:start] + "<!-- latest -->\n" + text + "\n\n" + machine + "\n" + doc[end:]
    with open(readme, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
