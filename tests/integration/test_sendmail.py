"""sendmail(8) (issue 5, item 5): the installed sendmail run as real,
unprivileged users, submitting through master's local socket. The envelope
sender comes from the socket's SO_PEERCRED uid, never from the client;
-t follows RFC 2821 appendix B (To/Cc/Bcc and groups, Bcc removed, an empty
Bcc: when no destination field is left); Date, Message-ID and From are
added when missing; exit codes are sysexits.h's."""
import os
import shutil
import stat
import subprocess

from harness import REPO, BUILD, Instance, ensure_user, maildir_messages, wait_for

inst = None
users = {}


def setup_module():
    global inst
    for name in ("pt-bob", "pt-carol", "pt-dave"):
        users[name] = ensure_user(name)
    inst = Instance("sendmail")
    shutil.copy2(os.path.join(REPO, BUILD, "sendmail"), inst.sbin)
    for link in ("mailq", "newaliases"):
        os.symlink("sendmail", os.path.join(inst.sbin, link))
    inst.start()
    wait_for(lambda: os.path.exists(os.path.join(inst.spool, "submit")), 10, "the submit socket")


def teardown_module():
    inst.cleanup()


def failure_log():
    return inst.log()


def maildir(user):
    return os.path.join(users[user].pw_dir, "Maildir")


def clear():
    for u in users:
        shutil.rmtree(maildir(u), ignore_errors=True)


def sendmail(args, data=b"", user="pt-bob", prog="sendmail"):
    cmd = [os.path.join(inst.sbin, prog), "-C", inst.etc] + args
    if user != "root":
        cmd = ["runuser", "-u", user, "--"] + cmd
    return subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60)


def one(user):
    return inst.wait_messages(maildir(user), 1)[0]


def headers(msg):
    return msg.split(b"\n\n", 1)[0]


def return_path(msg):
    for line in msg.split(b"\n"):
        if line.startswith(b"Return-Path:"):
            return line.split(b":", 1)[1].strip().decode()
    return None


def test_socket_is_world_writable_and_no_setuid_anywhere():
    st = os.stat(os.path.join(inst.spool, "submit"))
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o666
    for d in (inst.sbin, inst.libexec):
        for n in os.listdir(d):
            m = os.lstat(os.path.join(d, n)).st_mode
            assert not m & (stat.S_ISUID | stat.S_ISGID), n


def test_plain_recipients_and_added_headers():
    clear()
    r = sendmail(["pt-carol", "pt-dave@mx.test"], b"Subject: plain\n\nhello\n.\nnot sent\n")
    assert r.returncode == 0, r.stderr
    for u in ("pt-carol", "pt-dave"):
        m = one(u)
        h = headers(m)
        assert return_path(m) == "<pt-bob@mx.test>", m
        assert b"\nDate: " in h and b"\nMessage-ID: <" in h, h
        assert b"From: " in h and b"pt-bob@mx.test" in h, h
        assert b"Received: from local (pt-bob, uid %d)" % users["pt-bob"].pw_uid in m, m
        # no -i: the lone dot ended the message
        assert m.endswith(b"hello\n") and b"not sent" not in m, m
        # no destination field left: an empty Bcc: (RFC 2821 appendix B)
        assert b"\nBcc:" in h or h.startswith(b"Bcc:"), h


def test_headers_kept_when_present_and_dot_with_i():
    clear()
    msg = (b"From: Bob Example <bob@elsewhere.test>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
           b"Message-ID: <keep@me>\nTo: pt-carol@mx.test\nSubject: kept\n\nline\n.\nafter\n")
    r = sendmail(["-i", "pt-carol"], msg)
    assert r.returncode == 0, r.stderr
    m = one("pt-carol")
    assert m.count(b"Message-ID:") == 1 and b"<keep@me>" in m
    assert m.count(b"\nDate:") == 1 and b"Mon, 1 Jan 2024" in m
    assert b"From: Bob Example <bob@elsewhere.test>" in m
    assert m.endswith(b"line\n.\nafter\n"), m
    r = sendmail(["-oi", "pt-carol"], b"Subject: oi\n\n.\n")
    assert r.returncode == 0, r.stderr
    m = inst.wait_messages(maildir("pt-carol"), 2)[1]
    assert m.endswith(b"\n.\n"), m


def test_t_to_cc_bcc_and_group():
    clear()
    msg = (b"From: pt-bob@mx.test\nTo: \"Carol, C.\" <pt-carol@mx.test> (carol)\n"
           b"Cc: friends: pt-dave@mx.test;\nBcc: pt-bob\nSubject: -t\n\nbody\n")
    r = sendmail(["-t"], msg)
    assert r.returncode == 0, r.stderr
    for u in ("pt-carol", "pt-dave", "pt-bob"):
        m = one(u)
        h = headers(m)
        assert b"\nBcc:" not in h and not h.startswith(b"Bcc:"), (u, h)
        assert b"Cc: friends: pt-dave@mx.test;" in h, h
        # the Received: line names no recipient when there are several
        assert b"for <" not in m, m


def test_t_only_bcc_gives_empty_bcc():
    clear()
    r = sendmail(["-t"], b"Bcc: pt-carol@mx.test, pt-dave@mx.test\nSubject: hidden\n\nx\n")
    assert r.returncode == 0, r.stderr
    for u in ("pt-carol", "pt-dave"):
        h = headers(one(u))
        assert b"\nBcc:\n" in h + b"\n" or h.startswith(b"Bcc:\n"), h
        assert b"pt-carol" not in h.split(b"Bcc:", 1)[1].split(b"\n", 1)[0], h


