"""Crash safety under load (issue 6, item 1), local and remote delivery.

While N messages flow in over S sessions (threads with their own SMTP
connections, reconnecting when a connection breaks) and out to Maildir (a
virtual mailbox and a system user's ~/Maildir) and to a remote sink (an
SMTP server of this test's own on 127.0.0.1, reached through a routes
entry for remote.test: every third message), a killer thread sends SIGKILL
to a random process of the instance every 200 ms for D seconds: sessiond,
smtpd, enqueue, qmgr, lspawn and its delivery children, resolve, rspawn and
its SMTP client children, and master's children caught between fork and
exec; never master itself. A process of the instance is one that runs a
program of its libexec/, whoever its parent: sessions outlive a killed
sessiond and deliveries a killed lspawn or rspawn, and are counted apart
("(orphan)"). Every fifth kill is drawn from the five long-running
processes alone (sessiond, qmgr, lspawn, resolve, rspawn), which the
sessions and delivery children would otherwise outnumber.

The sink records a message's tag once it has read the final dot and before
it answers 250, so a client killed between the two leaves a copy the queue
will send again (a duplicate, allowed), and a client killed before the dot
leaves nothing. Delivered means: in a Maildir's new/, or recorded by the
sink; a tag may only be delivered where its recipient is.

Each message carries a unique tag and ends in one of four client-side
outcomes:
  accepted  250 after the final dot: must be delivered at least once;
  refused   an explicit 4xx/5xx at MAIL, RCPT, DATA or after the dot: must
            never be delivered;
  lost-pre  the connection broke before the final dot was sent: the server
            cannot have committed it, so it must never be delivered;
  unknown   the connection broke after the final dot, before a reply: the
            client cannot know; delivery is allowed (the at-least-once
            window: crash after the commit, before the 250 went out) and
            counted separately.
Afterwards, once every accepted message is delivered and the queue is quiet,
the instance is stopped with "postern stop" and run again: the spool must
then hold nothing at all (tmp/ emptied at start, active/ empty, no orphan
state files). The counts are printed.

Sizes: the short run (make test) is 300 messages over 5 sessions with 5 s of
kills; POSTERN_TORTURE=full (make torture) is 2,000 messages over 10
sessions with 30 s of kills. The senders are paced so that the flow spans
the whole kill period. The full run also requires that the remote path
(resolve, rspawn, its children) was killed at least once; the short run
has too few kills for that to be certain.
"""
import os
import random
import signal
import smtplib
import socketserver
import threading
import time

from harness import Instance, Proc, ensure_user, wait_for

FULL = os.environ.get("POSTERN_TORTURE") == "full"
N = 2000 if FULL else 300
SESSIONS = 10 if FULL else 5
KILL_SECONDS = 30.0 if FULL else 5.0
KILL_PERIOD = 0.2          # a rate, not a synchronisation
# master's long-running children; every LONGRUN_EVERY-th kill is one of them
LONGRUN = ("sessiond", "qmgr", "lspawn", "resolve", "rspawn")
LONGRUN_EVERY = 5

REMOTE_DOMAIN = "remote.test"
# What a real MX spends between the final dot and its 250 (its own fsync):
# a latency, not a synchronisation. It widens the window in which a killed
# client has delivered without knowing it, the source of remote duplicates.
SINK_LATENCY = 0.01

# Every tag starts with RUN. pt-torture's Maildir is shared with any other
# run of this test on the machine (another worktree's, another build's): it
# is never emptied, only this run's messages are looked at and removed.
RUN = "tort%d%s" % (os.getpid(), os.urandom(3).hex())

inst = None
alice = None
sink = None


