"""Postern and Dovecot, a real IMAP and LMTP server (Debian's dovecot-core,
dovecot-imapd, dovecot-lmtpd), run privately by this module: its own
base_dir, loopback ports, a passwd-file for IMAP logins, system users as the
userdb. No system Dovecot is needed or touched.

1. Postern's built-in Maildir writer delivers; Dovecot's IMAP (imaplib)
   finds the message and FETCH gives back exactly its bytes: our Maildir is
   one a real IMAP server reads.
2. local_agent = lmtp hands the message to Dovecot's LMTP (Unix socket);
   imaplib finds it, and Dovecot's "Saved" reply is what Postern logged.
3. An LMTP server's 4xx defers (its text in Postern's log), its 5xx
   bounces (status=bounced, its text); Dovecot's own 5xx for a user it
   does not know bounces too.
4. Dovecot stopped (inet: destination): deferred; Dovecot back: delivered.
"""
import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import threading

from harness import Instance, ensure_user, free_port, maildir_messages, wait_for

PASSWORD = "pt-imap-secret"
# Messages are found by this, not counted: a mailbox may hold older ones.
TOKEN = os.urandom(6).hex().encode()
CAROL = "pt-carol"      # built-in Maildir writer, read over IMAP
DAN = "pt-dan"          # delivered by Dovecot's LMTP

DOVECOT_CONF = """\
# A private Dovecot for tests/integration/test_dovecot.py: loopback only.
instance_name = postern-test-{imap_port}
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
listen = 127.0.0.1
protocols = imap lmtp
ssl = no
# Loopback test only: plain LOGIN without TLS.
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
# RCPT TO:<pt-dan@localhost> is the system user pt-dan.
auth_username_format = %Ln
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {dir}/passwd
}}
userdb {{
  driver = passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
"""


class Dovecot:
    """dovecot -F -c CONFIG, in the foreground so that we own its pid."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="postern-dovecot-", dir="/tmp")
        os.chmod(self.dir, 0o755)      # the recipient (lmtp) reaches run/lmtp
        self.imap_port = free_port()
        self.lmtp_port = free_port()
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(dir=self.dir, imap_port=self.imap_port,
                                        lmtp_port=self.lmtp_port))
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for u in (CAROL, DAN):
                f.write("%s:{PLAIN}%s\n" % (u, PASSWORD))
        self.proc = None

    @property
    def lmtp_socket(self):
        return os.path.join(self.dir, "run", "lmtp")

    def start(self):
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(lambda: self._up(self.imap_port) and self._up(self.lmtp_port)
                 and os.path.exists(self.lmtp_socket), 20, "dovecot to listen")
        return self

    def _up(self, port):
        if self.proc.poll() is not None:
            raise AssertionError("dovecot exited (%s):\n%s" % (self.proc.returncode, self.log()))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        if not os.environ.get("POSTERN_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def imap_messages(self, user):
        """Every message of user's INBOX, as IMAP FETCH returns it."""
        m = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=20)
        try:
            m.login(user, PASSWORD)
            typ, data = m.select("INBOX", readonly=True)
            assert typ == "OK", data
            out = []
            for n in range(1, int(data[0]) + 1):
                typ, msg = m.fetch(str(n), "(BODY.PEEK[])")
                assert typ == "OK", msg
                out.append(msg[0][1])
            m.logout()
            return out
        finally:
            try:
                m.shutdown()
            except OSError:
                pass


class LmtpStub:
    """An LMTP server that answers the end of DATA with self.final."""

    def __init__(self, final):
        self.final = final
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.sessions = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                try:
                    self._session(c.makefile("rwb", buffering=0))
                except OSError:
                    pass
            self.sessions += 1

    def _session(self, f):
        f.write(b"220 stub LMTP\r\n")
        data = False
        for line in f:
            if data:
                if line == b".\r\n":
                    data = False
                    f.write(self.final.encode() + b"\r\n")
                continue
            verb = line[:4].upper()
            if verb == b"LHLO":
                f.write(b"250-stub\r\n250 PIPELINING\r\n")
            elif verb == b"DATA":
                data = True
                f.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                f.write(b"221 bye\r\n")
                return
            else:
                f.write(b"250 2.0.0 ok\r\n")

    def close(self):
        self.sock.close()


dovecot = None
carol = dan = None
insts = []


def setup_module():
    global dovecot, carol, dan
    carol = ensure_user(CAROL)
    dan = ensure_user(DAN)
    for u in (carol, dan):
        shutil.rmtree(os.path.join(u.pw_dir, "Maildir"), ignore_errors=True)
    dovecot = Dovecot().start()


def teardown_module():
    errors = []
    for i in insts:
        try:
            i.cleanup()
        except AssertionError as e:
            errors.append(str(e))
    if dovecot:
        dovecot.cleanup()
    assert not errors, errors


def failure_log():
    return "\n".join(i.log() for i in insts) + "\n-- dovecot:\n" + (dovecot.log() if dovecot else "")


