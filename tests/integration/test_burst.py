"""A burst of 1,000 connections at once (issue 7: "1,000 concurrent
sessions held without an error"): every one gets its greeting and an
answer to EHLO and is held, a well-behaved client sends a message
meanwhile, and every session is sessiond's (a forked smtpd), none an
exec'd fallback: when sessiond's socket is full, master keeps the
connection and pauses its listeners until there is room
(master/session.c), and the listen backlog, sized by smtpd_max_sessions
(master/listen.c), holds the rest."""
import os
import resource
import selectors
import socket
import time

from harness import Instance, wait_for

N = 1000
inst = None


def setup_module():
    global inst
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * N)), hard))
    inst = Instance("burst", conf={"smtpd_max_sessions": str(N + 50),
                                   "smtpd_max_sessions_per_client": str(N + 50),
                                   "smtpd_max_connections_per_minute": "100000"}).start()


def teardown_module():
    inst.cleanup()


def failure_log():
    return inst.log()[-5000:]


def exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return ""


def open_all(n, deadline):
    """n connections at once; each then reads its 220, sends EHLO and reads
    the 250 reply. Returns (held sockets, errors)."""
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", inst.port))
        socks.append(s)
        sel.register(s, selectors.EVENT_READ, {"buf": b"", "state": "greeting"})
    held, errors = [], 0
    while len(held) + errors < n and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s, st = key.fileobj, key.data
            try:
                chunk = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                errors += 1
                sel.unregister(s)
                continue
            st["buf"] += chunk
            while b"\r\n" in st["buf"]:
                line, st["buf"] = st["buf"].split(b"\r\n", 1)
                if st["state"] == "greeting" and line.startswith(b"220 "):
                    st["state"] = "ehlo"
                    s.setblocking(True)
                    s.sendall(b"EHLO client.test\r\n")
                    s.setblocking(False)
                elif st["state"] == "ehlo" and line.startswith(b"250 "):
                    st["state"] = "held"
                    held.append(s)
                    sel.unregister(s)
                    break
                elif not line[:3] in (b"220", b"250"):
                    errors += 1
                    sel.unregister(s)
                    break
    sel.close()
    return held, errors, socks


def test_thousand_sessions_at_once_all_forked_by_sessiond():
    start = time.monotonic()
    held, errors, socks = open_all(N, start + 240)
    took = time.monotonic() - start
    try:
        # a well-behaved client alongside
        t0 = time.monotonic()
        with inst.smtp() as s:
            s.ehlo("client.test")
            assert s.sendmail("s@client.test", ["demo@localhost"],
                              b"Subject: beside the burst\r\n\r\nx\r\n") == {}
        beside = time.monotonic() - t0
        sessiond = inst.child("sessiond").pid
        smtpds = [p for p in inst.children("smtpd")]
        exec_d = [p.pid for p in smtpds if exe(p.pid) != exe(sessiond)]
        print("   burst: %d of %d sessions held after %.1f s, errors %d; a message beside "
              "them in %.2f s; %d smtpd processes, %d of them exec'd" %
              (len(held), N, took, errors, beside, len(smtpds), len(exec_d)))
        assert len(held) == N and errors == 0, (len(held), errors)
        assert not exec_d, "exec'd smtpd (sessiond's socket was full): %s" % exec_d[:5]
        assert "to sessiond" not in inst.log(), "a hand-over to sessiond failed"
    finally:
        for s in socks:
            s.close()
    wait_for(lambda: len(inst.children("smtpd")) == 0, 60, "every held session ended")
