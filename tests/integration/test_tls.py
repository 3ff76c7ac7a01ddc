"""TLS and the listeners (issue 3): STARTTLS (RFC 3207) with python's ssl and
swaks, the CVE-2011-0411 injection, implicit TLS on the smtps listener
(RFC 8314), TLS 1.1 refused, session tickets off unless configured, the
submission listener, per-client session and rate limits in master, and the
client that talks before the greeting (RFC 5321 4.3.1)."""
import os
import re
import socket
import smtplib
import ssl
import subprocess
import time

from harness import Instance, Raw, maildir_messages, wait_for

USER, PASSWORD = "tlsuser", "tls pass word"
tls = None       # cert, STARTTLS everywhere, submission and smtps listeners
plain = None     # no cert; small per-client session cap; pregreet wait
rate = None      # cert, session tickets on; small connection rate


def sha512_crypt(pw):
    r = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=pw.encode(),
                       stdout=subprocess.PIPE, check=True)
    return r.stdout.decode().strip()


def setup_module():
    global tls, plain, rate
    # submission and smtps take mail only after AUTH (RFC 6409, RFC 8314).
    tls = Instance("tls", tables={"passwd": {USER: sha512_crypt(PASSWORD)},
                                  "senders": {"%s@mx.test" % USER: USER}})
    tls.enable_tls().start()
    # loopback is exempt from the per-client limits by default: not here
    plain = Instance("tls-plain", conf={"smtpd_max_sessions_per_client": "2",
                                        "smtpd_client_limit_exceptions": "",
                                        "smtpd_pregreet_wait_ms": "300"}).start()
    rate = Instance("tls-rate", conf={"tls_session_tickets": "1",
                                      "smtpd_client_limit_exceptions": "192.0.2.0/24",
                                      "smtpd_max_connections_per_minute": "8"})
    rate.enable_tls(submission=False).start()


def teardown_module():
    errors = []
    for i in (tls, plain, rate):
        if i is not None:
            try:
                i.cleanup()
            except AssertionError as e:
                errors.append(str(e))
    assert not errors, "\n".join(errors)


def failure_log():
    return "\n".join(i.log()[-3000:] for i in (tls, plain, rate) if i is not None)


def demo(inst):
    return inst.virtual_maildir("demo/Maildir")


def ehlo_lines(r):
    code, lines = r.cmd("EHLO client.test")
    assert code == 250, lines
    return [l[4:] for l in lines]


def starttls(inst, r, ctx=None):
    """STARTTLS on a Raw connection; its socket becomes the TLS one."""
    code, lines = r.cmd("STARTTLS")
    assert (code, lines) == (220, ["220 2.0.0 Ready to start TLS"]), lines
    assert r.buf == b""
    r.sock = (ctx or inst.client_tls_context()).wrap_socket(r.sock, server_hostname="mx.test")
    return r


class SMTPS(smtplib.SMTP_SSL):
    """smtplib's implicit TLS, checking the name the certificate has
    (mx.test) rather than the address we connect to."""

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout)
        return self.context.wrap_socket(sock, server_hostname="mx.test")


def smtp_starttls(inst):
    """smtplib over STARTTLS, checking the certificate's name mx.test."""
    s = smtplib.SMTP("127.0.0.1", inst.port, local_hostname="client.test", timeout=30)
    s._host = "mx.test"      # what smtplib.starttls() checks the certificate against
    s.starttls(context=inst.client_tls_context())
    return s


def smtps(inst, ctx=None, port=None):
    """A Raw client on the smtps listener: TLS first, then the greeting."""
    raw = socket.create_connection(("127.0.0.1", port or inst.port_smtps), timeout=20)
    r = Raw.__new__(Raw)
    r.buf = b""
    r.sock = (ctx or inst.client_tls_context()).wrap_socket(raw, server_hostname="mx.test")
    return r


def log_has(inst, pattern, timeout=10):
    return wait_for(lambda: re.search(pattern, inst.log()), timeout, "log line %r" % pattern)


def stored_after(inst, before, send):
    send()
    return inst.wait_messages(demo(inst), before + 1)[before]


# -- STARTTLS ---------------------------------------------------------------

