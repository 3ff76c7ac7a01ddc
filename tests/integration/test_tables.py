"""Tables and bad input: makemap errors name file:line and keep the old
table, a rebuilt table is seen by the next session without a restart, a bad
config is refused by postern check, and a corrupt queue file is put aside
without stopping the queue."""
import os
import shutil

from harness import Instance, maildir_messages, wait_for

inst = None


def setup_module():
    global inst
    inst = Instance("tables").start()


def teardown_module():
    inst.cleanup()


def failure_log():
    return inst.log()


def rcpt_code(addr):
    r = inst.raw()
    r.cmd("EHLO client.test")
    r.cmd("MAIL FROM:<t@client.test>")
    code, lines = r.cmd("RCPT TO:<%s>" % addr)
    r.cmd("QUIT")
    return code


def test_rebuilt_table_seen_without_restart():
    assert rcpt_code("v2@virt.test") == 550
    held = inst.raw()                     # a session open across the rebuild
    held.cmd("EHLO client.test")
    inst.tables["virtual"]["v2@virt.test"] = "virt.test/v2/Maildir/"
    inst.write_table("virtual")
    assert rcpt_code("v2@virt.test") == 250
    held.cmd("QUIT")
    inst.send("t@client.test", ["v2@virt.test"], b"Subject: v2\r\n\r\nx\r\n")
    inst.wait_messages(inst.virtual_maildir("virt.test/v2/Maildir"), 1)


def test_makemap_error_names_line_and_keeps_table():
    path = os.path.join(inst.etc, "virtual")
    with open(path, "w") as f:
        f.write("# comment\ndemo@localhost demo/Maildir/\nbroken-line-without-value\n")
    r = inst.postern("makemap", "virtual", check=False)
    assert r.returncode != 0
    assert ("%s:3:" % path).encode() in r.stdout, r.stdout
    assert rcpt_code("v2@virt.test") == 250        # the old .cdb is still in place
    with open(path, "w") as f:
        f.write("demo@localhost demo/Maildir/\ndemo@localhost other/\n")
    r = inst.postern("makemap", "virtual", check=False)
    assert r.returncode != 0 and ("%s:2:" % path).encode() in r.stdout, r.stdout
    inst.write_table("virtual")


def test_check_names_bad_config_line():
    inst.write_conf("message_size_limit = lots\n")
    r = inst.postern("check", check=False)
    assert r.returncode == 78, r
    assert ("postern.conf:%d:" % (len(inst.conf) + 1)).encode() in r.stdout, r.stdout
    inst.write_conf()
    assert inst.postern("check").returncode == 0


def test_corrupt_queue_file_put_aside():
    bad = os.path.join(inst.spool, "new", "0123456789ABCDEF0123")
    with open(bad, "wb") as f:
        f.write(b"POSTERN1\n" + b"T\0\0\0\x05hello" + b"garbage")
    shutil.chown(bad, "postern-queue", "postern-queue")
    with open(os.path.join(inst.spool, "trigger"), "wb", buffering=0) as f:
        f.write(b"x")
    corrupt = os.path.join(inst.spool, "corrupt", "0123456789ABCDEF0123")
    wait_for(lambda: os.path.exists(corrupt), 30, "the file in corrupt/")
    assert "corrupt" in inst.log()
    md = inst.virtual_maildir("demo/Maildir")
    inst.send("t@client.test", ["demo@localhost"], b"Subject: still-flowing\r\n\r\nx\r\n")
    wait_for(lambda: [m for m in maildir_messages(md) if b"still-flowing" in m], 30, "delivery")
