"""Remote delivery end to end (resolve, rspawn, remote, qmgr), in the test
lab of netlab.py: Postern runs inside the MTA namespace, its resolver is
the lab's unbound on 127.0.0.53 (only: nothing answers DNS on 127.0.0.1
there), and the next hop is a real Postfix (or a malicious MX) in the PEER
namespace. Mail is submitted over SMTP from inside MTA (127.0.0.1 is in
the relay table); reports go to the local user pt-rsender.

Written against docs/protocols.md ("qmgr -> resolve", "qmgr -> rspawn"),
docs/tables.md (routes, tls_policy), docs/bounces.md and conf/postern.conf
before the programs were finished: every test first checks that master
runs resolve and rspawn.

 1. delivery by MX: the exact body (dot-stuffing both ways), the envelope
    sender, HELO = hostname;
 2. equal MX preferences: 40 messages reach both hosts;
 3. the primary MX refuses connections: the secondary gets the message;
 4. a 4xx is retried (state/ID holds the Z first) and delivered when lifted;
 5. one 550 of three recipients: one RFC 3464 report for that one only,
    with Remote-MTA and "Diagnostic-Code: smtp; 550 ...";
 6. null MX (5.1.10) and NXDOMAIN (5.1.2) bounce at once, no retry; a DNS
    temporary failure (SERVFAIL, REFUSED) defers;
 7. queue_lifetime_seconds: a permanently deferred recipient bounces 4.4.7;
 8. STARTTLS with Postfix (its log, its Received: line, the policy
    request, and Postern's log); the tls_policy table (verify against the
    lab's CA, encrypt toward an MX without STARTTLS, a name mismatch);
 9. 50 recipients at one domain in one transaction (nrcpt=50);
10. a malicious MX (OpenSMTPD CVE-2020-8794: reply lines shorter than 4
    bytes, CR and LF inside reply text): no injected recipient or sender
    anywhere, the queue file as it was, the good recipient delivered, no
    Postern process crashed;
11. routes: "routed.test [127.2.0.1]:2525" beats its MX; "*" sends
    everything to a smarthost named in brackets (no MX lookup for it);
12. a domain literal recipient user@[127.2.0.1];
13. resolve runs chrooted as its user inside the MTA namespace, with the
    namespace's resolv.conf (nameserver 127.0.0.53) copied into its chroot;
14. concurrency: remote_destination_concurrency and remote_concurrency
    bound the transactions open at once (two slow sinks count them).
"""
import email
import email.utils
import os
import pwd
import re
import socket
import threading
import time

import netlab
from harness import ensure_user, maildir_messages, wait_for
from netlab import NetInstance

RUN = os.urandom(4).hex()
SENDER = "pt-rsender@localhost"
lab = A = B = C = D = None
sender = None


def setup_module():
    global lab, A, B, C, D, sender
    sender = ensure_user("pt-rsender")
    lab = netlab.Lab().start()
    A = NetInstance(lab, "remote", tables={
        "routes": {"routed.test": "[127.2.0.1]:2525"}}).start()
    # Expiry after 8 s, and every domain through a smarthost named in
    # brackets: its A record, never its MX.
    B = NetInstance(lab, "remote-expiry", conf={"queue_lifetime_seconds": "8"}, tables={
        "routes": {"*": "[smarthost.example.test]:2526"}}).start()
    # No connection reuse: every message picks its host anew.
    C = NetInstance(lab, "remote-spread", conf={"smtp_connection_reuse_seconds": "0"}).start()
    # Two destinations, at most 2 transactions each and 3 in all.
    D = NetInstance(lab, "remote-limits", conf={
        "smtp_connection_reuse_seconds": "0", "remote_concurrency": "3",
        "remote_destination_concurrency": "2"}, tables={
        "routes": {"slow1.test": "[127.2.0.1]:2601", "slow2.test": "[127.2.0.1]:2602"}}).start()
    for inst in (A, B, C, D):
        try:
            wait_for(lambda: inst.child("resolve") and inst.child("rspawn"), 10,
                     "resolve and rspawn")
        except AssertionError:
            pass        # each test says so (need_remote)


def teardown_module():
    try:
        for inst in (A, B, C, D):
            if inst is not None:
                inst.cleanup()
    finally:
        if lab:
            lab.stop()


