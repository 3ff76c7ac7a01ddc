#!/usr/bin/env python3
"""bench.py: Postern side by side with Postfix, in one run on one machine.

Both MTAs run as private instances on loopback with the same job: accept
mail over SMTP and deliver it into a system user's Maildir. Every figure is
the median of RUNS runs. Printed as one table (Postern, Postfix, ratio) and
written to bench/README.md's "Latest" section.

  inbound      messages/s accepted: smtp-source -s 10 -m N -l 4096
  delivery     messages/s from the first byte in to the last file in
               Maildir/new (the same run)
  relay        messages/s through a route to smtp-sink (Postern: needs the
               routes table of the remote-delivery work; n/a until then)
  one session  median ms per message, 200 messages over one connection
  memory       PSS that one idle session adds (500 held after EHLO), and the
               MTA's total with them
  disk         durable writes/s on the spool's file system (create, write,
               fsync, rename, fsync dir): the ceiling any durable MTA has

Environment: BENCH_MESSAGES (default 5000), BENCH_RUNS (3),
BENCH_SESSIONS (500). Needs root, postfix (smtp-source) and a built tree.
"""
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
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
BODY_LEN = 4096


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


class Mta:
    """What the benchmark needs of either MTA."""
    name = port = maildir = None

    def root_pid(self):
        raise NotImplementedError


class Postern(Mta):
    name = "Postern"

    def __init__(self, user):
        self.user = user
        self.inst = Instance("bench", conf={"smtpd_max_sessions": str(SESSIONS + 100),
                                            "local_concurrency": "20",
                                            "qmgr_rescan_seconds": "5"})
        self.inst.start()
        self.port = self.inst.port
        self.maildir = os.path.join(user.pw_dir, "Maildir")
        self.spool = self.inst.spool

    def root_pid(self):
        return self.inst.master_pid()

    def stop(self):
        self.inst.cleanup()


class Postfix(Mta):
    name = "Postfix"

    def __init__(self, user):
        self.user = user
        sink = free_port()
        self.pf = PrivatePostfix(sink, "/etc/ssl/certs/ca-certificates.crt", overrides={
            "mydestination": "localhost",
            "local_transport": "local",
            "home_mailbox": "Maildir/",
            "smtp_tls_security_level": "none",
            "smtp_tls_connection_reuse": "no",
            "default_process_limit": str(SESSIONS + 100),
            "smtpd_client_connection_count_limit": "0",
        }, extra_services=[("local", "unix", "-", "n", "n", "-", "-", "local")])
        self.pf.start()
        self.port = self.pf.port
        self.maildir = os.path.join(user.pw_dir, "Maildir")
        self.spool = self.pf.queue

    def root_pid(self):
        with open(os.path.join(self.pf.queue, "pid", "master.pid")) as f:
            return int(f.read().strip())

    def stop(self):
        self.pf.cleanup()


def inbound_and_delivery(mta):
    """(accepted/s, delivered/s) for N messages from 10 parallel sessions."""
    clear_maildir(mta.maildir)
    t0 = time.monotonic()
    subprocess.run(["smtp-source", "-s", "10", "-m", str(N), "-l", str(BODY_LEN),
                    "-f", "bench@client.test", "-t", "%s@localhost" % mta.user.pw_name,
                    "127.0.0.1:%d" % mta.port], check=True, timeout=3600)
    t_in = time.monotonic() - t0
    wait_for(lambda: maildir_count(mta.maildir) >= N, 3600, "%s: %d delivered" % (mta.name, N),
             interval=0.05)
    t_out = time.monotonic() - t0
    return N / t_in, N / t_out


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


def memory(mta):
    """(KiB PSS per idle session, total KiB with SESSIONS open)."""
    before = pss_kib(tree(mta.root_pid()))
    socks = []
    try:
        for _ in range(SESSIONS):
            s = socket.create_connection(("127.0.0.1", mta.port), timeout=30)
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"EHLO client.test\r\n")
            while True:
                line = f.readline()
                if not line or line[3:4] == b" ":
                    break
            socks.append((s, f))
        wait_for(lambda: len(tree(mta.root_pid())) > SESSIONS // 2, 60, "sessions up")
        time.sleep(0.5)          # a measurement settle, not synchronisation
        after = pss_kib(tree(mta.root_pid()))
    finally:
        for s, f in socks:
            try:
                s.sendall(b"QUIT\r\n")
            except OSError:
                pass
            s.close()
    return (after - before) / SESSIONS, after


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
    pe_user, pf_user = ensure_user("pt-bench-pe"), ensure_user("pt-bench-pf")
    rows = []
    res = {}
    for cls, user in ((Postern, pe_user), (Postfix, pf_user)):
        mta = cls(user)
        try:
            print("bench: %s ..." % mta.name, flush=True)
            r = {}
            r["inbound"], r["delivery"] = median_of(inbound_and_delivery, mta)
            r["session"] = median_of(one_session, mta)
            r["mem_session"], r["mem_total"] = memory(mta)
            r["disk"] = disk_rate(mta.spool)
            res[mta.name] = r
        finally:
            mta.stop()
            clear_maildir(mta.maildir)

    pe, pf = res["Postern"], res["Postfix"]

    def row(label, a, b, unit, higher_better=True, fmt="%.0f"):
        ratio = (a / b if higher_better else b / a) if a and b else float("nan")
        rows.append("| %s | %s %s | %s %s | %.2fx |" % (label, fmt % a, unit, fmt % b, unit, ratio))
    row("inbound (smtp-source -s 10 -m %d -l %d)" % (N, BODY_LEN), pe["inbound"], pf["inbound"], "msg/s")
    row("local delivery, first byte in to last file", pe["delivery"], pf["delivery"], "msg/s")
    rows.append("| relay through a route to smtp-sink | n/a (routes: remote-delivery issue) | - | - |")
    row("one session, 200 messages: per message", pe["session"], pf["session"], "ms", False, "%.2f")
    row("memory per idle session (%d after EHLO), PSS" % SESSIONS, pe["mem_session"], pf["mem_session"],
        "KiB", False)
    row("memory total with them, PSS", pe["mem_total"] / 1024, pf["mem_total"] / 1024, "MiB", False, "%.1f")
    rows.append("| disk: durable writes/s on the spool's file system | %.0f/s | %.0f/s | - |" %
                (pe["disk"], pf["disk"]))
    rows.append("| Postern inbound as a share of the disk's limit | %.0f%% | - | - |" %
                (100 * pe["inbound"] / pe["disk"]))
    table = ["| measure | Postern | Postfix | Postern's advantage |", "|---|---|---|---|"] + rows
    machine = "%s, %d cores, %s; median of %d runs" % (
        os.uname().release, os.cpu_count(), time.strftime("%Y-%m-%d"), RUNS)
    text = "\n".join(table)
    print("\n" + text + "\n\n" + machine)
    readme = os.path.join(HERE, "README.md")
    with open(readme) as f:
        doc = f.read()
    start = doc.index("<!-- latest -->")
    end = doc.index("<!-- /latest -->")
    doc = doc[:start] + "<!-- latest -->\n" + text + "\n\n" + machine + "\n" + doc[end:]
    with open(readme, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
