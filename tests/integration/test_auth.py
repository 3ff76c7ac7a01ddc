"""Submission AUTH (issue 3, item 2): RFC 4954 PLAIN and LOGIN over TLS on
the submission (STARTTLS) and smtps (implicit TLS, RFC 8314) listeners,
checked by enqueue against the passwd table of sha512-crypt and yescrypt
hashes; never offered in the clear nor on port 25; failures slowed down and
logged; authenticated relaying; the senders table."""
import base64
import ctypes
import smtplib
import socket
import ssl
import subprocess
import time

from harness import Instance, Raw, ensure_user, wait_for

inst = None
DELAY = 1
ALICE_PW = "correct horse battery staple"
BOB_PW = "b0b's p@ss:word"


def sha512_crypt(pw):
    r = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=pw.encode(),
                       stdout=subprocess.PIPE, check=True)
    return r.stdout.decode().strip()


def yescrypt(pw):
    """libxcrypt's own crypt_gensalt("$y$") and crypt(), what mkpasswd -m
    yescrypt does (python's crypt module cannot make a yescrypt salt)."""
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    setting = lib.crypt_gensalt(b"$y$", 0, None, 0)
    h = lib.crypt(pw.encode(), setting).decode()
    assert h.startswith("$y$"), h
    return h


def setup_module():
    global inst
    ensure_user("pt-alice")
    inst = Instance("auth", conf={"smtpd_auth_failure_delay_seconds": str(DELAY)},
                    tables={"passwd": {"alice": sha512_crypt(ALICE_PW), "bob": yescrypt(BOB_PW),
                                       "carol": "$1$abc$md5isnotallowed0000000"},
                            "senders": {"alice@mx.test": "alice",
                                        "@alice.test": "alice",
                                        "shared@mx.test": "bob, alice",
                                        "bob@mx.test": "bob"}})
    inst.enable_tls()
    inst.start()
    wait_for(lambda: port_open(inst.port_submission) and port_open(inst.port_smtps), 20,
             "the submission and smtps listeners")


def teardown_module():
    inst.cleanup()


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def submission():
    s = smtplib.SMTP("127.0.0.1", inst.port_submission, local_hostname="client.test", timeout=30)
    s._host = "mx.test"      # what smtplib.starttls() checks the certificate against
    s.ehlo()
    s.starttls(context=inst.client_tls_context())
    s.ehlo()
    return s


class SMTPS(smtplib.SMTP_SSL):
    """SMTP_SSL that checks the certificate against mx.test, not the IP."""

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout)
        return self.context.wrap_socket(sock, server_hostname="mx.test")


def smtps():
    s = SMTPS("127.0.0.1", inst.port_smtps, local_hostname="client.test", timeout=30,
                         context=inst.client_tls_context())
    s.ehlo()
    return s


class TlsRaw(Raw):
    """Raw over TLS: after STARTTLS on submission, or from the first byte
    on smtps."""

    def __init__(self, port, implicit):
        super().__init__(port)
        if implicit:
            self.tls()
        code, _ = self.reply()
        assert code == 220, code
        code, lines = self.cmd("EHLO client.test")
        assert code == 250
        if not implicit:
            assert "250-STARTTLS" in lines or "250 STARTTLS" in lines, lines
            assert not any("AUTH" in l for l in lines), lines
            code, _ = self.cmd("STARTTLS")
            assert code == 220
            self.tls()
            code, lines = self.cmd("EHLO client.test")
            assert code == 250
        self.ehlo = lines

    def tls(self):
        self.sock = inst.client_tls_context().wrap_socket(self.sock, server_hostname="mx.test")
        self.buf = b""


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


# -- advertising and refusing ------------------------------------------------

def test_passwd_table_is_private():
    """postern setup: passwd and passwd.cdb root:queue_user's group, 0640;
    makemap keeps that when it rebuilds the table."""
    import grp
    import os
    import stat
    gid = grp.getgrnam("postern-queue").gr_gid
    inst.write_table("passwd")
    for name in ("passwd", "passwd.cdb"):
        st = os.stat(os.path.join(inst.etc, name))
        assert stat.S_IMODE(st.st_mode) == 0o640, (name, oct(st.st_mode))
        assert (st.st_uid, st.st_gid) == (0, gid), (name, st.st_uid, st.st_gid)