def failure_log():
    out = ""
    for inst in (A, B, C, D):
        if inst is not None:
            out += "--- postern %s:\n%s\n" % (inst.name, inst.log()[-3000:])
    return out + (lab.log() if lab else "")


# -- helpers ----------------------------------------------------------------
def need_remote(inst=None):
    inst = inst or A
    missing = [p for p in ("resolve", "rspawn") if not inst.child(p)]
    assert not missing, ("master of %s runs no %s: remote delivery is not there yet\n%s" %
                         (inst.name, " or ".join(missing), inst.log()[-1500:]))


def tag(name):
    return "%s-%s" % (name, RUN)


def message(t, sender=SENDER, to="someone@example.test", body="body of %(tag)s\r\n"):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
            "Message-ID: <%s@client.test>\r\n\r\n"
            % (sender, to, t, email.utils.formatdate(), t) + body % {"tag": t}).encode()


def log_lines(inst, rcpt, status=None):
    """qmgr's "ID: to=<rcpt>, relay=R, delay=N, status=S (CODE TEXT)" lines."""
    rx = re.compile(r"^.*: to=<%s>, relay=[^,]*, delay=\d+, status=%s \(.*$" %
                    (re.escape(rcpt), status or r"\w+"), re.M)
    return rx.findall(inst.log())


def wait_log(inst, rcpt, status, timeout=30):
    return wait_for(lambda: log_lines(inst, rcpt, status), timeout,
                    "status=%s for %s in %s's log" % (status, rcpt, inst.name), interval=0.1)


def state_records(inst, qid):
    """The records of spool/state/ID: [(type, [fields])]; a torn tail is
    left out, as qmgr does."""
    try:
        with open(os.path.join(inst.spool, "state", qid), "rb") as f:
            data = f.read()
    except OSError:
        return []
    out, off = [], 0
    while off + 5 <= len(data):
        n = int.from_bytes(data[off + 1:off + 5], "big")
        payload = data[off + 5:off + 5 + n]
        if len(payload) < n:
            break
        out.append((data[off:off + 1].decode(), [f.decode("utf-8", "replace")
                                                  for f in payload.split(b"\0")[:-1]]))
        off += 5 + n
    return out


def outcomes(inst, qid):
    """[(index, status, code, text)] of the O records."""
    return [(int(f[0]), f[1], f[2], f[3]) for t, f in state_records(inst, qid)
            if t == "O" and len(f) >= 4]


def queue_file(inst, qid):
    for d in ("new", "active", "deferred", "hold"):
        p = os.path.join(inst.spool, d, qid)
        if os.path.exists(p):
            return p
    return None


def sender_md():
    return os.path.join(sender.pw_dir, "Maildir")


def reports(t):
    """Reports (multipart/report) in pt-rsender's Maildir about message t."""
    return [m for m in maildir_messages(sender_md())
            if t.encode() in m and b"multipart/report" in m]


def wait_report(t, timeout=30):
    return wait_for(lambda: reports(t), timeout, "a report about %s for %s" % (t, SENDER),
                    interval=0.1)[0]


def parse_report(raw):
    m = email.message_from_bytes(raw)
    assert m.get_content_type() == "multipart/report", m.get_content_type()
    assert m.get_param("report-type") == "delivery-status"
    parts = m.get_payload()
    assert [p.get_content_type() for p in parts][:2] == ["text/plain", "message/delivery-status"]
    blocks = parts[1].get_payload()
    return m, parts, blocks[0], blocks[1:]


def delete(inst, qid):
    if queue_file(inst, qid):
        inst.postern("delete", qid, check=False)


def by(msg):
    return netlab.received_by(msg)


# -- 13: resolve's chroot and namespace ---------------------------------------
def test_resolve_chrooted_in_the_lab_namespace():
    need_remote()
    p = A.child("resolve")
    root = A.conf["resolve_chroot_directory"]
    assert p.root() == root, (p.root(), root)
    assert p.uids[0] == pwd.getpwnam("postern-resolve").pw_uid, p.uids
    assert 0 not in p.uids
    # It lives in the lab's MTA namespace, and what it reads as resolv.conf
    # (in its chroot) is that namespace's: nameserver 127.0.0.53.
    ino = os.stat(os.path.join(netlab.NETNS_DIR, lab.mta)).st_ino
    assert os.readlink("/proc/%d/ns/net" % p.pid) == "net:[%d]" % ino
    with open(os.path.join(root, "etc", "resolv.conf")) as f:
        assert "nameserver 127.0.0.53" in f.read()
    r = A.child("rspawn")
    assert r.uids[0] == pwd.getpwnam("postern-remote").pw_uid and 0 not in r.uids, r.uids