def instance(name, lmtp=None):
    """A started instance; with lmtp, its local_agent is lmtp(8) and its
    lmtp_destination that."""
    inst = Instance(name)
    insts.append(inst)
    if lmtp:
        inst.conf["local_agent"] = os.path.join(inst.libexec, "lmtp")
        inst.conf["lmtp_destination"] = lmtp
        inst.write_conf()
    return inst.start()


def crlf(b):
    return b.replace(b"\n", b"\r\n")


def test_imap_reads_postern_maildir():
    inst = instance("dovecot-maildir")
    body = b"Subject: read me over IMAP " + TOKEN + b"\r\nFrom: a@client.test\r\n\r\n.dot line\r\nend\r\n"
    inst.send("a@client.test", ["%s@localhost" % CAROL], body)
    got = wait_for(lambda: [m for m in maildir_messages(os.path.join(carol.pw_dir, "Maildir"))
                            if TOKEN in m], 30, "the message in pt-carol's Maildir")[0]
    inst.wait_spool_empty()
    assert got.startswith(b"Return-Path: <a@client.test>\nDelivered-To: <pt-carol@localhost>\n"
                          b"Received: from client.test"), got[:200]
    msgs = wait_for(lambda: [m for m in dovecot.imap_messages(CAROL) if TOKEN in m], 10,
                    "the message in IMAP")
    assert len(msgs) == 1, msgs
    # IMAP speaks CRLF (RFC 3501 2.2); the bytes are otherwise ours, exactly.
    assert msgs[0] == crlf(got), (msgs[0][:300], got[:300])


def test_lmtp_agent_delivers_to_dovecot():
    inst = instance("dovecot-lmtp", lmtp="unix:" + dovecot.lmtp_socket)
    body = b"Subject: through LMTP " + TOKEN + b"\r\n\r\n.leading dot\r\nline two\r\n"
    inst.send("a@client.test", ["%s@localhost" % DAN], body)
    inst.wait_spool_empty()
    msgs = wait_for(lambda: [m for m in dovecot.imap_messages(DAN) if TOKEN in m], 10,
                    "the LMTP message in IMAP")
    assert len(msgs) == 1, msgs
    m = msgs[0]
    # Dovecot adds its own Return-Path and Delivered-To; ours follow.
    assert b"Received: from client.test" in m, m[:400]
    assert m.endswith(b"Subject: through LMTP " + TOKEN + b"\r\n\r\n.leading dot\r\nline two\r\n"), m[-200:]
    # qmgr logs the outcome after the removal that empties the spool
    log = wait_for(lambda: (lambda l: "status=sent" in l and "Saved" in l and l)(inst.log()), 10,
                   "the delivery's log lines")
    # Not the built-in writer: Dovecot made the Maildir (its index files).
    assert any(n.startswith("dovecot") for n in os.listdir(os.path.join(dan.pw_dir, "Maildir")))


def test_lmtp_4xx_defers_5xx_bounces():
    stub = LmtpStub("451 4.2.0 <x> stub says mailbox busy")
    try:
        inst = instance("dovecot-stub", lmtp="inet:127.0.0.1:%d" % stub.port)
        inst.send("a@client.test", ["demo@localhost"], b"Subject: stub\r\n\r\nhi\r\n")
        wait_for(lambda: "status=deferred" in inst.log() and "stub says mailbox busy" in inst.log(),
                 30, "a deferral with the stub's text")
        assert inst.spool_files(), "a deferred message stays queued"
        stub.final = "554 5.7.1 <x> stub refuses this message"
        wait_for(lambda: "status=bounced" in inst.log(), 30, "the bounce")
        assert "stub refuses this message" in inst.log()
    finally:
        stub.close()


def test_lmtp_dovecot_unknown_user_bounces():
    inst = instance("dovecot-unknown", lmtp="unix:" + dovecot.lmtp_socket)
    # demo@localhost is Postern's virtual mailbox; Dovecot has no "demo".
    inst.send("a@client.test", ["demo@localhost"], b"Subject: nobody\r\n\r\nhi\r\n")
    wait_for(lambda: "status=bounced" in inst.log(), 30, "the bounce")
    assert "5.1.1" in inst.log() and "in reply to RCPT TO" in inst.log(), inst.log()[-2000:]


def test_dovecot_down_defers_then_delivers():
    dovecot.stop()
    try:
        inst = instance("dovecot-down", lmtp="inet:127.0.0.1:%d" % dovecot.lmtp_port)
        inst.send("a@client.test", ["%s@localhost" % DAN],
                  b"Subject: while down " + TOKEN + b"\r\n\r\nwait\r\n")
        wait_for(lambda: "status=deferred" in inst.log() and "cannot connect to inet:" in inst.log(),
                 30, "a deferral while Dovecot is down")
        assert inst.spool_files()
    finally:
        dovecot.start()
    inst.wait_spool_empty(30)
    msgs = wait_for(lambda: [m for m in dovecot.imap_messages(DAN)
                             if b"Subject: while down " + TOKEN in m],
                    10, "the deferred message in IMAP")
    assert len(msgs) == 1, "delivered once, not twice"
