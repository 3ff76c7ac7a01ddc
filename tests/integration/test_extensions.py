"""SMTPUTF8 (RFC 6531), CHUNKING/BDAT (RFC 3030), DSN (RFC 3461) and
smtpd_bare_newline = normalize (issue 3, items 1 and 6): raw conversations
and smtplib against a real instance, the exact bytes in the Maildir, and the
DSN values in the queue file."""
import os
import smtplib
import struct

from harness import Instance, maildir_messages, wait_for

inst = None
norm = None
SIZE_LIMIT = 200000


def setup_module():
    global inst
    inst = Instance("extensions", conf={"message_size_limit": str(SIZE_LIMIT)})
    inst.tables["virtual"]["jörg@virt.test"] = "virt.test/joerg/Maildir/"
    inst.write_table("virtual")
    inst.start()


def teardown_module():
    inst.cleanup()
    if norm is not None:
        norm.cleanup()


def failure_log():
    return inst.log() + (norm.log() if norm is not None else "")


def demo(i=None):
    return (i or inst).virtual_maildir("demo/Maildir")


def body_of(stored):
    """The message as the client sent it: without Return-Path:,
    Delivered-To: and our Received: line (and its continuation lines)."""
    lines = stored.split(b"\n")
    assert lines[0].startswith(b"Return-Path: ") and lines[1].startswith(b"Delivered-To: "), stored[:200]
    assert lines[2].startswith(b"Received: "), stored[:300]
    i = 3
    while lines[i].startswith(b"\t"):
        i += 1
    return b"\n".join(lines[i:])


def transaction(r, sender="s@client.test", rcpt="demo@localhost"):
    assert r.cmd("EHLO client.test")[0] == 250
    assert r.cmd("MAIL FROM:<%s>" % sender)[0] == 250
    assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250


def delivered(maildir, before, marker, i=None):
    msgs = (i or inst).wait_messages(maildir, before + 1)
    hit = [m for m in msgs if marker in m]
    assert hit, msgs[-1][:300]
    return hit[-1]


def test_ehlo_lists_extensions():
    r = inst.raw()
    code, lines = r.cmd("EHLO client.test")
    assert code == 250
    ext = [l[4:].split()[0] for l in lines[1:]]
    for e in ("SMTPUTF8", "CHUNKING", "DSN", "PIPELINING", "8BITMIME"):
        assert e in ext, lines
    r.cmd("QUIT")


def test_utf8_recipient_with_smtputf8():
    md = inst.virtual_maildir("virt.test/joerg/Maildir")
    before = len(maildir_messages(md))
    msg = "Subject: utf8-one\r\nFrom: jörg@client.test\r\n\r\nGrüße\r\n".encode()
    with inst.smtp() as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        s.sendmail("jörg@client.test", ["jörg@virt.test"], msg, mail_options=["SMTPUTF8"])
    stored = delivered(md, before, b"utf8-one")
    assert stored.startswith("Return-Path: <jörg@client.test>\nDelivered-To: <jörg@virt.test>\n".encode())
    assert b" with UTF8SMTP id " in stored, stored[:300]
    assert body_of(stored) == msg.replace(b"\r\n", b"\n")


def test_utf8_refused_without_smtputf8():
    r = inst.raw()
    assert r.cmd("EHLO client.test")[0] == 250
    code, lines = r.cmd("MAIL FROM:<jörg@client.test>")
    assert code == 553 and "5.6.7" in lines[0], lines
    assert r.cmd("MAIL FROM:<s@client.test>")[0] == 250
    code, lines = r.cmd("RCPT TO:<jörg@virt.test>")
    assert code == 553 and lines[0].startswith("553 5.6.7 "), lines
    # the same RCPT in a transaction with SMTPUTF8 is taken
    assert r.cmd("RSET")[0] == 250
    assert r.cmd("MAIL FROM:<s@client.test> SMTPUTF8")[0] == 250
    assert r.cmd("RCPT TO:<jörg@virt.test>")[0] == 250
    code, lines = r.cmd("MAIL FROM:<s@client.test> SMTPUTF8 SMTPUTF8")
    assert code == 503, lines                   # nested; RSET first
    assert r.cmd("RSET")[0] == 250
    code, lines = r.cmd("MAIL FROM:<s@client.test> SMTPUTF8 SMTPUTF8")
    assert code == 501 and "5.5.4" in lines[0], lines
    r.cmd("QUIT")


def test_bdat_single_chunk_exact_bytes():
    before = len(maildir_messages(demo()))
    msg = b"Subject: bdat-one\r\n\r\n.leading dot stays\r\n..two\r\n.\r\nlast\r\n"
    r = inst.raw()
    transaction(r)
    r.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
    code, lines = r.reply()
    assert code == 250 and "queued as" in lines[0], lines
    assert r.cmd("QUIT")[0] == 221
    stored = delivered(demo(), before, b"bdat-one")
    assert body_of(stored) == msg.replace(b"\r\n", b"\n")