# -- 1: delivery by MX, byte for byte -----------------------------------------
BODY = ("first line\r\n"
        ".a line that starts with a dot\r\n"
        "..two dots\r\n"
        ".\r\n"
        "\r\n"
        "trailing blanks  \r\n"
        " leading blank\r\n"
        "last line of %(tag)s\r\n")


def test_delivery_by_mx_exact_body():
    need_remote()
    t = tag("mx")
    raw = message(t, to="u@example.test", body=BODY)
    A.send_id(SENDER, ["u@example.test"], raw)
    msg = lab.postfix.wait_messages("u@example.test", 1, token=t.encode())[0]
    head, _, body = msg.partition(b"\n\n")
    want_head, _, want_body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    assert body == want_body, (body, want_body)
    assert head.endswith(want_head), head          # the header, as it was, last
    assert msg.startswith(b"Return-Path: <%s>\n" % SENDER.encode()), msg[:300]
    assert by(msg)[:2] == ["mx1.example.test", "mx.test"], by(msg)
    # Postern said EHLO with its hostname, from its side of the link.
    assert b"from mx.test (postern.test [127.1.0.1])" in msg, msg[:600]
    wait_log(A, "u@example.test", "sent")
    # resolve asked the lab's DNS (unbound logs its client).
    assert ("127.0.0.1", "example.test.", "MX") in lab.dns.queries()


# -- 2: equal preferences -------------------------------------------------------
def test_equal_preferences_spread_over_both_hosts():
    need_remote(C)
    t = tag("spread")
    n = 40
    with C.smtp() as s:
        for i in range(n):
            s.sendmail(SENDER, ["u@equal.test"], message("%s-%02d" % (t, i), to="u@equal.test"))
    msgs = lab.postfix.wait_messages("u@equal.test", n, timeout=60, token=t.encode())
    hosts = [by(m)[0] for m in msgs]
    assert set(hosts) <= {"mx1.example.test", "mx2.example.test"}, hosts
    # Fair shuffling sends all 40 to one host with probability 2^-39.
    assert hosts.count("mx1.example.test") and hosts.count("mx2.example.test"), hosts
    C.wait_spool_empty()


# -- 3: primary MX down -------------------------------------------------------
def test_dead_primary_secondary_gets_it():
    need_remote()
    t = tag("backup")
    A.send_id(SENDER, ["u@backup.test"], message(t, to="u@backup.test"))
    msg = lab.postfix.wait_messages("u@backup.test", 1, token=t.encode())[0]
    assert by(msg)[0] == "mx2.example.test"
    wait_log(A, "u@backup.test", "sent")
    # rspawn's E names the address that refused, for the log.
    assert netlab.DEAD in A.log(), A.log()[-2000:]


# -- 4: 4xx, retried ------------------------------------------------------------
def test_4xx_retried_and_delivered_later():
    need_remote()
    t = tag("later")
    rcpt = "u@later.test"
    lab.policy.defer(rcpt)
    try:
        qid = A.send_id(SENDER, [rcpt], message(t, to=rcpt))
        # The first outcome is the server's own 450, recorded as Z with its
        # code and text; and qmgr tries again.
        z = wait_for(lambda: [o for o in outcomes(A, qid) if o[1] == "Z"], 20,
                     "a Z outcome in state/%s" % qid, interval=0.05)[0]
        assert z[0] == 0 and z[2] == "4.2.0", z
        assert "lab says try again later" in z[3] and "450" in z[3], z
        wait_log(A, rcpt, "deferred")
        wait_for(lambda: len(lab.policy.seen(rcpt)) >= 2, 20, "a second attempt")
        assert not lab.postfix.messages(rcpt)
        assert queue_file(A, qid), "the message left the queue while deferred"
    finally:
        lab.policy.lift(rcpt)
    lab.postfix.wait_messages(rcpt, 1, timeout=30, token=t.encode())
    wait_log(A, rcpt, "sent")
    log = A.log()
    assert log.index(log_lines(A, rcpt, "deferred")[0]) < log.index(log_lines(A, rcpt, "sent")[0])
    assert len(lab.postfix.messages(rcpt)) == 1
    wait_for(lambda: not queue_file(A, qid) and not state_records(A, qid), 20,
             "queue and state files of %s removed" % qid)
    assert not reports(t)           # nothing to report: no NOTIFY=DELAY warning is on