class SinkHandler(socketserver.StreamRequestHandler):
    """One SMTP session of the sink: enough ESMTP for rspawn's client
    (EHLO with PIPELINING, 8BITMIME and SIZE; MAIL, RCPT, DATA, RSET, NOOP,
    QUIT). Replies go out in command order, which is all PIPELINING asks
    of a server (RFC 2920 3.1)."""

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self):
        srv = self.server
        self.request.settimeout(120)
        with srv.lock:
            srv.sessions += 1
        try:
            self.session(srv)
        except OSError:
            pass            # the client was killed: nothing to answer

    def session(self, srv):
        self.reply("220 sink.%s ESMTP" % REMOTE_DOMAIN)
        sender, rcpts = None, 0
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.rstrip(b"\r\n").decode("utf-8", "replace")
            verb = cmd[:4].upper()
            if verb == "EHLO":
                sender, rcpts = None, 0
                self.wfile.write(b"250-sink.%s\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                                 b"250 SIZE 10240000\r\n" % REMOTE_DOMAIN.encode())
            elif verb == "HELO":
                sender, rcpts = None, 0
                self.reply("250 sink.%s" % REMOTE_DOMAIN)
            elif verb == "MAIL" and cmd[4:10].upper() == " FROM:":
                if sender is not None:
                    self.reply("503 5.5.1 nested MAIL")
                else:
                    sender, rcpts = cmd[10:], 0
                    self.reply("250 2.1.0 ok")
            elif verb == "RCPT" and cmd[4:8].upper() == " TO:":
                if sender is None:
                    self.reply("503 5.5.1 MAIL first")
                else:
                    rcpts += 1
                    self.reply("250 2.1.5 ok")
            elif verb == "DATA":
                if sender is None or not rcpts:
                    self.reply("503 5.5.1 no valid recipients")
                    continue
                self.reply("354 go ahead")
                if not self.data(srv):
                    return
                sender, rcpts = None, 0
            elif verb == "RSET":
                sender, rcpts = None, 0
                self.reply("250 2.0.0 ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:
                self.reply("502 5.5.2 not implemented")

    def data(self, srv):
        """Read the message to its final dot, record its tag, answer 250.
        False when the connection ended first: nothing is recorded, and the
        sender must not believe it delivered (it gets no 250)."""
        tag = None
        while True:
            line = self.rfile.readline()
            if not line.endswith(b"\n"):
                with srv.lock:
                    srv.aborted += 1
                return False
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]         # RFC 5321 4.5.2
            if tag is None and line.startswith(b"X-Tag: "):
                tag = line[7:].strip().decode("utf-8", "replace")
        # recorded before the 250: a client killed now has delivered
        with srv.lock:
            srv.messages += 1
            if tag is not None:
                srv.tags[tag] = srv.tags.get(tag, 0) + 1
        time.sleep(SINK_LATENCY)
        self.reply("250 2.0.0 ok: queued as sink%d" % srv.messages)
        return True


class Sink(socketserver.ThreadingTCPServer):
    """The remote end: a thread per SMTP session, on a free loopback port."""
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128        # never a refused connect (a dead host)

    def __init__(self):
        super().__init__(("127.0.0.1", 0), SinkHandler)
        self.port = self.server_address[1]
        self.lock = threading.Lock()
        self.tags = {}              # tag -> copies received
        self.sessions = self.messages = self.aborted = 0
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def tags_of(self, run):
        with self.lock:
            return {t: n for t, n in self.tags.items() if t.startswith(run + "-")}

    def stop(self):
        self.shutdown()
        self.server_close()


def setup_module():
    global inst, alice, sink
    # a user of its own: test_crash (and concurrent runs of the suite on this
    # machine) empty pt-alice's Maildir under our feet
    alice = ensure_user("pt-torture")
    remove_stale_messages(os.path.join(alice.pw_dir, "Maildir"))
    sink = Sink()
    # remote.test goes to the sink; every other remote domain (reports to
    # load@client.test, should one be made) to the harness's closed port
    inst = Instance("torture", conf={"local_concurrency": "4"}, tables={
        "relay": {"127.0.0.1": "OK"},
        "routes": {REMOTE_DOMAIN: "[127.0.0.1]:%d" % sink.port, "*": "[127.0.0.1]:9"},
    }).start()


def teardown_module():
    try:
        if inst is not None:
            inst.cleanup()
    finally:
        if sink is not None:
            sink.stop()
        if alice is not None:
            remove_own_messages(os.path.join(alice.pw_dir, "Maildir"))


def remove_stale_messages(maildir, age=3600):
    """Unlink what runs that never reached their teardown left in a Maildir
    other runs share: files older than any run lasts."""
    old = time.time() - age
    for d in ("new", "tmp"):
        d = os.path.join(maildir, d)
        for n in (os.listdir(d) if os.path.isdir(d) else []):
            try:
                if os.stat(os.path.join(d, n)).st_mtime < old:
                    os.unlink(os.path.join(d, n))
            except FileNotFoundError:
                pass


def remove_own_messages(maildir):
    """Unlink this run's messages from a Maildir other runs share."""
    new = os.path.join(maildir, "new")
    marker = ("X-Tag: %s-" % RUN).encode()
    for n in (os.listdir(new) if os.path.isdir(new) else []):
        path = os.path.join(new, n)
        try:
            with open(path, "rb") as f:
                if marker in f.read():
                    os.unlink(path)
        except FileNotFoundError:
            pass


def failure_log():
    return inst.log()


def classify_send(s, tag, rcpt):
    """One transaction on an open smtplib.SMTP; returns (outcome, broken)."""
    body = ("Subject: %s\r\nX-Tag: %s\r\n\r\n%s" % (tag, tag, ("t" * 70 + "\r\n") * 15))
    try:
        code, _ = s.mail("load@client.test")
        if code != 250:
            return "refused", code == 421
        code, _ = s.rcpt(rcpt)
        if code not in (250, 251):
            return "refused", code == 421
        code, _ = s.docmd("DATA")
        if code != 354:
            return "refused", code == 421
    except (smtplib.SMTPServerDisconnected, OSError):
        return "lost-pre", True
    try:
        # sendall either sends everything, the final dot last, or raises:
        # a raise means the dot did not go out, so nothing was committed
        s.send(body.encode() + b".\r\n")
    except (smtplib.SMTPServerDisconnected, OSError):
        return "lost-pre", True
    try:
        code, _ = s.getreply()
    except (smtplib.SMTPServerDisconnected, OSError):
        return "unknown", True
    if code == 250:
        return "accepted", False
    return "refused", code == 421


def connect():
    """A new session, retried while the instance is busy refusing them."""
    def attempt():
        try:
            s = smtplib.SMTP("127.0.0.1", inst.port, local_hostname="client.test", timeout=30)
        except (smtplib.SMTPException, OSError):
            return None
        try:
            code, _ = s.ehlo()
            if code == 250:
                return s
        except (smtplib.SMTPException, OSError):
            pass
        try:
            s.close()
        except OSError:
            pass
        return None
    return wait_for(attempt, 60, "an SMTP session", interval=0.05)


def maildir_messages(maildir):
    """Contents of every message in maildir/new; tolerates a file that goes
    away while the directory is read."""
    new = os.path.join(maildir, "new")
    out = []
    for n in (os.listdir(new) if os.path.isdir(new) else []):
        try:
            with open(os.path.join(new, n), "rb") as f:
                out.append(f.read())
        except FileNotFoundError:
            pass
    return out


def sniff_tags(run):
    """tag -> number of copies, over both Maildirs' new/ (local delivery)."""
    md_alice = os.path.join(alice.pw_dir, "Maildir")
    md_demo = inst.virtual_maildir("demo/Maildir")
    tags = {}
    marker = ("X-Tag: %s-" % run).encode()
    for m in maildir_messages(md_alice) + maildir_messages(md_demo):
        i = m.find(marker)
        if i >= 0:
            tag = m[i + 7:m.find(b"\n", i)].decode().strip()
            tags[tag] = tags.get(tag, 0) + 1
    return tags


def remote_tag(tag):
    """Every third message goes to the sink (see the senders)."""
    return int(tag.rsplit("-", 1)[1]) % 3 == 0


def all_tags(run):
    """(local tag -> copies, remote tag -> copies)."""
    return sniff_tags(run), sink.tags_of(run)


def instance_procs():
    """Every live process of the instance: whatever runs a program of its
    libexec/ (forked children keep their parent's). Wider than inst.tree():
    a session outlives a killed sessiond, a delivery a killed lspawn or
    rspawn ("deliveries under way finish on their own"), re-parented away
    from master, and those are Postern processes to kill as well."""
    prefix = inst.libexec + "/"
    out = []
    # a readlink per pid first: harness.all_procs() reads two files of
    # every process of the machine, too slow for a 200 ms tick on a busy one
    for n in os.listdir("/proc"):
        if not n.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % n)
        except OSError:
            continue            # gone, or a zombie: nothing to kill
        if exe.startswith(prefix):
            p = Proc(int(n))
            if p.comm:
                out.append(p)
    return out


