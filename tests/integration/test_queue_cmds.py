"""The operator's queue commands (issue 5, item 6) on a live instance:
postern queue (text, --json, filters), hold, release, delete, requeue,
flush, on messages waiting in deferred/ and on messages being delivered
(active/), and postern check on a broken table.

Deliveries are held back by making the Maildirs' tmp/ unwritable (as in
test_diskfull.py), so mail waits in deferred/; queue_retry_min_seconds is
an hour, so only the commands can make it go sooner. A local_agent wrapper
sleeps before running the real agent when the message says SLOW, which
keeps such a message in active/ long enough to act on it in flight."""
import json
import os

from harness import Instance, maildir_messages, wait_for

SLOW_AGENT = r'''#!/usr/bin/python3
# local_agent wrapper: a SLOW message takes 2 seconds, then the real agent.
import os, subprocess, sys, time
data = sys.stdin.buffer.read()
if b"SLOW" in data:
    time.sleep(2)
r = subprocess.run([%r] + sys.argv[1:], input=data)
sys.exit(r.returncode)
'''

inst = None
ids = {}


def setup_module():
    global inst
    inst = Instance("queuecmds", conf={"queue_retry_min_seconds": "3600",
                                       "queue_retry_max_seconds": "7200"})
    agent = os.path.join(inst.dir, "slow-agent")
    with open(agent, "w") as f:
        f.write(SLOW_AGENT % os.path.join(inst.libexec, "local"))
    os.chmod(agent, 0o755)
    inst.conf["local_agent"] = agent
    inst.write_conf()
    inst.start()
    # create both Maildirs, then make them refuse deliveries
    for r in ("demo@localhost", "v1@virt.test"):
        inst.send("first@client.test", [r], b"Subject: first\r\n\r\nx\r\n")
    for md in (DEMO(), V1()):
        inst.wait_messages(md, 1)
    blocked(True)


def teardown_module():
    inst.cleanup()


def failure_log():
    return inst.log()


def DEMO():
    return inst.virtual_maildir("demo/Maildir")


def V1():
    return inst.virtual_maildir("virt.test/v1/Maildir")


def blocked(yes):
    for md in (DEMO(), V1()):
        os.chmod(os.path.join(md, "tmp"), 0o500 if yes else 0o700)


def subjects(md):
    out = []
    for m in maildir_messages(md):
        i = m.find(b"Subject: ")
        out.append(m[i + 9:m.find(b"\n", i)].decode())
    return out


def q(*args, check=True):
    return inst.postern(*args, check=check)


def listing(*filters):
    return json.loads(q("queue", "--json", *filters).stdout)


def in_dir(d, qid):
    return os.path.exists(os.path.join(inst.spool, d, qid))


def send(sender, rcpts, subject, body="x"):
    inst.send(sender, rcpts, ("Subject: %s\r\n\r\n%s\r\n" % (subject, body)).encode())


def deferred_id(sender):
    """The ID of sender's message once it waits in deferred/."""
    def find():
        for m in listing("--sender", sender):
            if m["queue"] == "deferred":
                return m["id"]
    return wait_for(find, 30, "a deferred message from %s" % sender)


def test_listing_shows_messages_with_last_error():
    send("s1@client.test", ["demo@localhost"], "msg-a")
    send("s2@client.test", ["v1@virt.test"], "msg-b")
    send("s3@client.test", ["demo@localhost", "v1@virt.test"], "msg-c")
    for s, k in (("s1@client.test", "a"), ("s2@client.test", "b"), ("s3@client.test", "c")):
        ids[k] = deferred_id(s)
    text = q("queue").stdout.decode()
    for k in "abc":
        assert ids[k] in text, text
    assert "<s3@client.test>" in text and "deferred: 4." in text, text
    msgs = {m["id"]: m for m in listing()}
    c = msgs[ids["c"]]
    assert c["sender"] == "s3@client.test" and c["queue"] == "deferred"
    assert c["size"] > 0 and c["age"] >= 0 and c["next_attempt"] > c["arrival"] + 1000
    assert [r["address"] for r in c["recipients"]] == ["demo@localhost", "v1@virt.test"]
    for r in c["recipients"]:
        assert r["status"] == "deferred" and r["code"].startswith("4.") and r["text"], r


def test_filters_select_subsets():
    def sel(*f):
        return sorted(m["id"] for m in listing(*f))
    a, b, c = ids["a"], ids["b"], ids["c"]
    assert sel("--sender", "S1@client.test") == [a]
    assert sel("--recipient", "v1@virt.test") == sorted([b, c])
    assert sel("--domain", "localhost") == sorted([a, c])
    assert sel("--domain", "localhost", "--sender", "s3@client.test") == [c]
    assert sel("--younger", "1h") == sorted([a, b, c])
    assert sel("--older", "3600") == []
    err = listing("--sender", "s1@client.test")[0]["recipients"][0]["text"]
    assert sel("--error", err[-8:]) == sorted([a, b, c])
    assert sel("--error", "no such error text anywhere") == []
    # the text listing filters the same way
    out = q("queue", "--domain", "virt.test").stdout.decode()
    assert b in out and c in out and a not in out