# -- 5: one recipient of three gets 550 ---------------------------------------
def test_550_for_one_of_three_reports_that_one():
    need_remote()
    t = tag("dsn")
    rcpts = ["dsn1@example.test", "nobody@example.test", "dsn2@example.test"]
    A.send_id(SENDER, rcpts, message(t, to="dsn1@example.test"))
    raw = wait_report(t)
    m, parts, msgf, rs = parse_report(raw)
    assert m["To"] == "<%s>" % SENDER and m["Subject"] == "Undelivered Mail Returned to Sender"
    assert raw.startswith(b"Return-Path: <>\n")
    assert msgf["Reporting-MTA"] == "dns; mx.test"
    assert [r["Final-Recipient"] for r in rs] == ["rfc822; nobody@example.test"], rs
    r = rs[0]
    assert r["Action"] == "failed" and r["Status"] == "5.1.1", (r["Action"], r["Status"])
    assert r["Remote-MTA"] == "dns; mx1.example.test", r["Remote-MTA"]
    diag = r["Diagnostic-Code"]
    assert diag.startswith("smtp; 550 5.1.1 <nobody@example.test>: Recipient address rejected: "
                           "User unknown in virtual mailbox table"), diag
    assert "nobody@example.test" in parts[0].get_payload()
    assert "dsn1@example.test" not in parts[0].get_payload()
    for ok in ("dsn1@example.test", "dsn2@example.test"):
        lab.postfix.wait_messages(ok, 1, token=t.encode())
        wait_log(A, ok, "sent")
    wait_log(A, "nobody@example.test", "bounced")
    assert not log_lines(A, "nobody@example.test", "deferred")
    assert len(reports(t)) == 1


# -- 6: DNS decides: null MX, NXDOMAIN, temporary failure --------------------
def test_null_mx_and_nxdomain_bounce_at_once():
    need_remote()
    t = tag("nullmx")
    A.send_id(SENDER, ["u@nullmx.test", "u@nosuch.test"], message(t, to="u@nullmx.test"))
    raw = wait_report(t, timeout=20)
    _, _, _, rs = parse_report(raw)
    got = {r["Final-Recipient"]: r for r in rs}
    assert set(got) == {"rfc822; u@nullmx.test", "rfc822; u@nosuch.test"}, list(got)
    assert got["rfc822; u@nullmx.test"]["Status"] == "5.1.10"
    assert got["rfc822; u@nosuch.test"]["Status"] == "5.1.2"
    assert all(r["Action"] == "failed" for r in rs)
    for rcpt in ("u@nullmx.test", "u@nosuch.test"):
        assert log_lines(A, rcpt, "bounced")
        assert not log_lines(A, rcpt, "deferred"), log_lines(A, rcpt)


def test_dns_temporary_failure_defers():
    need_remote()
    t = tag("tempfail")
    rcpts = ["u@servfail.test", "u@tempfail.test"]        # SERVFAIL, REFUSED
    qid = A.send_id(SENDER, rcpts, message(t, to=rcpts[0]))
    try:
        for r in rcpts:
            line = wait_log(A, r, "deferred", timeout=20)[0]
            # A temporary failure (Z, 4.x.x); the text names the name that failed.
            dom = r.split("@")[1]
            assert re.search(r"status=deferred \(4\.\d+\.\d+ .*%s" % re.escape(dom), line), line
            assert not log_lines(A, r, "bounced")
        assert {o[1] for o in outcomes(A, qid)} == {"Z"}, outcomes(A, qid)
        assert queue_file(A, qid)
        assert not reports(t)
    finally:
        delete(A, qid)