def test_bdat_several_chunks():
    before = len(maildir_messages(demo()))
    parts = [b"Subject: bdat-three\r\n\r\nline one\r", b"\nline two\r\n",
             b"\n.\nline four\r\n"]
    r = inst.raw()
    transaction(r)
    for p in parts:
        r.send(b"BDAT %d\r\n" % len(p) + p)
        code, lines = r.reply()
        assert code == 250 and lines[0] == "250 2.0.0 %d octets received" % len(p), lines
    # DATA after BDAT in the same transaction
    code, lines = r.cmd("DATA")
    assert code == 503 and "5.5.1" in lines[0], lines
    code, lines = r.cmd("BDAT 0 LAST")
    assert code == 250 and "queued as" in lines[0], lines
    r.cmd("QUIT")
    stored = delivered(demo(), before, b"bdat-three")
    # CRLF split across chunks is one line end; a bare LF is a line end
    assert body_of(stored) == b"Subject: bdat-three\n\nline one\nline two\n\n.\nline four\n"


def test_bdat_zero_last_empty_message():
    before = len(maildir_messages(demo()))
    r = inst.raw()
    transaction(r, sender="empty@client.test")
    code, lines = r.cmd("BDAT 0 LAST")
    assert code == 250 and "queued as" in lines[0], lines
    r.cmd("QUIT")
    stored = delivered(demo(), before, b"Return-Path: <empty@client.test>")
    assert body_of(stored) == b""


def test_bdat_without_transaction_is_discarded():
    r = inst.raw()
    assert r.cmd("EHLO client.test")[0] == 250
    assert r.cmd("MAIL FROM:<bad syntax>")[0] == 501
    junk = b"RSET\r\nMAIL FROM:<evil@client.test>\r\nQUIT\r\n"
    r.send(b"BDAT %d LAST\r\n" % len(junk) + junk)
    code, lines = r.reply()
    assert code == 503 and lines[0].startswith("503 5.5.1 "), lines
    assert r.cmd("NOOP")[0] == 250              # the chunk was not read as commands
    # before RCPT, too
    assert r.cmd("MAIL FROM:<s@client.test>")[0] == 250
    r.send(b"BDAT 4\r\nQUIT")
    code, lines = r.reply()
    assert code == 503 and "RCPT" in lines[0], lines
    assert r.cmd("NOOP")[0] == 250
    # a bad end marker: the chunk is skipped, 501, the session goes on
    r.send(b"BDAT 4 FIRST\r\nQUIT")
    code, lines = r.reply()
    assert code == 501 and "5.5.4" in lines[0], lines
    assert r.cmd("NOOP")[0] == 250
    # a size that cannot be read: 501, and the session ends
    code, lines = r.cmd("BDAT many")
    assert code == 501 and "5.5.4" in lines[0], lines
    assert r.reply()[0] == 421
    assert r.closed()


def test_bdat_oversize_552():
    before = len(maildir_messages(demo()))
    r = inst.raw()
    transaction(r, sender="big@client.test")
    chunk = (b"x" * 98 + b"\r\n") * 1500           # 150000 octets
    r.send(b"BDAT %d\r\n" % len(chunk) + chunk)
    assert r.reply()[0] == 250
    r.send(b"BDAT %d\r\n" % len(chunk) + chunk)     # past the limit
    code, lines = r.reply()
    assert code == 552 and "5.3.4" in lines[0], lines
    r.send(b"BDAT 5\r\nhello")                       # read and dropped
    assert r.reply()[0] == 552
    r.send(b"BDAT 3 LAST\r\nend")
    code, lines = r.reply()
    assert code == 552 and "5.3.4" in lines[0], lines
    # the transaction is over; the session is in step
    assert r.cmd("RCPT TO:<demo@localhost>")[0] == 503
    assert r.cmd("MAIL FROM:<after-big@client.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@localhost>")[0] == 250
    r.send(b"BDAT 20 LAST\r\nSubject: after-big\r\n\r\n")
    assert r.reply()[0] == 250
    r.cmd("QUIT")
    delivered(demo(), before, b"after-big")
    assert not [m for m in maildir_messages(demo()) if m.startswith(b"Return-Path: <big@client.test>")]


def test_bdat_pipelined():
    before = len(maildir_messages(demo()))
    a = b"Subject: bdat-pipe\r\n\r\n"
    b = b"piped\r\n"
    r = inst.raw()
    assert r.cmd("EHLO client.test")[0] == 250
    r.send(b"MAIL FROM:<p@client.test>\r\nRCPT TO:<demo@localhost>\r\nRCPT TO:<nope@localhost>\r\n"
           b"BDAT %d\r\n%sBDAT %d LAST\r\n%sNOOP\r\nQUIT\r\n" % (len(a), a, len(b), b))
    codes = [r.reply()[0] for _ in range(7)]
    assert codes == [250, 250, 550, 250, 250, 250, 221], codes
    stored = delivered(demo(), before, b"bdat-pipe")
    assert body_of(stored) == (a + b).replace(b"\r\n", b"\n")


