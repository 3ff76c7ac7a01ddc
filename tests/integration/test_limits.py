"""Every limit of the SMTP server has a number, a config key and a clear
reply (issue 3, item 5 and 6): recipients, errors, timeouts, line lengths,
message size, NUL bytes; and a pipelining client (swaks --pipeline)."""
import subprocess
import time

from harness import Instance, maildir_messages, wait_for

inst = None


def setup_module():
    global inst
    inst = Instance("limits", conf={"smtpd_max_errors": "5",
                                    "smtpd_timeout_seconds": "2",
                                    "smtpd_data_timeout_seconds": "2",
                                    "message_size_limit": "20000"}).start()


def teardown_module():
    inst.cleanup()


def failure_log():
    return inst.log()


def session():
    r = inst.raw()
    assert r.cmd("EHLO client.test")[0] == 250
    return r


def test_recipients_past_the_limit_get_452_and_the_rest_is_delivered():
    r = session()
    assert r.cmd("MAIL FROM:<many@client.test>")[0] == 250
    for i in range(100):          # RFC 5321 4.5.3.1.8: at least 100
        code, lines = r.cmd("RCPT TO:<demo@localhost>")
        assert code == 250, (i, lines)
    code, lines = r.cmd("RCPT TO:<demo@localhost>")
    assert code == 452 and " 4.5.3 " in lines[0], lines
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: hundred\r\n\r\nx\r\n.\r\n")
    assert r.reply()[0] == 250
    r.cmd("QUIT")
    md = inst.virtual_maildir("demo/Maildir")
    wait_for(lambda: [m for m in maildir_messages(md) if b"Subject: hundred" in m], 30, "delivery")


def test_hard_errors_end_the_session_with_421():
    r = session()
    codes = [r.cmd("BOGUS %d" % i)[0] for i in range(4)]
    assert codes == [500] * 4
    code, lines = r.cmd("BOGUS 5")
    # the 5th error's own reply, then 421 and the connection closes
    assert code == 500
    code, lines = r.reply()
    assert code == 421 and "4.7.0" in lines[0], lines
    assert r.closed()


def test_command_timeout_421():
    r = session()
    t0 = time.monotonic()
    code, lines = r.reply()                   # nothing sent: the server gives up
    assert code == 421 and "4.4.2" in lines[0], lines
    assert 1.5 <= time.monotonic() - t0 < 10
    assert r.closed()


def test_data_timeout_421_and_nothing_queued():
    r = session()
    r.cmd("MAIL FROM:<slow@client.test>")
    r.cmd("RCPT TO:<demo@localhost>")
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: never finished\r\n\r\nhalf a mess")
    code, lines = r.reply()
    assert code == 421 and "4.4.2" in lines[0], lines
    assert r.closed()
    wait_for(lambda: inst.spool_files() == [], 10, "tmp/ cleaned up")


def test_long_command_and_text_lines_refused_not_cut():
    r = session()
    assert r.cmd("NOOP " + "x" * 600)[0] == 500        # 512 with CRLF
    r.cmd("MAIL FROM:<long@client.test>")
    r.cmd("RCPT TO:<demo@localhost>")
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: long\r\n\r\n" + "y" * 1200 + "\r\nshort\r\n.\r\n")
    code, lines = r.reply()
    assert code == 552 and "5.3.4" in lines[0] and "1000" in lines[0], lines
    r.cmd("QUIT")
    md = inst.virtual_maildir("demo/Maildir")
    assert not [m for m in maildir_messages(md) if b"Subject: long" in m]


def test_message_size_declared_and_actual():
    r = session()
    code, lines = r.cmd("MAIL FROM:<big@client.test> SIZE=20001")
    assert code == 552 and "5.3.4" in lines[0], lines
    assert r.cmd("MAIL FROM:<big@client.test> SIZE=100")[0] == 250   # a lie
    r.cmd("RCPT TO:<demo@localhost>")
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: too big\r\n\r\n" + ("z" * 70 + "\r\n") * 400 + ".\r\n")
    code, lines = r.reply()
    assert code == 552 and "5.3.4" in lines[0], lines
    r.cmd("QUIT")


def test_nul_bytes_refused():
    r = session()
    code, lines = r.cmd("NOOP a\0b")
    assert code == 500, lines
    r.cmd("MAIL FROM:<nul@client.test>")
    r.cmd("RCPT TO:<demo@localhost>")
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: nul\r\n\r\nbefore\0after\r\n.\r\n")
    code, lines = r.reply()
    assert code == 550 and "5.6.0" in lines[0], lines
    r.cmd("QUIT")
    inst.wait_spool_empty()


def test_swaks_pipelining():
    md = inst.virtual_maildir("demo/Maildir")
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % inst.port, "--pipeline",
                        "--from", "pipe@client.test", "--to", "demo@localhost",
                        "--header", "Subject: swaks pipelined"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert "PIPELINING" in out
    wait_for(lambda: [m for m in maildir_messages(md) if b"Subject: swaks pipelined" in m],
             30, "delivery")