# -- 7: expiry -----------------------------------------------------------------
def test_lifetime_expiry_bounces_4_4_7():
    need_remote(B)
    t = tag("expire")
    rcpt = "expire@example.test"
    lab.policy.defer(rcpt)
    try:
        B.send_id(SENDER, [rcpt], message(t, to=rcpt))
        wait_log(B, rcpt, "deferred", timeout=20)
        raw = wait_report(t, timeout=40)
    finally:
        lab.policy.lift(rcpt)
    _, _, _, rs = parse_report(raw)
    assert [r["Final-Recipient"] for r in rs] == ["rfc822; %s" % rcpt]
    assert rs[0]["Action"] == "failed" and rs[0]["Status"] == "4.4.7", rs[0]
    assert re.search(r"to=<%s>, relay=none, delay=\d+, status=expired \(4\.4\.7 " %
                     re.escape(rcpt), B.log())
    assert len(lab.policy.seen(rcpt)) >= 2          # it was retried until then
    assert not lab.postfix.messages(rcpt)


# -- 8: STARTTLS ----------------------------------------------------------------
def test_starttls_with_postfix():
    need_remote()
    t = tag("tls")
    A.send_id(SENDER, ["u@tls.test"], message(t, to="u@tls.test"))
    msg = lab.postfix.wait_messages("u@tls.test", 1, token=t.encode())[0]
    assert by(msg)[0] == "mx1.example.test"
    assert b"with ESMTPS id" in msg and b"(using TLSv1." in msg, msg[:800]
    req = lab.policy.seen("u@tls.test")[-1]
    assert req["client_address"] == netlab.MTA_ADDR, req
    assert req["encryption_protocol"].startswith("TLSv1."), req
    assert req["helo_name"] == "mx.test", req
    lab.postfix.wait_log(r"postfix/mx1/smtpd\[\d+\]: \w+ TLS connection established from "
                         r"postern\.test\[127\.1\.0\.1\]", 10)
    wait_log(A, "u@tls.test", "sent")
    # Postern's client logs the TLS session with the host it talks to.
    lines = [l for l in A.log().splitlines() if "TLS" in l and "smtpd[" not in l and
             ("mx1.example.test" in l or "127.2.0.1" in l)]
    assert lines, A.log()[-3000:]


def test_tls_policy_table():
    """tls_policy (docs/tables.md): verify with the lab's CA works; encrypt
    toward an MX that offers no STARTTLS, and verify toward a name the
    certificate does not carry, defer with 4.7.5 and send nothing."""
    need_remote()
    D = NetInstance(lab, "remote-tls", conf={"tls_ca_file": lab.ca_file}, tables={
        "tls_policy": {"tls.test": "verify", "evil.test": "encrypt",
                       "implicit.test": "verify"}}).start()
    try:
        wait_for(lambda: D.child("resolve") and D.child("rspawn"), 10, "resolve and rspawn")
        t = tag("tlspolicy")
        before = len(lab.evil.commands())
        qid = D.send_id(SENDER, ["u@tls.test", "x@evil.test", "u@implicit.test"],
                        message(t, to="u@tls.test"))
        msg = lab.postfix.wait_messages("u@tls.test", 1, token=t.encode())[0]
        assert b"(using TLSv1." in msg
        for rcpt in ("x@evil.test", "u@implicit.test"):
            line = wait_log(D, rcpt, "deferred", timeout=20)[0]
            assert "status=deferred (4.7.5 " in line, line
        # No MAIL went to the MX without STARTTLS, nor to the unverified one.
        assert not [c for c in lab.evil.commands()[before:] if c.upper().startswith(b"MAIL")]
        assert not lab.postfix.messages("u@implicit.test")
        delete(D, qid)
    finally:
        D.cleanup()


# -- 9: 50 recipients, one transaction -------------------------------------------
def test_fifty_recipients_one_transaction():
    need_remote()
    t = tag("many")
    frm = "many-%s@client.test" % RUN
    rcpts = ["m%02d@many.test" % i for i in range(50)]
    A.send_id(frm, rcpts, message(t, sender=frm, to="m00@many.test"))
    for r in rcpts:
        lab.postfix.wait_messages(r, 1, token=t.encode())
    lines = [l for l in lab.postfix.log().splitlines()
             if "from=<%s>" % frm in l and "nrcpt=" in l]
    assert len(lines) == 1 and "nrcpt=50 " in lines[0], lines
    for r in rcpts:
        wait_log(A, r, "sent", timeout=5)


