"""The local delivery agent is swappable (local_agent), sees only the message,
never the queue file's envelope; and lspawn never runs a delivery as uid 0."""
import os
import stat

from harness import Instance, maildir_messages, wait_for

AGENT = r'''#!/usr/bin/python3
# A stand-in local_agent: keeps what it was given, answers K (docs/protocols.md).
import os, struct, sys
args = sys.argv[1:]
data = os.read(0, 1 << 20)
# two recipients, two runs: write aside and rename, so a reader never sees
# a half-written file
tmp = "%s.seen.%d" % (sys.argv[0], os.getpid())
with open(tmp, "wb") as f:
    f.write(repr(args).encode() + b"\n" + repr(sorted(os.environ)).encode() + b"\n" + data)
os.rename(tmp, sys.argv[0] + ".seen")
payload = b"K\0" + b"2.0.0\0" + b"kept by the test agent\0"
os.write(1, b"O" + struct.pack(">I", len(payload)) + payload)
'''

insts = []


def teardown_module():
    for i in insts:
        i.cleanup()


def failure_log():
    return "\n".join(i.log() for i in insts)


def test_builtin_agent_as_external_program():
    inst = Instance("agent-local")
    insts.append(inst)
    inst.conf["local_agent"] = os.path.join(inst.libexec, "local")
    inst.write_conf()
    inst.start()
    body = b"Subject: via local\r\n\r\n.dot\r\nbody\r\n"
    inst.send("a@client.test", ["demo@localhost"], body)
    got = inst.wait_messages(inst.virtual_maildir("demo/Maildir"), 1)[0]
    assert got.startswith(b"Return-Path: <a@client.test>\nDelivered-To: <demo@localhost>\nReceived: ")
    assert got.endswith(b"Subject: via local\n\n.dot\nbody\n")
    inst.wait_spool_empty()


def test_external_agent_sees_only_the_message():
    inst = Instance("agent-ext")
    insts.append(inst)
    agent = os.path.join(inst.dir, "agent.py")
    with open(agent, "w") as f:
        f.write(AGENT)
    os.chmod(agent, 0o755)
    os.chmod(inst.dir, 0o777)                  # the agent (postern-vmail) writes agent.py.seen
    inst.conf["local_agent"] = agent
    inst.write_conf()
    inst.start()
    inst.send("a@client.test", ["demo@localhost", "v1@virt.test"],
              b"Subject: secret list\r\n\r\nhello\r\n")
    seen = wait_for(lambda: os.path.exists(agent + ".seen") and open(agent + ".seen", "rb").read(),
                    30, "the agent to run")
    inst.wait_spool_empty()
    args, env, data = seen.split(b"\n", 2)
    assert b"'-f', 'a@client.test'" in args and b"'-n'" in args, args
    assert b"SENDER" in env and b"RECIPIENT" in env and b"POSTERN_LOG_STDERR" not in env
    assert data.startswith(b"Received: from client.test"), data[:100]
    assert data.endswith(b"Subject: secret list\n\nhello\n")
    assert b"POSTERN1" not in data              # not the queue file...
    assert b"v1@virt.test" not in data and b"demo@localhost" not in data  # ...nor its envelope
    # qmgr logs the outcome after the removal that empties the spool
    wait_for(lambda: "relay=local" in inst.log() and "status=sent" in inst.log(), 10,
             "the delivery's log line")


def test_never_delivers_as_root():
    inst = Instance("agent-root", conf={"virtual_mail_user": "root"})
    insts.append(inst)
    inst.start()
    inst.send("a@client.test", ["demo@localhost"], b"Subject: as root?\r\n\r\nno\r\n")
    wait_for(lambda: "refusing to deliver as root" in inst.log(), 30, "lspawn's refusal")
    inst.wait_spool_empty()
    assert maildir_messages(inst.virtual_maildir("demo/Maildir")) == []
    assert "status=bounced" in inst.log()