def below(pid, procs):
    """The pids of procs that descend from pid."""
    keep, changed = {pid}, True
    while changed:
        changed = False
        for p in procs:
            if p.ppid in keep and p.pid not in keep:
                keep.add(p.pid)
                changed = True
    return keep - {pid}


def queue_quiet():
    return not any(os.listdir(os.path.join(inst.spool, d)) for d in ("new", "active", "deferred"))


def test_kill9_random_processes_under_load():
    run = RUN
    outcome = {}
    lock = threading.Lock()
    stop_killing = threading.Event()
    kills = {}
    start = time.monotonic()
    rate = N / KILL_SECONDS

    def sender(k):
        s = None
        for i in range(k, N, SESSIONS):
            # pacing: message i not before start + i / rate
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)   # a send rate, not a synchronisation
            if s is None:
                s = connect()
            tag = "%s-%05d" % (run, i)
            if remote_tag(tag):
                rcpt = "sink@" + REMOTE_DOMAIN
            else:
                rcpt = "demo@localhost" if i % 2 else "pt-torture@localhost"
            res, broken = classify_send(s, tag, rcpt)
            with lock:
                outcome[tag] = res
            if broken:
                try:
                    s.close()
                except OSError:
                    pass
                s = None
        if s is not None:
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass

    ticks = [0]

    def killer():
        mpid = inst.master_pid()
        rnd = random.Random()
        while not stop_killing.is_set() and time.monotonic() - start < KILL_SECONDS:
            ticks[0] += 1
            procs = instance_procs()
            tree = below(mpid, procs)
            victims = [p for p in procs if p.pid != mpid]
            # Sessions, orphans and delivery children outnumber the five
            # long-running processes: a short run could miss them all
            # drawing at random from every process alone.
            longrun = [p for p in victims if p.ppid == mpid and p.comm in LONGRUN]
            if ticks[0] % LONGRUN_EVERY == 0 and longrun:
                victims = longrun
            if victims:
                p = rnd.choice(victims)
                if p.ppid == mpid:
                    name = p.comm       # sessiond, qmgr, lspawn, resolve, rspawn
                elif p.comm in ("lspawn", "local"):
                    name = "lspawn-child"
                else:
                    # smtpd-child, enqueue-child, rspawn-child (an SMTP
                    # client, forked: it keeps rspawn's name)
                    name = p.comm + "-child"
                if p.comm == "master":
                    name = "master-child(pre-exec)"
                if p.pid not in tree:
                    name += "(orphan)"
                try:
                    os.kill(p.pid, signal.SIGKILL)
                    kills[name] = kills.get(name, 0) + 1
                except ProcessLookupError:
                    pass
            # the next tick KILL_PERIOD after this one began, whatever the
            # scan of /proc cost
            delay = start + ticks[0] * KILL_PERIOD - time.monotonic()
            if delay > 0:
                stop_killing.wait(delay)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(SESSIONS)]
    kt = threading.Thread(target=killer)
    kt.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    stop_killing.set()
    kt.join(30)
    flow = time.monotonic() - start
    assert len(outcome) == N, (len(outcome), N)
    assert inst.master_pid(), "master died:\n" + inst.log()[-3000:]
    wait_for(lambda: all(inst.child(p) for p in ("qmgr", "lspawn", "resolve", "rspawn")), 30,
             "qmgr, lspawn, resolve and rspawn restarted")

    accepted = {t for t, r in outcome.items() if r == "accepted"}
    refused = {t for t, r in outcome.items() if r == "refused"}
    lost_pre = {t for t, r in outcome.items() if r == "lost-pre"}
    unknown = {t for t, r in outcome.items() if r == "unknown"}

    def missing():
        local, remote = all_tags(run)
        return sorted(accepted - set(local) - set(remote))
    try:
        wait_for(lambda: not missing(), 180, "every accepted message delivered", interval=0.2)
    except AssertionError as e:
        m = missing()
        raise AssertionError("%s: %d missing (%d remote: %s); spool: %s" %
                             (e, len(m), len([t for t in m if remote_tag(t)]), m[:10],
                              sorted(inst.spool_files())[:20])) from None
    wait_for(queue_quiet, 120, "a quiet queue (left: %s)" % inst.spool_files(), interval=0.2)
    local, remote = all_tags(run)
    delivered = set(local) | set(remote)
    dups_local = sum(n - 1 for n in local.values())
    dups_remote = sum(n - 1 for n in remote.values())

    # a clean restart: postern stop, postern run again
    inst.postern("stop")
    wait_for(lambda: inst.master.poll() is not None, 30, "master to exit after postern stop")
    leftover_before = inst.spool_files()
    inst.master = None
    inst.start()
    wait_for(lambda: not inst.spool_files(), 30,
             "an empty spool after the restart (left: %s)" % inst.spool_files())
    md_tmp = sum(len(os.listdir(os.path.join(d, "tmp")))
                 for d in (os.path.join(alice.pw_dir, "Maildir"), inst.virtual_maildir("demo/Maildir"))
                 if os.path.isdir(os.path.join(d, "tmp")))

    print("   torture: %d messages, %d sessions, kills every %.0f ms for %.0f s (flow %.1f s)" %
          (N, SESSIONS, KILL_PERIOD * 1000, KILL_SECONDS, flow))
    print("   torture: accepted %d, refused %d, broken before the dot %d, "
          "broken after the dot %d (of which delivered %d)" %
          (len(accepted), len(refused), len(lost_pre), len(unknown), len(unknown & delivered)))
    print("   torture: delivered %d distinct (local %d, remote %d), duplicates %d "
          "(local %d, remote %d)" %
          (len(delivered), len(local), len(remote), dups_local + dups_remote,
           dups_local, dups_remote))
    print("   torture: spool files before restart %d (tmp/ orphans of killed enqueues), "
          "after 0; Maildir tmp/ leftovers %d" % (len(leftover_before), md_tmp))
    print("   torture: sink: %d sessions, %d messages received, %d cut before the dot" %
          (sink.sessions, sink.messages, sink.aborted))
    print("   torture: kills %s (total %d)" %
          (", ".join("%s %d" % kv for kv in sorted(kills.items())), sum(kills.values())))
    misrouted = sorted([t for t in local if remote_tag(t)] + [t for t in remote if not remote_tag(t)])
    assert not misrouted, "delivered to the wrong side: %s" % misrouted[:10]
    assert not (delivered & refused), "refused yet delivered: %s" % sorted(delivered & refused)[:10]
    assert not (delivered & lost_pre), \
        "delivered though the dot never went out: %s" % sorted(delivered & lost_pre)[:10]
    assert delivered <= accepted | unknown, sorted(delivered - accepted - unknown)[:10]
    # the flow may end before KILL_SECONDS (faster sessions), and while
    # qmgr, lspawn and sessiond are all in their restart backoff master can
    # be alone for a moment: judge the ticks that ran, and require that both
    # the long-running processes and the sessions were really killed
    longrun = sum(n for k, n in kills.items() if k in LONGRUN)
    session = sum(n for k, n in kills.items() if k.startswith(("smtpd", "enqueue")))
    assert ticks[0] >= 5 and sum(kills.values()) >= ticks[0] / 4, (ticks[0], kills)
    assert longrun >= 1 and session >= 1, kills
    if FULL:
        # some 150 kills at random: the remote path's share (resolve,
        # rspawn, its clients) is far too large to miss them all
        assert sum(n for k, n in kills.items() if k.startswith(("resolve", "rspawn"))) >= 1, kills
    assert set(remote) & accepted, "no accepted message reached the sink"
    assert len(accepted) >= N // 4, "too little got through to mean anything: %d" % len(accepted)