def test_return_path_is_the_user_unless_root():
    clear()
    r = sendmail(["-f", "other@example.org", "pt-carol"], b"Subject: f\n\nx\n")
    assert r.returncode == 0, r.stderr
    assert return_path(one("pt-carol")) == "<pt-bob@mx.test>"
    clear()
    r = sendmail(["-f", "other@example.org", "pt-carol"], b"Subject: f\n\nx\n", user="root")
    assert r.returncode == 0, r.stderr
    assert return_path(one("pt-carol")) == "<other@example.org>"


def test_two_users_two_return_paths():
    clear()
    assert sendmail(["pt-carol"], b"Subject: 1\n\nx\n", user="pt-bob").returncode == 0
    assert sendmail(["pt-carol"], b"Subject: 2\n\nx\n", user="pt-dave").returncode == 0
    got = sorted(return_path(m) for m in inst.wait_messages(maildir("pt-carol"), 2))
    assert got == ["<pt-bob@mx.test>", "<pt-dave@mx.test>"], got


def test_exit_codes():
    r = sendmail(["nosuchuser@mx.test"], b"Subject: x\n\nx\n")
    assert r.returncode == 67, (r.returncode, r.stderr)
    r = sendmail([], b"Subject: x\n\nx\n")
    assert r.returncode == 64, (r.returncode, r.stderr)
    r = sendmail(["-t"], b"Subject: nobody\n\nx\n")
    assert r.returncode == 65, (r.returncode, r.stderr)
    r = sendmail(["-bz"], b"")
    assert r.returncode == 64, (r.returncode, r.stderr)
    r = sendmail(["-oem", "-odi", "-oi", "pt-carol"], b"Subject: ignored opts\n\nx\n")
    assert r.returncode == 0, r.stderr


def test_hostile_sender_runs_nothing():
    if os.path.exists("/tmp/x"):
        os.unlink("/tmp/x")
    for who in ("pt-bob", "root"):
        r = sendmail(["-f", "<;touch /tmp/x;>", "pt-carol"], b"Subject: x\n\nx\n", user=who)
        assert r.returncode == 64, (r.returncode, r.stderr)
        assert b"not a valid address" in r.stderr, r.stderr
    assert not os.path.exists("/tmp/x")


def test_bs_conversation():
    clear()
    conv = (b"EHLO me.test\r\nMAIL FROM:<x@y.test>\r\nRCPT TO:<pt-carol@mx.test>\r\n"
            b"DATA\r\nSubject: bs\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    r = sendmail(["-bs"], conv)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"220 ") and b"\r\n221 " in r.stdout, r.stdout
    assert return_path(one("pt-carol")) == "<pt-bob@mx.test>"


def test_mailq_lists_a_held_message():
    clear()
    md = maildir("pt-dave")
    for d in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(md, d), exist_ok=True)
    subprocess.run(["chown", "-R", "pt-dave:", md], check=True)
    os.chmod(os.path.join(md, "tmp"), 0o500)
    try:
        r = sendmail(["pt-dave"], b"Subject: held\n\nx\n")
        assert r.returncode == 0, r.stderr
        q = wait_for(lambda: (lambda o: o if b"pt-dave@mx.test" in o else None)(
            sendmail([], user="root", prog="mailq").stdout), 20, "mailq to list it")
        assert b"pt-bob@mx.test" in q, q
        r = sendmail(["-bp"], user="pt-bob")
        assert r.returncode == 77 and b"readable by root" in r.stderr, (r.returncode, r.stderr)
        r = sendmail([], user="pt-bob", prog="newaliases")
        assert r.returncode == 77, (r.returncode, r.stderr)
    finally:
        os.chmod(os.path.join(md, "tmp"), 0o700)
    inst.wait_messages(md, 1)


def test_newaliases_link_rebuilds_the_aliases_table():
    clear()
    with open(os.path.join(inst.etc, "aliases"), "w") as f:
        f.write("bob-alias: pt-bob\n")
    r = sendmail([], prog="newaliases", user="root")
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(inst.etc, "aliases.cdb"))
    r = sendmail(["bob-alias@localhost"], b"Subject: via alias\n\nhi\n", user="pt-carol")
    assert r.returncode == 0, r.stderr
    msg = one("pt-bob")
    assert b"Subject: via alias" in msg
    assert b"Delivered-To: <bob-alias@localhost>" in msg


def test_sendmail_q_flushes_the_queue_now():
    clear()
    inst.conf["queue_retry_min_seconds"] = "3600"
    inst.conf["queue_retry_max_seconds"] = "3600"
    inst.write_conf()
    inst.postern("reload")
    try:
        md = maildir("pt-dave")
        os.makedirs(os.path.join(md, "tmp"), exist_ok=True)
        os.makedirs(os.path.join(md, "new"), exist_ok=True)
        os.makedirs(os.path.join(md, "cur"), exist_ok=True)
        for d in ("", "tmp", "new", "cur"):
            shutil.chown(os.path.join(md, d), "pt-dave", "pt-dave")
        os.chmod(os.path.join(md, "tmp"), 0o500)      # hold delivery back
        r = sendmail(["pt-dave@localhost"], b"Subject: flush me\n\nx\n", user="pt-bob")
        assert r.returncode == 0, r.stderr
        wait_for(lambda: os.listdir(os.path.join(inst.spool, "deferred")), 20, "a deferral")
        os.chmod(os.path.join(md, "tmp"), 0o700)
        r = sendmail(["-q"], user="root")
        assert r.returncode == 0, r.stderr
        # delivered now, not an hour from now
        assert b"Subject: flush me" in wait_for(lambda: maildir_messages(md) and maildir_messages(md)[0],
                                                20, "the flushed message")
    finally:
        inst.conf["queue_retry_min_seconds"] = "1"
        inst.conf["queue_retry_max_seconds"] = "2"
        inst.write_conf()
        inst.postern("reload")