def test_starttls_offered_once_and_replies():
    r = tls.raw()
    assert "STARTTLS" in ehlo_lines(r)
    assert r.cmd("STARTTLS now")[0] == 501
    starttls(tls, r)
    ver = r.sock.version()
    assert ver in ("TLSv1.2", "TLSv1.3"), ver
    lines = ehlo_lines(r)
    assert "STARTTLS" not in lines, lines
    code, lines = r.cmd("STARTTLS")
    assert lines == ["503 5.5.1 Error: TLS already active"], lines
    assert r.cmd("QUIT")[0] == 221
    log_has(tls, r"TLS established from \[127\.0\.0\.1\]: TLSv1\.[23] with cipher \S+")


def test_starttls_not_available_without_certificate():
    r = plain.raw()
    assert "STARTTLS" not in ehlo_lines(r)
    assert r.cmd("STARTTLS")[1] == ["454 4.7.0 TLS not available"]
    assert r.cmd("NOOP")[0] == 250
    r.cmd("QUIT")


def test_starttls_smtplib_delivers_with_esmtps():
    body = b"Subject: over STARTTLS\r\n\r\nline one\r\n..dot\r\nend\r\n"
    before = len(maildir_messages(demo(tls)))

    def send():
        with smtp_starttls(tls) as s:
            s.sendmail("s@client.test", ["demo@localhost"], body)
    stored = stored_after(tls, before, send)
    assert b"by mx.test (Postern) with ESMTPS id " in stored, stored[:400]
    assert stored.endswith(body.replace(b"\r\n", b"\n")), stored


def test_mail_before_starttls_is_forgotten():
    r = tls.raw()
    ehlo_lines(r)
    assert r.cmd("MAIL FROM:<before@client.test>")[0] == 250
    starttls(tls, r)
    # RFC 3207 4.2: no EHLO known, no transaction open.
    assert r.cmd("MAIL FROM:<after@client.test>")[1] == ["503 5.5.1 Error: send HELO/EHLO first"]
    ehlo_lines(r)
    code, lines = r.cmd("RCPT TO:<demo@localhost>")
    assert code == 503, lines
    assert r.cmd("MAIL FROM:<after@client.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@localhost>")[0] == 250
    r.cmd("QUIT")


def test_cve_2011_0411_plaintext_injection_discarded():
    r = tls.raw()
    ehlo_lines(r)
    # Both commands in one write: RSET travels in the clear after STARTTLS.
    r.send(b"STARTTLS\r\nRSET\r\n")
    code, lines = r.reply()
    assert code == 220, lines
    assert r.buf == b"", r.buf          # no reply to RSET in the clear either
    r.sock = tls.client_tls_context().wrap_socket(r.sock, server_hostname="mx.test")
    # The first reply over TLS must be the one to our own EHLO.
    code, lines = r.cmd("EHLO client.test")
    assert code == 250 and lines[0] == "250-mx.test", lines
    assert r.cmd("NOOP")[1] == ["250 2.0.0 Ok"]
    assert r.cmd("QUIT")[0] == 221
    assert r.closed()
    assert r.buf == b"", r.buf
    log_has(tls, r"discarded 6 bytes sent before the TLS handshake from \[127\.0\.0\.1\]")


def test_handshake_failure_ends_session():
    r = tls.raw()
    ehlo_lines(r)
    assert r.cmd("STARTTLS")[0] == 220
    r.send(b"this is not a ClientHello\r\n")
    assert r.closed()
    log_has(tls, r"TLS handshake failed from \[127\.0\.0\.1\]: \S")


def test_pipelined_burst_and_big_message_over_tls():
    # One TLS write holding the whole transaction, its message bigger than
    # a TLS record (16 KiB) and than smtpd's read size: the end of it sits
    # decrypted inside OpenSSL while the socket is silent (SSL_pending).
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-\r\n"
    body = b"Subject: burst\r\n\r\n" + line * 3000 + b"end\r\n"
    before = len(maildir_messages(demo(tls)))
    r = tls.raw()
    ehlo_lines(r)
    starttls(tls, r)
    r.sock.settimeout(20)
    r.send(b"EHLO client.test\r\nMAIL FROM:<b@client.test>\r\nRCPT TO:<demo@localhost>\r\n"
           b"DATA\r\n" + body[:-12000])
    # The last write is one TLS record of 12 KB: more than one read takes.
    r.send(body[-12000:] + b".\r\nNOOP\r\n")
    assert r.reply()[0] == 250
    assert [r.reply()[0] for _ in range(5)] == [250, 250, 354, 250, 250]
    r.cmd("QUIT")
    stored = tls.wait_messages(demo(tls), before + 1)[before]
    assert stored.endswith(body.replace(b"\r\n", b"\n"))


# -- protocol versions and tickets ------------------------------------------