def test_unknown_and_bad_ids():
    for cmd in ("hold", "release", "delete", "requeue"):
        r = q(cmd, "0000000000000000000000", check=False)
        assert r.returncode == 1 and b"no such message" in r.stdout, (cmd, r.stdout)
    r = q("hold", "../etc/passwd", check=False)
    assert r.returncode == 64, r.stdout
    r = q("delete", check=False)
    assert r.returncode == 64 and b"--all" in r.stdout, r.stdout


def test_hold_delete_requeue_release():
    a, b, c = ids["a"], ids["b"], ids["c"]
    r = q("hold", a)
    assert b"held" in r.stdout and in_dir("hold", a) and not in_dir("deferred", a)
    assert listing("--sender", "s1@client.test")[0]["queue"] == "hold"
    r = q("delete", "--sender", "s2@client.test")
    assert b"deleted" in r.stdout, r.stdout
    assert not [f for f in inst.spool_files() if b in f], inst.spool_files()
    blocked(False)
    q("requeue", c)             # tried at once, not in an hour
    wait_for(lambda: "msg-c" in subjects(DEMO()) and "msg-c" in subjects(V1()), 15, "msg-c")
    wait_for(lambda: not [f for f in inst.spool_files() if c in f], 15, "msg-c to leave the spool")
    q("flush")                  # held stays held, deleted stays deleted
    send("p@client.test", ["demo@localhost", "v1@virt.test"], "probe-1")
    wait_for(lambda: "probe-1" in subjects(DEMO()) and "probe-1" in subjects(V1()), 15, "probe-1")
    assert in_dir("hold", a) and "msg-a" not in subjects(DEMO())
    assert "msg-b" not in subjects(V1())
    r = q("release", a)
    assert b"released" in r.stdout
    wait_for(lambda: "msg-a" in subjects(DEMO()), 15, "msg-a after release")
    assert "msg-b" not in subjects(V1())


def test_flush_delivers_every_deferred_message_now():
    blocked(True)
    send("f1@client.test", ["demo@localhost"], "msg-f1")
    send("f2@client.test", ["v1@virt.test"], "msg-f2")
    deferred_id("f1@client.test")
    deferred_id("f2@client.test")
    blocked(False)
    r = q("flush")
    assert b"flushed 2 deferred messages" in r.stdout, r.stdout
    wait_for(lambda: "msg-f1" in subjects(DEMO()) and "msg-f2" in subjects(V1()), 15,
             "both deferred messages after flush")
    inst.wait_spool_empty(15)


def active_id(sender):
    def find():
        for m in listing("--sender", sender):
            if m["queue"] == "active":
                return m["id"]
    return wait_for(find, 15, "%s's message in active/" % sender)


def test_hold_in_flight_takes_effect_after_the_attempt():
    blocked(True)
    send("h@client.test", ["demo@localhost"], "msg-h", "SLOW")
    qid = active_id("h@client.test")
    r = q("hold", "--wait", "0", qid)
    assert b"hold requested, takes effect after the delivery in progress" in r.stdout, r.stdout
    wait_for(lambda: in_dir("hold", qid), 15, "the held message in hold/")
    assert not os.listdir(os.path.join(inst.spool, "control"))
    blocked(False)
    q("flush")
    send("h@client.test", ["demo@localhost"], "msg-h-probe")
    wait_for(lambda: "msg-h-probe" in subjects(DEMO()), 15, "the probe")
    assert in_dir("hold", qid) and "msg-h" not in subjects(DEMO())
    q("delete", qid)
    assert not [f for f in inst.spool_files() if qid in f]


def test_delete_in_flight_leaves_nothing_and_never_delivers():
    blocked(True)
    send("d@client.test", ["demo@localhost", "v1@virt.test"], "msg-d", "SLOW")
    qid = active_id("d@client.test")
    r = q("delete", qid)        # waits for qmgr (the delivery takes ~2 s)
    assert b"deleted after the delivery in progress" in r.stdout, r.stdout
    assert not [f for f in inst.spool_files() if qid in f], inst.spool_files()
    assert not os.listdir(os.path.join(inst.spool, "control"))
    blocked(False)
    q("flush")
    send("d@client.test", ["demo@localhost"], "msg-d-probe")
    wait_for(lambda: "msg-d-probe" in subjects(DEMO()), 15, "the probe")
    assert "msg-d" not in subjects(DEMO()) and "msg-d" not in subjects(V1())
    assert "removed by the operator" in inst.log()


def test_check_reports_broken_table_line():
    assert q("check").returncode == 0
    path = os.path.join(inst.etc, "domains")
    good = open(path).read()
    with open(path, "a") as f:
        f.write("# comment\nbroken-line-without-value\n")
    try:
        r = q("check", check=False)
        n = len(good.splitlines()) + 2
        assert r.returncode == 78, r.stdout
        assert ("%s:%d:" % (path, n)).encode() in r.stdout, r.stdout
    finally:
        with open(path, "w") as f:
            f.write(good)
    assert q("check").returncode == 0