def test_auth_advertised_only_over_tls_on_submission():
    r = TlsRaw(inst.port_submission, implicit=False)
    assert "250-AUTH PLAIN LOGIN" in r.ehlo, r.ehlo
    r.close()
    r = TlsRaw(inst.port_smtps, implicit=True)
    assert "250-AUTH PLAIN LOGIN" in r.ehlo, r.ehlo
    r.close()


def test_submission_in_the_clear_refuses_auth_and_mail():
    r = Raw(inst.port_submission)
    assert r.reply()[0] == 220
    code, lines = r.cmd("EHLO client.test")
    assert not any("AUTH" in l for l in lines), lines
    assert r.cmd("AUTH PLAIN " + b64("\0alice\0" + ALICE_PW))[1][-1] == \
        "530 5.7.0 Must issue a STARTTLS command first"
    assert r.cmd("MAIL FROM:<alice@mx.test>")[1][-1] == "530 5.7.0 Authentication required"
    r.close()


def test_port_25_never_offers_auth():
    r = inst.raw()
    code, lines = r.cmd("EHLO client.test")
    assert not any("AUTH" in l for l in lines), lines
    assert r.cmd("AUTH PLAIN " + b64("\0alice\0" + ALICE_PW))[1][-1] == \
        "503 5.5.1 Error: authentication not enabled"
    # Not even after STARTTLS.
    if any("STARTTLS" in l for l in lines):
        assert r.cmd("STARTTLS")[0] == 220
        r.sock = inst.client_tls_context().wrap_socket(r.sock, server_hostname="mx.test")
        r.buf = b""
        code, lines = r.cmd("EHLO client.test")
        assert not any("AUTH" in l for l in lines), lines
        assert r.cmd("AUTH LOGIN")[1][-1] == "503 5.5.1 Error: authentication not enabled"
    r.close()


def test_mail_without_auth_on_submission_and_smtps():
    for r in (TlsRaw(inst.port_submission, False), TlsRaw(inst.port_smtps, True)):
        assert r.cmd("MAIL FROM:<alice@mx.test>")[1][-1] == "530 5.7.0 Authentication required"
        r.close()


# -- mechanisms ----------------------------------------------------------------

def test_plain_sha512_smtplib_starttls():
    with submission() as s:
        assert "PLAIN" in s.esmtp_features["auth"]
        code, msg = s.login("alice", ALICE_PW)
        assert code == 235 and msg == b"2.7.0 Authentication successful", (code, msg)
    assert "authenticated: login=alice, client=[127.0.0.1]" in inst.log()


def test_login_yescrypt_smtplib_smtps():
    with smtps() as s:
        code, msg = s.auth("LOGIN", lambda c=None: "bob" if c is None or c == b"Username:" else BOB_PW)
        assert code == 235, (code, msg)


def test_plain_with_empty_challenge_raw():
    r = TlsRaw(inst.port_submission, False)
    code, lines = r.cmd("AUTH PLAIN")
    assert lines == ["334 "], lines
    code, lines = r.cmd(b64("alice\0alice\0" + ALICE_PW))     # authzid = authcid
    assert lines[-1] == "235 2.7.0 Authentication successful", lines
    assert r.cmd("AUTH PLAIN " + b64("\0alice\0" + ALICE_PW))[1][-1] == \
        "503 5.5.1 Error: already authenticated"
    r.cmd("QUIT")
    r.close()


def test_login_without_initial_response_raw():
    r = TlsRaw(inst.port_smtps, True)
    assert r.cmd("AUTH LOGIN")[1] == ["334 VXNlcm5hbWU6"]
    assert r.cmd(b64("bob"))[1] == ["334 UGFzc3dvcmQ6"]
    assert r.cmd(b64(BOB_PW))[1][-1] == "235 2.7.0 Authentication successful"
    r.close()


def test_swaks_plain_and_login():
    for mech, user, pw in (("PLAIN", "alice", ALICE_PW), ("LOGIN", "bob", BOB_PW)):
        r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % inst.port_submission,
                            "--tls", "--tls-verify", "--tls-ca-path", inst.cert,
                            "--helo", "client.test",
                            "--auth", mech, "--auth-user", user, "--auth-password", pw,
                            "--from", "%s@mx.test" % user, "--to", "pt-alice@localhost",
                            "--quit-after", "RCPT"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode("utf-8", "replace")
        if r.returncode != 0 and "--tls-verify" in out:
            raise AssertionError(out)
        assert r.returncode == 0, out
        assert "235 2.7.0 Authentication successful" in out, out