def queue_records(path):
    """The envelope of a queue file: [(type, payload)] up to the M record."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:9] == b"POSTERN1\n"
    off, out = 9, []
    while True:
        t = chr(data[off])
        (n,) = struct.unpack(">I", data[off + 1:off + 5])
        if t == "M":
            return out
        out.append((t, data[off + 5:off + 5 + n]))
        off += 5 + n


def test_dsn_parameters_in_queue_file():
    md = demo()
    before = len(maildir_messages(md))
    inst.send("s@client.test", ["demo@localhost"], b"Subject: dsn-warmup\r\n\r\nx\r\n")
    inst.wait_messages(md, before + 1)
    inst.wait_spool_empty()
    tmp = os.path.join(md, "tmp")
    os.chmod(tmp, 0o500)                         # hold delivery back
    try:
        r = inst.raw()
        assert r.cmd("EHLO client.test")[0] == 250
        assert r.cmd("MAIL FROM:<s@client.test> RET=hdrs ENVID=QQ+2B314159")[0] == 250
        code, lines = r.cmd("RCPT TO:<demo@localhost> NOTIFY=delay,failure ORCPT=rfc822;Demo+40x@localhost")
        assert code == 250, lines
        assert r.cmd("RCPT TO:<v1@virt.test> NOTIFY=NEVER")[0] == 250
        assert r.cmd("DATA")[0] == 354
        r.send("Subject: dsn-held\r\n\r\nheld\r\n.\r\n")
        code, lines = r.reply()
        assert code == 250, lines
        r.cmd("QUIT")

        def held():
            for d in ("deferred", "active"):
                p = os.path.join(inst.spool, d)
                for n in os.listdir(p):
                    try:
                        return queue_records(os.path.join(p, n))
                    except FileNotFoundError:
                        pass
            return None
        recs = wait_for(held, 30, "the held message in the queue")
        types = "".join(t for t, _ in recs)
        assert types == "TICHPSBEFRDRD", types
        v = dict((t, p) for t, p in recs if t not in "RD")
        assert v["E"] == b"QQ+2B314159"
        assert v["F"] == b"HDRS"
        ds = [p for t, p in recs if t == "D"]
        assert ds[0] == b"FAILURE,DELAY\0rfc822;Demo+40x@localhost\0", ds
        assert ds[1] == b"NEVER\0\0", ds
    finally:
        os.chmod(tmp, 0o700)
    wait_for(lambda: [m for m in maildir_messages(md) if b"dsn-held" in m], 60, "the held message")


def test_dsn_malformed_parameters():
    r = inst.raw()
    assert r.cmd("EHLO client.test")[0] == 250
    for mail in ("MAIL FROM:<s@client.test> ENVID=a+2b",       # lower-case hex
                 "MAIL FROM:<s@client.test> ENVID=a+0D+0Ab",   # decodes to CRLF
                 "MAIL FROM:<s@client.test> RET=PARTIAL",
                 "MAIL FROM:<s@client.test> RET=FULL RET=HDRS"):
        code, lines = r.cmd(mail)
        assert code == 501 and "5.5.4" in lines[0], (mail, lines)
    assert r.cmd("MAIL FROM:<s@client.test>")[0] == 250
    for rcpt in ("RCPT TO:<demo@localhost> NOTIFY=NEVER NOTIFY=NEVER",
                 "RCPT TO:<demo@localhost> NOTIFY=NEVER,SUCCESS",
                 "RCPT TO:<demo@localhost> ORCPT=rfc822;a+zz",
                 "RCPT TO:<demo@localhost> ORCPT=x400;a"):
        code, lines = r.cmd(rcpt)
        assert code == 501 and "5.5.4" in lines[0], (rcpt, lines)
    code, lines = r.cmd("RCPT TO:<demo@localhost> FOO=bar")
    assert code == 555 and "5.5.4" in lines[0], lines
    r.cmd("QUIT")


def test_normalize_mode():
    global norm
    norm = Instance("normalize", conf={"smtpd_bare_newline": "normalize"}).start()
    before = len(maildir_messages(demo(norm)))
    r = norm.raw()
    transaction(r, sender="n@client.test")
    assert r.cmd("DATA")[0] == 354
    # bare LF line ends; "\n.\n" must not end the data
    r.send(b"Subject: normalized\n\nfirst\n.\nMAIL FROM:<evil@client.test>\n"
           b"bare\rcr\r\n.\r\n")
    code, lines = r.reply()
    assert code == 250 and "queued as" in lines[0], lines
    assert r.cmd("NOOP")[0] == 250
    r.cmd("QUIT")
    stored = delivered(demo(norm), before, b"normalized", norm)
    assert body_of(stored) == (b"Subject: normalized\n\nfirst\n.\nMAIL FROM:<evil@client.test>\n"
                               b"bare\ncr\n")
    assert b"\r" not in stored
    norm.wait_spool_empty()
    # exactly one message: nothing was smuggled
    assert len(maildir_messages(demo(norm))) == before + 1