# -- 10: the malicious MX --------------------------------------------------------
def postern_pids(inst):
    return {c: inst.child(c).pid for c in ("qmgr", "lspawn", "resolve", "rspawn")
            if inst.child(c)}


def test_malicious_mx_cve_2020_8794():
    need_remote()
    t = tag("evil")
    rcpts = ["a@evil.test", "b@evil.test", "c@evil2.test", "w@example.test"]
    pids = postern_pids(A)
    assert set(pids) == {"qmgr", "lspawn", "resolve", "rspawn"}, pids
    e1, e2 = len(lab.evil.sessions), len(lab.evil2.sessions)
    qid = A.send_id(SENDER, rcpts, message(t, to="w@example.test"))
    # The good recipient is unaffected.
    lab.postfix.wait_messages("w@example.test", 1, token=t.encode())
    wait_log(A, "w@example.test", "sent")
    # Both malicious MXes were talked to, and every evil recipient has an
    # outcome (in state/ID or, once the message has left, in the log).
    wait_for(lambda: len(lab.evil.sessions) > e1 and len(lab.evil2.sessions) > e2, 30,
             "connections to both malicious MXes")
    wait_for(lambda: all(log_lines(A, r) for r in rcpts[:3]), 40,
             "an outcome for every evil recipient")
    # What the malicious MXes were sent: our sender, only their own
    # recipients, nothing injected.
    for mx, own in ((lab.evil, {"a@evil.test", "b@evil.test"}), (lab.evil2, {"c@evil2.test"})):
        for c in mx.commands():
            assert b"injected" not in c.lower(), c
            if c.upper().startswith(b"MAIL FROM:"):
                assert c[10:].startswith(b"<%s>" % SENDER.encode()), c
            if c.upper().startswith(b"RCPT TO:"):
                addr = c[8:].split(b">")[0].lstrip(b"<").decode()
                assert addr in own, c
    # The queue file, if the message is still queued, is as it was.
    p = queue_file(A, qid)
    if p:
        env = A.envelope(p)
        assert [v.decode() for k, v in env if k == "R"] == rcpts, env
        assert [v.decode() for k, v in env if k == "S"] == [SENDER], env
    assert not os.listdir(os.path.join(A.spool, "corrupt"))
    for idx, status, code, text in outcomes(A, qid):
        assert 0 <= idx < len(rcpts) and status in "KZD", (idx, status)
        assert not re.search(r"[\x00-\x1f\x7f]", text), repr(text)
        assert re.match(r"[245]\.\d{1,3}\.\d{1,3}$", code), code
    # qmgr's log: every to=<> is one of ours; no line was split by a CR or LF
    # from the MX (a line of its own starting with the injected text).
    log = A.log()
    for addr in re.findall(r": to=<([^>]*)>", log):
        assert "injected" not in addr, addr
    assert not re.search(r"^(X-Injected|R <injected|S injected)", log, re.M), log[-3000:]
    # Any report names evil recipients only, and no header came from the MX.
    failed = [r for r in rcpts[:3] if log_lines(A, r, "bounced")]
    if failed:
        raw = wait_report(t)
        m, parts, msgf, rs = parse_report(raw)
        assert {r["Final-Recipient"] for r in rs} <= {"rfc822; %s" % r for r in rcpts[:3]}, rs
        assert not re.search(rb"^(X-Injected|R <injected|S injected)", raw, re.M | re.I), raw
        for part in [m] + list(parts[:2]) + list(rs):
            assert "X-Injected" not in part, part.keys()
    assert not lab.postfix.messages("injected-rcpt@evil.test")
    # No Postern process died of it.
    assert A.master.poll() is None
    assert postern_pids(A) == pids, (postern_pids(A), pids)
    delete(A, qid)


# -- 11: routes --------------------------------------------------------------------
def test_route_overrides_mx():
    need_remote()
    t = tag("routed")
    A.send_id(SENDER, ["u@routed.test"], message(t, to="u@routed.test"))
    msg = lab.postfix.wait_messages("u@routed.test", 1, token=t.encode())[0]
    # The route's host and port (127.2.0.1:2525), not the MX (mx2:25).
    assert by(msg)[0] == "alt.example.test", by(msg)
    wait_log(A, "u@routed.test", "sent")


