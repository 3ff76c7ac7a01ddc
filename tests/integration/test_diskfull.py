"""A full spool (issue 2, test d): with the spool on a small tmpfs that fills
up, new mail gets 452 (at MAIL when the size is declared, after DATA when it
is not), nothing half-written stays, and every message accepted before is
still delivered once there is room again."""
import os
import smtplib
import subprocess
import tempfile

from harness import Instance, maildir_messages, wait_for

inst = None
spool = None


def setup_module():
    global inst, spool
    spool = tempfile.mkdtemp(prefix="postern-fullspool-", dir="/tmp")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", spool], check=True)
    inst = Instance("diskfull", spool=spool).start()


def teardown_module():
    inst.cleanup()
    subprocess.run(["umount", "-l", spool])
    os.rmdir(spool)


def failure_log():
    return inst.log()


def subjects(maildir):
    out = []
    for m in maildir_messages(maildir):
        i = m.find(b"Subject: ")
        out.append(m[i + 9:m.find(b"\n", i)].decode())
    return out


def queued():
    return sum(len(os.listdir(os.path.join(spool, d))) for d in ("new", "active", "deferred"))


def fill(path):
    """Write until the file system says ENOSPC, in smaller and smaller pieces."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


def test_full_spool_gives_452_and_loses_nothing():
    md = inst.virtual_maildir("demo/Maildir")
    inst.send("s@client.test", ["demo@localhost"], b"Subject: before-0\r\n\r\nx\r\n")
    wait_for(lambda: "before-0" in subjects(md), 30, "the first message")
    # hold deliveries back: the Maildir's tmp/ refuses writes, so accepted
    # messages wait in deferred/ while the disk fills up
    os.chmod(os.path.join(md, "tmp"), 0o500)
    for i in range(1, 4):
        inst.send("s@client.test", ["demo@localhost"], ("Subject: before-%d\r\n\r\nx\r\n" % i).encode())
    wait_for(lambda: queued() == 3, 30, "3 messages waiting in the queue")
    filler = os.path.join(spool, "filler")
    fill(filler)
    # SIZE declared: refused at MAIL
    try:
        inst.send("s@client.test", ["demo@localhost"], b"Subject: full-1\r\n\r\n" + b"y" * 78 + b"\r\n" * 1 + (b"y" * 78 + b"\r\n") * 1300)
        assert False, "accepted on a full spool"
    except smtplib.SMTPSenderRefused as e:
        assert e.smtp_code == 452, e
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 452, e
    # no SIZE: refused after the data
    r = inst.raw()
    r.cmd("HELO client.test")
    assert r.cmd("MAIL FROM:<s@client.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@localhost>")[0] == 250
    code, lines = r.cmd("DATA")
    if code == 354:
        r.send("Subject: full-2\r\n\r\n" + ("z" * 78 + "\r\n") * 2600 + ".\r\n")
        code, lines = r.reply()
    assert code == 452, lines
    r.cmd("QUIT")
    assert os.listdir(os.path.join(spool, "tmp")) == []
    # files move between deferred/ and active/ as qmgr retries: poll
    wait_for(lambda: queued() == 3, 10, "exactly the 3 accepted messages queued")
    # room again, Maildir writable again: everything accepted arrives
    os.unlink(filler)
    os.chmod(os.path.join(md, "tmp"), 0o700)
    wait_for(lambda: {"before-1", "before-2", "before-3"} <= set(subjects(md)), 60,
             "the deferred messages")
    inst.wait_spool_empty(30)
    got = subjects(md)
    assert "full-1" not in got and "full-2" not in got
    inst.send("s@client.test", ["demo@localhost"], b"Subject: after\r\n\r\nx\r\n")
    wait_for(lambda: "after" in subjects(md), 30, "a message after recovery")