def test_cancel_and_bad_base64():
    r = TlsRaw(inst.port_submission, False)
    assert r.cmd("AUTH LOGIN")[0] == 334
    assert r.cmd("*")[1][-1] == "501 5.0.0 Authentication aborted"
    assert r.cmd("AUTH PLAIN")[0] == 334
    assert r.cmd("not base64!")[1][-1] == "501 5.5.2 Cannot decode response"
    assert r.cmd("AUTH PLAIN %%%")[1][-1] == "501 5.5.2 Cannot decode response"
    assert r.cmd("AUTH CRAM-MD5")[1][-1] == "504 5.5.4 Unrecognized authentication type"
    # Still not authenticated.
    assert r.cmd("MAIL FROM:<alice@mx.test>")[1][-1] == "530 5.7.0 Authentication required"
    r.close()


def test_wrong_password_slow_535_and_logged():
    r = TlsRaw(inst.port_submission, False)
    t0 = time.monotonic()
    code, lines = r.cmd("AUTH PLAIN " + b64("\0alice\0wrong password"))
    elapsed = time.monotonic() - t0
    assert lines[-1] == "535 5.7.8 Authentication credentials invalid", lines
    assert elapsed >= DELAY - 0.05, elapsed
    # An unknown login and a refused hash kind look the same.
    t0 = time.monotonic()
    assert r.cmd("AUTH PLAIN " + b64("\0nobody\0x"))[0] == 535
    assert time.monotonic() - t0 >= DELAY - 0.05
    r.close()
    wait_for(lambda: "authentication failed: login=alice, client=[127.0.0.1]" in inst.log(),
             10, "the failure in the log")
    assert "authentication failed: login=nobody, client=[127.0.0.1]" in inst.log()
    assert "wrong password" not in inst.log()


def test_md5_crypt_refused():
    with submission() as s:
        try:
            s.login("carol", "anything")
            raise AssertionError("md5-crypt login accepted")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535
    assert "carol: not a yescrypt ($y$) or sha512-crypt ($6$) hash" in inst.log()


# -- relaying and the senders table -------------------------------------------

def test_authenticated_relay_accepted_unauthenticated_refused():
    with submission() as s:
        s.login("alice", ALICE_PW)
        assert s.mail("alice@mx.test")[0] == 250
        code, msg = s.rcpt("someone@other.example")
        assert code == 250, msg
        s.rset()
    with inst.smtp() as s:
        s.ehlo("client.test")
        s.mail("alice@mx.test")
        code, msg = s.rcpt("someone@other.example")
        assert code == 550 and msg == b"5.7.1 <someone@other.example>: Relay access denied", msg


def test_senders_table():
    with submission() as s:
        s.login("alice", ALICE_PW)
        for ok in ("alice@mx.test", "ALICE@MX.TEST", "anything@alice.test", "shared@mx.test", ""):
            code, msg = s.mail(ok)
            assert code == 250, (ok, msg)
            s.rset()
        code, msg = s.mail("bob@mx.test")
        assert code == 553, msg
        assert msg == b"5.7.1 <bob@mx.test>: Sender address rejected: not owned by user alice", msg
        code, msg = s.mail("stranger@other.example")
        assert code == 553, msg
    with smtps() as s:
        s.login("bob", BOB_PW)
        assert s.mail("shared@mx.test")[0] == 250
        s.rset()
        assert s.mail("alice@mx.test")[0] == 553


def test_authenticated_message_delivered_with_esmtpsa():
    alice = ensure_user("pt-alice")
    import os
    from harness import maildir_messages
    md = os.path.join(alice.pw_dir, "Maildir")
    before = len(maildir_messages(md))
    with submission() as s:
        s.login("alice", ALICE_PW)
        s.sendmail("alice@mx.test", ["pt-alice@localhost"], b"Subject: authed\r\n\r\nhi\r\n")
    msgs = inst.wait_messages(md, before + 1)
    assert b" with ESMTPSA id " in msgs[before], msgs[before][:400]
