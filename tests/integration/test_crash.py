"""kill -9 in the middle of the flow (issue 2, test c): while 200 messages go
in over several sessions, kill qmgr and a local delivery in progress; once
master has restarted them, every message that got a 250 is in a Maildir at
least once and the spool is empty."""
import os
import shutil
import signal
import smtplib
import threading
import time

from harness import Instance, ensure_user, maildir_messages, wait_for

inst = None
alice = None
N = 200


def setup_module():
    global inst, alice
    alice = ensure_user("pt-alice")
    inst = Instance("crash", conf={"local_concurrency": "4"}).start()


def teardown_module():
    inst.cleanup()


def failure_log():
    return inst.log()


def lspawn_children():
    ls = inst.child("lspawn")
    if not ls:
        return []
    try:
        with open("/proc/%d/task/%d/children" % (ls.pid, ls.pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def test_kill_qmgr_and_a_delivery_under_load():
    md_alice = os.path.join(alice.pw_dir, "Maildir")
    shutil.rmtree(md_alice, ignore_errors=True)
    md_demo = inst.virtual_maildir("demo/Maildir")
    accepted, refused = set(), set()
    lock = threading.Lock()

    def sender(k):
        with inst.smtp() as s:
            for i in range(k, N, 4):
                rcpt = "demo@localhost" if i % 2 else "pt-alice@localhost"
                tag = "crash-%03d" % i
                try:
                    s.sendmail("load@client.test", [rcpt],
                               ("Subject: %s\r\n\r\n%s" % (tag, ("x" * 98 + "\r\n") * 20)).encode())
                    with lock:
                        accepted.add(tag)
                except smtplib.SMTPException:
                    with lock:
                        refused.add(tag)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(accepted) >= 30, 60, "30 accepted messages")
    old_qmgr = inst.child("qmgr").pid
    os.kill(old_qmgr, signal.SIGKILL)
    killed_delivery = None
    deadline = time.monotonic() + 60
    while killed_delivery is None and time.monotonic() < deadline:
        for pid in lspawn_children():
            try:
                os.kill(pid, signal.SIGKILL)
                killed_delivery = pid
                break
            except ProcessLookupError:
                pass
    for t in threads:
        t.join(120)
    assert killed_delivery, "never caught a local delivery in progress"
    new_qmgr = wait_for(lambda: inst.child("qmgr"), 30, "qmgr restarted")
    assert new_qmgr.pid != old_qmgr
    assert len(accepted) + len(refused) == N

    def seen():
        tags = {}
        for m in maildir_messages(md_alice) + maildir_messages(md_demo):
            i = m.find(b"Subject: crash-")
            if i >= 0:
                tag = m[i + 9:i + 18].decode()
                tags[tag] = tags.get(tag, 0) + 1
        return tags
    wait_for(lambda: accepted <= set(seen()), 120,
             "every accepted message delivered (missing %s)" % (sorted(accepted - set(seen()))[:10]))
    inst.wait_spool_empty(60)
    tags = seen()
    assert not (set(tags) & refused), "a refused message was delivered"
    dups = sum(n - 1 for n in tags.values())
    print("   crash: %d accepted, %d refused, %d duplicates (at-least-once)" %
          (len(accepted), len(refused), dups))
    assert "qmgr" in inst.log()
