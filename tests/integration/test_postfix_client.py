"""Postfix as a real client (issue 3, item 7): a private Postfix instance,
configured to relay everything to Postern on loopback, hands over 100
messages with STARTTLS (required: smtp_tls_security_level = encrypt, the
certificate checked against Postern's own) and PIPELINING (Postfix's
default whenever the server offers it), and every one arrives exactly once.

Postfix is installed by "make deps-test" (conf/deps.sh preseeds "No
configuration", so the package runs no system instance). Here it runs from
a config_directory of its own in a temp dir, with its own queue, data
directory and log file (postlogd), listening only on a free loopback port
for the injection; "postfix -c DIR stop" in teardown. Nothing of it touches
/etc/postfix or port 25. Skipped (as a failure, so nobody mistakes it for
a pass) when Postfix is not installed.
"""
import os
import re
import shutil
import smtplib
import subprocess
import tempfile

from harness import Instance, free_port, maildir_messages, wait_for

N = 100
POSTFIX = "/usr/sbin/postfix"
inst = None
pf = None


class PrivatePostfix:
    """A Postfix instance in a directory of its own."""

    def __init__(self, relay_port, cafile, overrides=None, extra_services=()):
        """overrides: main.cf settings on top of these; extra_services:
        more master.cf lines (the benchmark adds local delivery)."""
        self.dir = tempfile.mkdtemp(prefix="postern-postfix-", dir="/tmp")
        # Postfix's daemons run as "postfix": they must reach the queue.
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "postfix.log")
        self.port = free_port()
        for d in (self.conf, self.queue, self.data):
            os.makedirs(d)
        shutil.chown(self.data, "postfix", "postfix")
        # A CA file the postfix user can read (Postern's etc/ may not be).
        ca = os.path.join(self.conf, "postern-ca.pem")
        shutil.copy(cafile, ca)
        os.chmod(ca, 0o644)
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "maillog_file": self.logfile,
            "maillog_file_prefixes": self.dir,     # default: /var, /dev/stdout
            "myhostname": "postfix.test",
            "mydomain": "test",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "relayhost": "[127.0.0.1]:%d" % relay_port,
            # Postern's certificate, trusted by its CA file; "encrypt"
            # means no plaintext fallback: a message Postfix could not
            # send over TLS would stay in its queue and fail the test.
            "smtp_tls_security_level": "encrypt",
            "smtp_tls_CAfile": ca,
            "smtp_tls_loglevel": "1",
            # Reuse TLS connections (through tlsproxy): several messages
            # per session, pipelined, and no handshake per message.
            "smtp_tls_connection_reuse": "yes",
            "smtp_helo_name": "postfix.test",
            "alias_maps": "", "alias_database": "",
            "local_transport": "error:no local delivery here",
            "biff": "no",
            # Retry fast should Postern say 4xx once; the test waits.
            "minimal_backoff_time": "2s", "maximal_backoff_time": "4s",
            "queue_run_delay": "2s",
        }
        main.update(overrides or {})
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        # Only the services this needs; no chroot (the "n" in column 5), so
        # no copies of /etc files into the queue directory.
        services = [
            ("127.0.0.1:%d" % self.port, "inet", "n", "-", "n", "-", "-", "smtpd"),
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
            ("anvil", "unix", "-", "-", "n", "-", "1", "anvil"),
            ("scache", "unix", "-", "-", "n", "-", "1", "scache"),
            ("tlsproxy", "unix", "-", "-", "n", "-", "0", "tlsproxy"),
            ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
        ] + list(extra_services)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            for s in services:
                f.write(" ".join(s) + "\n")

    def run(self, *args):
        return subprocess.run([POSTFIX, "-c", self.conf] + list(args), timeout=60,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def start(self):
        r = self.run("start")
        if r.returncode != 0:
            raise AssertionError("postfix start failed:\n%s\n%s" % (r.stdout.decode(), self.log()))
        wait_for(self.listening, 20, "postfix to listen on %d" % self.port)

    def listening(self):
        try:
            smtplib.SMTP("127.0.0.1", self.port, timeout=5).quit()
            return True
        except OSError:
            return False

    def stop(self):
        self.run("stop")

    def cleanup(self):
        self.stop()
        if not os.environ.get("POSTERN_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def setup_module():
    global inst, pf
    if not os.path.exists(POSTFIX):
        raise AssertionError("postfix is not installed (make deps-test installs it)")
    inst = Instance("postfix-client").enable_tls(submission=False, smtps=False).start()
    pf = PrivatePostfix(inst.port, inst.cert)
    pf.start()


def teardown_module():
    if pf:
        pf.cleanup()
    if inst:
        inst.cleanup()


def failure_log():
    return "--- postern:\n%s\n--- postfix:\n%s" % (inst.log()[-3000:], pf.log()[-5000:] if pf else "")


def subjects(maildir):
    out = []
    for m in maildir_messages(maildir):
        s = re.search(rb"^Subject: (.*)$", m, re.M)
        out.append(s.group(1).decode() if s else None)
    return out


def test_hundred_messages_over_starttls_and_pipelining():
    demo = inst.virtual_maildir("demo/Maildir")
    want = ["pf-%03d" % i for i in range(N)]
    # All 100 in one SMTP session to Postfix: Postfix queues each and
    # hands them on to Postern over as few (cached) connections as it likes.
    with smtplib.SMTP("127.0.0.1", pf.port, local_hostname="injector.test", timeout=60) as s:
        for subj in want:
            msg = ("From: <inject@postfix.test>\r\nTo: <demo@localhost>\r\n"
                   "Subject: %s\r\n\r\nbody of %s\r\n" % (subj, subj))
            s.sendmail("inject@postfix.test", ["demo@localhost"], msg)
    wait_for(lambda: len(maildir_messages(demo)) >= N, 45,
             "%d messages in Postern's Maildir (have %d)" % (N, len(maildir_messages(demo))),
             interval=0.2)
    got = subjects(demo)
    # Each exactly once: nothing lost, nothing twice.
    assert sorted(got) == want, sorted(set(want) ^ set(got))
    for m in maildir_messages(demo):
        # Postern's Received: line names Postfix as the client, over TLS.
        assert b"Received: from postfix.test" in m, m[:400]


def test_postfix_log_shows_tls_and_sent():
    wait_for(lambda: pf.log().count("status=sent") >= N, 20, "postfix to log every status=sent")
    log = pf.log()
    sent = [l for l in log.splitlines() if "status=sent" in l]
    assert len(sent) == N, len(sent)
    relay = "relay=127.0.0.1[127.0.0.1]:%d" % inst.port
    assert all(relay in l for l in sent), [l for l in sent if relay not in l][:3]
    assert re.search(r"(Trusted|Verified)? ?TLS connection established to "
                     r"127\.0\.0\.1\[127\.0\.0\.1\]:%d" % inst.port, log), log[-3000:]
    # encrypt: never a message in the clear, never a deferral for TLS.
    assert "status=deferred" not in log, [l for l in log.splitlines() if "deferred" in l][:3]


def test_postern_log_shows_tls_for_postfix_sessions():
    log = inst.log()
    assert "TLS established" in log, log[-3000:]
    # Every Postern session that took a message from Postfix had gone
    # through STARTTLS first (one smtpd process per session).
    tls = set(re.findall(r"smtpd\[(\d+)\]: TLS established", log))
    mail = set(re.findall(r"smtpd\[(\d+)\]: [0-9A-F]+: client=", log))
    assert len(mail) >= 1 and mail <= tls, (sorted(mail - tls)[:5], log[-3000:])


def test_postern_offers_what_postfix_used():
    # Postfix pipelines whenever the server offers PIPELINING (its
    # default); it must have been offered, with STARTTLS, in the clear.
    with inst.smtp() as s:
        s.ehlo("postfix.test")
        assert s.has_extn("pipelining") and s.has_extn("starttls"), s.esmtp_features
