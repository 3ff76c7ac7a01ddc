"""SMTP in, Maildir out: the exact bytes, for a virtual mailbox and a system
user, through smtplib, swaks and raw sockets (issue 2, test a)."""
import os
import re
import shutil
import subprocess

from harness import Instance, ensure_user, maildir_messages, wait_for

inst = None
alice = None
RECEIVED = re.compile(
    rb"^Received: from client\.test \(\[127\.0\.0\.1\]\)\n"
    rb"\tby mx\.test \(Postern\) with (E?SMTP) id ([0-9A-F]{15,40})"
    rb"(\n\tfor <([^>]+)>; |; )"
    rb"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [ 0-9]\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    rb"\d{4} \d\d:\d\d:\d\d [+-]\d{4}\n")


def setup_module():
    global inst, alice
    alice = ensure_user("pt-alice")
    shutil.rmtree(os.path.join(alice.pw_dir, "Maildir"), ignore_errors=True)
    inst = Instance("delivery").start()


def teardown_module():
    inst.cleanup()


def failure_log():
    return inst.log()


def demo():
    return inst.virtual_maildir("demo/Maildir")


def alice_md():
    return os.path.join(alice.pw_dir, "Maildir")


def split_stored(stored, sender, rcpt):
    """Check the three lines Postern adds and return (received match, message)."""
    head = b"Return-Path: <%s>\nDelivered-To: <%s>\n" % (sender.encode(), rcpt.encode())
    assert stored.startswith(head), stored[:200]
    m = RECEIVED.match(stored[len(head):])
    assert m, stored[len(head):len(head) + 300]
    return m, stored[len(head) + m.end():]


def deliver_one(maildir, send):
    before = len(maildir_messages(maildir))
    send()
    return inst.wait_messages(maildir, before + 1)[before]


def test_virtual_exact_bytes_and_dot_stuffing():
    body = (b"Subject: dots\r\nFrom: <s@client.test>\r\n\r\n"
            b"line one\r\n.leading dot\r\n..two dots\r\n.\r\nafter a lone dot\r\n"
            b" . \r\n.\r\n..\r\nlast line\r\n")
    stored = deliver_one(demo(), lambda: inst.send("s@client.test", ["demo@localhost"], body))
    m, msg = split_stored(stored, "s@client.test", "demo@localhost")
    assert m.group(1) == b"ESMTP"
    assert m.group(4) == b"demo@localhost"      # one recipient: a for clause
    assert msg == body.replace(b"\r\n", b"\n"), msg


def test_eight_bit_body_exact():
    body = ("Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln, 日本語\r\n").encode()
    body += b"latin-1 bytes: \xe9\xe8\xff\r\n"
    stored = deliver_one(demo(), lambda: inst.send("s@client.test", ["demo@localhost"], body,
                                                   mail_options=["BODY=8BITMIME"]))
    _, msg = split_stored(stored, "s@client.test", "demo@localhost")
    assert msg == body.replace(b"\r\n", b"\n")


def test_ten_megabyte_message():
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-\r\n"
    body = b"Subject: big\r\n\r\n" + line * (10 * 1024 * 1024 // len(line) + 1)
    assert len(body) > 10 * 1024 * 1024
    stored = deliver_one(demo(), lambda: inst.send("big@client.test", ["demo@localhost"], body))
    _, msg = split_stored(stored, "big@client.test", "demo@localhost")
    assert len(msg) == len(body.replace(b"\r\n", b"\n"))
    assert msg == body.replace(b"\r\n", b"\n")


def test_system_user_through_swaks():
    def send():
        r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % inst.port, "--helo", "client.test",
                            "--from", "sw@client.test", "--to", "pt-alice@localhost",
                            "--header", "Subject: from swaks", "--body", "hello from swaks"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        assert r.returncode == 0, r.stdout.decode()
    stored = deliver_one(alice_md(), send)
    _, msg = split_stored(stored, "sw@client.test", "pt-alice@localhost")
    assert b"Subject: from swaks\n" in msg
    assert b"\n\nhello from swaks\n" in msg      # swaks ends it with a blank line
    assert b"\r" not in msg
    new = os.path.join(alice_md(), "new")
    for n in os.listdir(new):
        st = os.stat(os.path.join(new, n))
        assert (st.st_uid, st.st_gid) == (alice.pw_uid, alice.pw_gid), n
        assert st.st_mode & 0o077 == 0
    assert os.listdir(os.path.join(alice_md(), "tmp")) == []
    st = os.stat(alice_md())
    assert st.st_uid == alice.pw_uid


def test_received_for_clause_only_with_one_recipient():
    n_demo, n_alice = len(maildir_messages(demo())), len(maildir_messages(alice_md()))
    inst.send("two@client.test", ["demo@localhost", "pt-alice@localhost"], b"Subject: two\r\n\r\nx\r\n")
    d = inst.wait_messages(demo(), n_demo + 1)[n_demo]
    a = inst.wait_messages(alice_md(), n_alice + 1)[n_alice]
    for stored, rcpt in ((d, "demo@localhost"), (a, "pt-alice@localhost")):
        m, msg = split_stored(stored, "two@client.test", rcpt)
        assert m.group(4) is None, m.group(0)   # never reveal the recipient list
        assert b"pt-alice" not in m.group(0) and b"demo@" not in m.group(0)
    assert split_stored(d, "two@client.test", "demo@localhost")[0].group(2) == \
        split_stored(a, "two@client.test", "pt-alice@localhost")[0].group(2)


def test_null_sender_and_source_route():
    r = inst.raw()
    assert r.cmd("EHLO client.test")[0] == 250
    assert r.cmd("MAIL FROM:<>")[0] == 250
    code, lines = r.cmd("RCPT TO:<@relay.one,@relay.two:demo@localhost>")
    assert code == 250, lines
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: bounce-like\r\n\r\nroute ignored\r\n.\r\n")
    code, lines = r.reply()
    assert code == 250 and "queued as" in lines[0], lines
    r.cmd("QUIT")
    hit = wait_for(lambda: [s for s in maildir_messages(demo()) if b"route ignored" in s],
                   30, "the source-routed message")
    assert hit[0].startswith(b"Return-Path: <>\nDelivered-To: <demo@localhost>\n")
    assert b"relay.one" not in hit[0]             # RCPT arguments never reach headers
    assert b"Apparently-To" not in hit[0]          # RFC 2821 7.2


def test_recipient_checked_at_rcpt():
    inst.wait_spool_empty()
    r = inst.raw()
    r.cmd("EHLO client.test")
    assert r.cmd("MAIL FROM:<s@client.test>")[0] == 250
    code, lines = r.cmd("RCPT TO:<nosuchuser@localhost>")
    assert code == 550 and " 5.1.1 " in lines[0], lines
    code, lines = r.cmd("RCPT TO:<nobody-here@virt.test>")
    assert code == 550 and " 5.1.1 " in lines[0], lines
    code, lines = r.cmd("RCPT TO:<someone@example.org>")
    assert code == 550 and " 5.7.1 " in lines[0], lines
    code, lines = r.cmd("RCPT TO:<root@localhost>")      # never delivered as uid 0
    assert code == 550, lines
    code, lines = r.cmd("DATA")
    assert code == 554, lines
    assert r.cmd("QUIT")[0] == 221
    assert inst.spool_files() == []               # nothing was queued


def test_conversation_rules():
    r = inst.raw()
    code, lines = r.cmd("MAIL FROM:<s@client.test>")
    assert code == 503, lines                       # no EHLO yet
    code, lines = r.cmd("EHLO client.test")
    assert code == 250
    ext = [l[4:].split()[0] for l in lines[1:]]
    for e in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES"):
        assert e in ext, lines
    for e in ("TURN", "SEND", "SAML", "SOML", "EXPN", "VRFY"):
        assert e not in ext
    assert r.cmd("RCPT TO:<demo@localhost>")[0] == 503
    assert r.cmd("FOO bar")[0] == 500
    assert r.cmd("MAIL FROM:demo@localhost")[0] == 501
    assert r.cmd("MAIL FROM:<a@b;c>")[0] == 501
    assert r.cmd("MAIL FROM:<;sleep 66;>")[0] == 501
    code, lines = r.cmd("VRFY demo")
    assert code == 252 and lines[0].startswith("252 2."), lines
    assert r.cmd("EXPN staff")[0] == 502
    for verb in ("TURN", "SEND FROM:<a@b.c>", "SAML FROM:<a@b.c>", "SOML FROM:<a@b.c>"):
        assert r.cmd(verb)[0] == 502, verb
    assert r.cmd("HELP")[0] == 214
    assert r.cmd("NOOP")[0] == 250
    assert r.cmd("RSET")[0] == 250
    assert r.cmd("HELO client.test")[0] == 250
    code, lines = r.cmd("MAIL FROM:<s@client.test> SIZE=999999999999")
    assert code in (552, 555), lines
    assert r.cmd("X" * 600)[0] == 500             # command line past 512
    assert r.cmd("NOOP")[0] == 250                # and the session goes on
    assert r.cmd("QUIT")[0] == 221
    assert r.closed()


def test_pipelined_transaction():
    r = inst.raw()
    r.cmd("EHLO client.test")
    r.send("MAIL FROM:<p@client.test>\r\nRCPT TO:<demo@localhost>\r\nRCPT TO:<nope@localhost>\r\n"
           "RCPT TO:<pt-alice@localhost>\r\nDATA\r\n")
    codes = [r.reply()[0] for _ in range(5)]
    assert codes == [250, 250, 550, 250, 354], codes
    r.send("Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    assert r.reply()[0] == 250
    assert r.reply()[0] == 221


def test_smuggling_bare_lf_refused():
    before = len(maildir_messages(demo()))
    r = inst.raw()
    r.cmd("EHLO client.test")
    r.cmd("MAIL FROM:<smuggle@client.test>")
    r.cmd("RCPT TO:<demo@localhost>")
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: smuggle\r\n\r\nfirst\n.\nMAIL FROM:<evil@client.test>\r\n"
           "still data\r\n\r.\r\nalso data\r\n.\r\n")
    code, lines = r.reply()
    assert code == 550 and "5.5.2" in lines[0], lines
    # the session is still in order: one more, clean message goes through
    assert r.cmd("MAIL FROM:<clean@client.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@localhost>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: clean\r\n\r\nclean\r\n.\r\n")
    assert r.reply()[0] == 250
    r.cmd("QUIT")
    msgs = inst.wait_messages(demo(), before + 1)
    inst.wait_spool_empty()
    msgs = maildir_messages(demo())
    assert not [m for m in msgs if b"smuggle" in m or b"evil" in m]
    assert [m for m in msgs if b"Subject: clean" in m]