def test_smarthost_route_for_every_domain():
    need_remote(B)
    t = tag("smart")
    B.send_id(SENDER, ["smart@example.test"], message(t, to="smart@example.test"))
    msg = lab.postfix.wait_messages("smart@example.test", 1, token=t.encode())[0]
    assert by(msg)[0] == "smarthost.example.test", by(msg)
    wait_log(B, "smart@example.test", "sent")
    q = lab.dns.queries()
    assert ("127.0.0.1", "smarthost.example.test.", "A") in q, q[-20:]
    # "[name]" means no MX lookup (smarthost.example.test's MX points to mx1).
    assert ("127.0.0.1", "smarthost.example.test.", "MX") not in q, q[-20:]


# -- 12: a domain literal -----------------------------------------------------------
def test_domain_literal_recipient():
    need_remote()
    t = tag("literal")
    A.send_id(SENDER, ["lit@[127.2.0.1]"], message(t, to="lit@[127.2.0.1]"))
    msg = lab.postfix.wait_messages("lit@example.test", 1, token=t.encode())[0]
    assert by(msg)[0] == "mx1.example.test"
    assert re.search(r"to=<lit@example\.test>, orig_to=<lit@\[127\.2\.0\.1\]>",
                     lab.postfix.log())
    wait_log(A, "lit@[127.2.0.1]", "sent")


# -- 14: concurrency limits -----------------------------------------------------
class SlowSink:
    """A minimal SMTP server in the PEER namespace that holds each DATA
    reply for `hold` seconds (a slow destination, not a synchronisation)
    and counts the transactions open at once, per port and in all."""

    def __init__(self, ports, hold=0.6):
        self.hold = hold
        self.lock = threading.Lock()
        self.open = {p: 0 for p in ports}
        self.peak = {p: 0 for p in ports}
        self.total = self.peak_total = 0
        self.done = 0
        self.socks = []
        with netlab.inside(lab.peer):
            for p in ports:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((netlab.MX1, p))
                s.listen(16)
                self.socks.append(s)
                threading.Thread(target=self.accept, args=(s, p), daemon=True).start()

    def accept(self, s, port):
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c, port), daemon=True).start()

    def serve(self, c, port):
        f = c.makefile("rb")
        with self.lock:
            self.open[port] += 1
            self.total += 1
            self.peak[port] = max(self.peak[port], self.open[port])
            self.peak_total = max(self.peak_total, self.total)
        try:
            c.sendall(b"220 slow.test ESMTP\r\n")
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line[:4].upper()
                if cmd == b"EHLO":
                    c.sendall(b"250-slow.test\r\n250 8BITMIME\r\n")
                elif cmd == b"DATA":
                    c.sendall(b"354 go\r\n")
                    while f.readline() not in (b".\r\n", b""):
                        pass
                    time.sleep(self.hold)
                    with self.lock:
                        self.done += 1
                    c.sendall(b"250 2.0.0 taken\r\n")
                elif cmd == b"QUIT":
                    c.sendall(b"221 bye\r\n")
                    return
                else:
                    c.sendall(b"250 2.0.0 ok\r\n")
        finally:
            with self.lock:
                self.open[port] -= 1
                self.total -= 1
            c.close()

    def close(self):
        for s in self.socks:
            s.close()


def test_concurrency_limits_per_destination_and_in_all():
    need_remote(D)
    sink = SlowSink([2601, 2602])
    try:
        rcpts = ["c%d@slow%d.test" % (i, 1 + i % 2) for i in range(12)]
        for r in rcpts:       # one message each: 12 transactions
            D.send_id(SENDER, [r], message(tag("conc"), to=r))
        wait_for(lambda: sink.done >= 12, 60, "12 transactions at the slow sinks",
                 interval=0.1)
        for r in rcpts:
            wait_log(D, r, "sent")
        # Each destination had 6 messages, at most 2 at once; both together
        # at most 3: the limits were reached and never passed.
        assert max(sink.peak.values()) == 2, sink.peak
        assert sink.peak_total == 3, sink.peak_total
    finally:
        sink.close()