def old_tls_context(inst):
    ctx = inst.client_tls_context()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    return ctx


def test_tls_1_1_and_lower_refused():
    n = tls.log().count("TLS handshake failed")
    r = tls.raw()
    ehlo_lines(r)
    try:
        starttls(tls, r, old_tls_context(tls))
        raise AssertionError("a TLS 1.1 handshake succeeded: %s" % r.sock.version())
    except ssl.SSLError:
        pass
    try:
        smtps(tls, old_tls_context(tls))
        raise AssertionError("a TLS 1.1 handshake succeeded on smtps")
    except ssl.SSLError:
        pass
    wait_for(lambda: tls.log().count("TLS handshake failed") >= n + 2, 10,
             "two handshake failures logged")
    # TLS 1.2 still works.
    ctx = tls.client_tls_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    r = smtps(tls, ctx)
    assert r.reply()[0] == 220 and r.sock.version() == "TLSv1.2"
    r.cmd("QUIT")


def ticket_after_greeting(inst, ctx):
    r = smtps(inst, ctx)
    assert r.reply()[0] == 220       # TLS 1.3 tickets come after the handshake
    assert r.cmd("NOOP")[0] == 250
    has = r.sock.session is not None and r.sock.session.has_ticket
    r.cmd("QUIT")
    return has


def test_no_session_ticket_by_default():
    ctx13 = tls.client_tls_context()
    ctx12 = tls.client_tls_context()
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    assert ticket_after_greeting(tls, ctx13) is False
    assert ticket_after_greeting(tls, ctx12) is False


def test_session_ticket_when_configured():
    ctx12 = rate.client_tls_context()
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    assert ticket_after_greeting(rate, rate.client_tls_context()) is True
    assert ticket_after_greeting(rate, ctx12) is True


# -- implicit TLS and the other listeners -----------------------------------

def test_smtps_implicit_tls_exact_bytes():
    sender = "%s@mx.test" % USER
    body = (b"Subject: implicit\r\nFrom: <tlsuser@mx.test>\r\n\r\n"
            b"first\r\n.leading dot\r\n\xc3\xa9t\xc3\xa9\r\nlast\r\n")
    before = len(maildir_messages(demo(tls)))

    def send():
        with SMTPS("127.0.0.1", tls.port_smtps, local_hostname="client.test",
                   context=tls.client_tls_context(), timeout=30) as s:
            code, msg = s.ehlo()
            assert code == 250 and b"STARTTLS" not in msg, msg
            s.login(USER, PASSWORD)
            s.sendmail(sender, ["demo@localhost"], body, mail_options=["BODY=8BITMIME"])
    stored = stored_after(tls, before, send)
    # RFC 3848: TLS and AUTH, so ESMTPSA (ESMTPS alone: the STARTTLS test).
    assert b"\tby mx.test (Postern) with ESMTPSA id " in stored, stored[:400]
    assert stored.endswith(body.replace(b"\r\n", b"\n")), stored


def smtpd_cmdlines(inst):
    out = []
    for p in inst.children("smtpd"):
        try:
            with open("/proc/%d/cmdline" % p.pid, "rb") as f:
                out.append(f.read().split(b"\0"))
        except OSError:
            pass
    return out


def test_listener_kind_passed_to_smtpd():
    for port, kind, implicit in ((tls.port, b"smtp", False),
                                 (tls.port_submission, b"submission", False),
                                 (tls.port_smtps, b"smtps", True)):
        r = smtps(tls, port=port) if implicit else Raw(port)
        assert r.reply()[0] == 220
        wait_for(lambda: any(c[-3:-1] == [b"-l", kind] for c in smtpd_cmdlines(tls)), 10,
                 "an smtpd with -l %s" % kind.decode())
        if not implicit:
            assert "STARTTLS" in ehlo_lines(r)
        r.cmd("QUIT")
        r.close()


def swaks(inst, sender, *extra):
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--helo", "client.test",
                        "--from", sender, "--to", "demo@localhost",
                        "--header", "Subject: swaks %s" % " ".join(extra),
                        "--body", "hello over tls"] + list(extra),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == 0, r.stdout.decode()
    return r.stdout.decode()


def test_swaks_starttls_and_tls_on_connect():
    md = demo(tls)
    before = len(maildir_messages(md))
    out = swaks(tls, "sw@client.test", "--port", str(tls.port), "--tls")
    assert "<-  220 2.0.0 Ready to start TLS" in out and "=== TLS started" in out, out
    out = swaks(tls, "%s@mx.test" % USER, "--port", str(tls.port_smtps), "--tlsc",
                "--auth", "PLAIN", "--auth-user", USER, "--auth-password", PASSWORD)
    assert "=== TLS started" in out, out
    msgs = tls.wait_messages(md, before + 2)[before:]
    got = {m.split(b"Subject: ", 1)[1].split(b"\n", 1)[0]:
           re.search(rb" with (\w+) id ", m).group(1) for m in msgs}
    assert got == {b"swaks --port %d --tls" % tls.port: b"ESMTPS",
                   b"swaks --port %d --tlsc --auth PLAIN --auth-user %s --auth-password %s"
                   % (tls.port_smtps, USER.encode(), PASSWORD.encode()): b"ESMTPSA"}, got


def test_smtps_without_certificate_is_a_config_error():
    plain.conf["smtps_listen"] = "127.0.0.1:%d" % plain.port_smtps
    plain.write_conf()
    try:
        r = plain.postern("check", check=False)
        assert r.returncode != 0, r.stdout
        assert b"smtps_listen is set but tls_cert_file is not" in r.stdout, r.stdout
    finally:
        del plain.conf["smtps_listen"]
        plain.write_conf()
    plain.postern("check")


# -- per-client limits (master) ---------------------------------------------

def test_sessions_per_client():
    a, b = plain.raw(), plain.raw()
    c = Raw(plain.port)
    assert c.line() == "421 4.7.0 mx.test Error: too many connections from your address"
    assert c.closed()
    log_has(plain, r"too many sessions from 127\.0\.0\.1 \(2 at once\): refused")
    a.cmd("QUIT")
    a.close()

    def third():
        r = Raw(plain.port)
        code, lines = r.reply()
        if code == 220:
            return r
        r.close()
        return None
    d = wait_for(third, 10, "a session slot freed by the first QUIT")
    d.cmd("QUIT")
    b.cmd("QUIT")


def test_connections_per_minute():
    # Every connection so far counted, refused ones too: the limit is 8.
    refused_at = None
    for i in range(12):
        r = Raw(rate.port)
        line = r.line()
        if line.startswith("421"):
            assert line == ("421 4.7.0 mx.test Error: too many connections per minute "
                            "from your address"), line
            assert r.closed()
            refused_at = refused_at if refused_at is not None else i
        else:
            assert refused_at is None, "let in again after a refusal: %s" % line
            assert line.startswith("220 ")
            r.cmd("QUIT")
        r.close()
    assert refused_at is not None and refused_at <= 8
    log_has(rate, r"too many connections from 127\.0\.0\.1 \(8 per minute\): refused")


def test_trusted_networks_exempt_from_client_limits():
    """smtpd_client_limit_exceptions (loopback by default) are not counted."""
    exempt = Instance("tls-exempt", conf={"smtpd_max_sessions_per_client": "1",
                                          "smtpd_max_connections_per_minute": "2"}).start()
    try:
        held = [exempt.raw() for _ in range(4)]     # 4 at once, 4 in a minute
        for r in held:
            assert r.cmd("QUIT")[0] == 221
    finally:
        exempt.cleanup()


# -- talking before the greeting --------------------------------------------

def test_pregreet_refused_and_nothing_queued():
    before = len(maildir_messages(demo(plain)))
    r = Raw(plain.port)
    r.send(b"EHLO client.test\r\nMAIL FROM:<pre@client.test>\r\nRCPT TO:<demo@localhost>\r\n"
           b"DATA\r\nSubject: pregreet\r\n\r\nx\r\n.\r\nQUIT\r\n")
    code, lines = r.reply()
    assert lines == ["554 5.7.1 Error: client talked before the greeting"], lines
    assert r.closed()
    assert r.buf == b"", r.buf
    log_has(plain, r"client talked before the greeting")
    assert re.search(r"reject: CONNECT from \[127\.0\.0\.1\]: 554", plain.log())
    # A client that waits gets the greeting after the wait, and its mail goes.
    t0 = time.monotonic()
    s = smtplib.SMTP("127.0.0.1", plain.port, local_hostname="client.test", timeout=30)
    assert time.monotonic() - t0 >= 0.25
    s.sendmail("ok@client.test", ["demo@localhost"], b"Subject: waited\r\n\r\nx\r\n")
    s.quit()
    msgs = plain.wait_messages(demo(plain), before + 1)
    assert len(msgs) == before + 1
    assert b"Subject: waited" in msgs[-1] and not any(b"pregreet" in m for m in msgs)
