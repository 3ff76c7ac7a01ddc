"""The remote-delivery test lab (netlab.py), proven with stock tools: from
inside the MTA namespace, unbound on 127.0.0.53 (and only there) answers
for the test zone (MX, A, null MX, NXDOMAIN, REFUSED), glibc's resolver
finds it through /etc/netns/MTA/resolv.conf, and swaks delivers to the
private Postfix in the PEER namespace across the veth link: the message
lands in Postfix's Maildir, over STARTTLS when asked, and Postfix answers
550 for unknown users and 450 when the lab's policy server says so. The
malicious MX says what its script says. Loopback addresses only."""
import os
import re
import socket

import netlab
from harness import wait_for

TOKEN = os.urandom(6).hex()
lab = None


def setup_module():
    global lab
    lab = netlab.Lab().start()


def teardown_module():
    if lab:
        lab.stop()
        # Everything is gone: namespaces, their resolv.conf, processes.
        assert not os.path.exists(os.path.join(netlab.NETNS_DIR, lab.mta))
        assert not os.path.exists(os.path.join(netlab.ETC_NETNS, lab.peer))


def failure_log():
    return lab.log() if lab else ""


def test_namespaces_addresses_and_resolv_conf():
    mta = netlab._ip("-n", lab.mta, "-4", "addr", "show")
    peer = netlab._ip("-n", lab.peer, "-4", "addr", "show")
    assert "inet 127.1.0.1/32" in mta and "inet 127.1.0.53/32" in mta, mta
    for a in netlab.PEER_ADDRS:
        assert "inet %s/32" % a in peer, peer
    # Every address either side holds is a loopback one.
    for out in (mta, peer):
        for a in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)", out):
            assert a.startswith("127."), a
    assert lab.resolv_conf() == "nameserver 127.0.0.53\n"
    # "ip netns exec" binds it over /etc/resolv.conf.
    r = netlab.ns_run(lab.mta, ["cat", "/etc/resolv.conf"])
    assert r.stdout == b"nameserver 127.0.0.53\n", r.stdout
    # inside() gives the thread back its own namespace.
    before = os.readlink("/proc/thread-self/ns/net")
    with netlab.inside(lab.mta):
        assert os.readlink("/proc/thread-self/ns/net") != before
    assert os.readlink("/proc/thread-self/ns/net") == before


def test_unbound_answers_the_zone_on_127_0_0_53_only():
    with netlab.inside(lab.mta):
        rc, ans = netlab.dns_query("example.test", "MX")
        assert rc == "NOERROR" and [a[2] for a in ans] == [(10, "mx1.example.test.")], ans
        rc, ans = netlab.dns_query("equal.test", "MX")
        assert sorted(a[2] for a in ans) == [(10, "mx1.example.test."), (10, "mx2.example.test.")]
        assert all(a[1] == 0 for a in ans), ans         # TTL 0: never cached
        rc, ans = netlab.dns_query("backup.test", "MX")
        assert sorted(a[2] for a in ans) == [(10, "dead.example.test."), (20, "mx2.example.test.")]
        rc, ans = netlab.dns_query("nullmx.test", "MX")
        assert [a[2] for a in ans] == [(0, ".")], ans
        rc, ans = netlab.dns_query("mx.evil.test", "A")
        assert [a[2] for a in ans] == [netlab.EVIL], ans
        rc, ans = netlab.dns_query("implicit.test", "MX")
        assert rc == "NOERROR" and ans == [], ans       # no MX: the implicit MX
        assert netlab.dns_query("nosuch.test", "MX")[0] == "NXDOMAIN"
        assert netlab.dns_query("example.org", "A")[0] == "NXDOMAIN"   # never the Internet
        assert netlab.dns_query("x.tempfail.test", "MX")[0] == "REFUSED"
        assert netlab.dns_query("servfail.test", "MX")[0] == "SERVFAIL"
        rc, ans = netlab.dns_query("1.0.1.127.in-addr.arpa", "PTR")
        assert [a[2] for a in ans] == ["postern.test."], ans
        # Nothing answers on the default 127.0.0.1: a resolver that fell
        # back to it gets no answer.
        try:
            netlab.dns_query("example.test", "MX", server="127.0.0.1", timeout=1)
            raise AssertionError("something answers DNS on 127.0.0.1 in %s" % lab.mta)
        except (ConnectionRefusedError, socket.timeout):
            pass
    # The peer's resolver (Postfix's reverse lookups) reaches unbound across the link.
    with netlab.inside(lab.peer):
        rc, ans = netlab.dns_query("mx2.example.test", "A", server=netlab.PEER_DNS)
        assert [a[2] for a in ans] == [netlab.MX2], ans
    # unbound logged the queries, with the client that asked.
    assert ("127.0.0.1", "nullmx.test.", "MX") in lab.dns.queries(), lab.dns.log()[-2000:]


def test_glibc_resolver_in_mta_uses_the_lab_dns():
    r = netlab.ns_run(lab.mta, ["getent", "ahosts", "mx1.example.test"])
    assert r.stdout.split()[0] == b"127.2.0.1", r.stdout
    r = netlab.ns_run(lab.mta, ["getent", "ahostsv4", "smarthost.example.test"])
    assert r.stdout.split()[0] == b"127.2.0.2", r.stdout
    r = netlab.ns_run(lab.mta, ["getent", "ahosts", "nosuch.test"], check=False)
    assert r.returncode == 2, r.stdout                # not found


def test_swaks_delivers_to_postfix_maildir():
    tag = "plain-" + TOKEN
    out = lab.swaks("--server", netlab.MX1, "--to", "lab@example.test",
                    "--from", "sender@postern.test", "--header", "Subject: " + tag,
                    "--body", "lab body %s\n.a line with a dot\n" % tag)
    assert "250 2.0.0 Ok: queued as" in out, out
    msg = lab.postfix.wait_messages("lab@example.test", 1, token=tag.encode())[0]
    assert netlab.received_by(msg)[0] == "mx1.example.test", msg[:600]
    # Postfix saw the client's loopback address across the link, and its
    # reverse lookup went through the lab's DNS.
    assert b"from postern.test (postern.test [127.1.0.1])" in msg, msg[:600]
    assert b"\n.a line with a dot\n" in msg
    # Postfix logs the delivery after it wrote the file: waited for
    log = wait_for(lambda: (lambda l: re.search(r"to=<lab@example\.test>, relay=virtual, .*status=sent", l)
                            and l)(lab.postfix.log()), 10, "Postfix's delivery log line")
    assert re.search(r"postfix/mx1/smtpd\[\d+\]: connect from postern\.test\[127\.1\.0\.1\]", log), log[-2000:]


def test_swaks_starttls_to_the_second_mx():
    tag = "tls-" + TOKEN
    out = lab.swaks("--server", netlab.MX2, "--tls", "--to", "u@tls.test",
                    "--from", "sender@postern.test", "--header", "Subject: " + tag)
    assert "STARTTLS" in out and "250 2.0.0 Ok: queued as" in out, out
    msg = lab.postfix.wait_messages("u@tls.test", 1, token=tag.encode())[0]
    assert netlab.received_by(msg)[0] == "mx2.example.test"
    assert re.search(rb"with ESMTPS id", msg) and b"(using TLSv1." in msg, msg[:800]
    lab.postfix.wait_log(r"postfix/mx2/smtpd\[\d+\]: \w+ TLS connection established from "
                         r"postern\.test\[127\.1\.0\.1\]", 10)
    req = lab.policy.seen("u@tls.test")[-1]
    assert req["encryption_protocol"].startswith("TLSv1."), req
    assert req["client_address"] == "127.1.0.1" and req["instance"], req


def test_postfix_550_for_unknown_and_450_on_demand():
    out = lab.swaks("--server", netlab.MX1, "--to", "nobody@example.test", check=False)
    assert re.search(r"<\*\* 550 5\.1\.1 <nobody@example\.test>: Recipient address rejected: "
                     r"User unknown in virtual mailbox table", out), out
    lab.policy.defer("v@example.test")
    out = lab.swaks("--server", netlab.MX1, "--to", "v@example.test", check=False)
    assert re.search(r"<\*\* 450 4\.2\.0 <v@example\.test>: Recipient address rejected", out), out
    lab.policy.lift("v@example.test")
    out = lab.swaks("--server", netlab.MX1, "--to", "v@example.test",
                    "--header", "Subject: lifted-" + TOKEN)
    assert "250 2.0.0 Ok: queued as" in out, out
    lab.postfix.wait_messages("v@example.test", 1, token=("lifted-" + TOKEN).encode())
    assert len(lab.policy.seen("v@example.test")) == 2


def test_domain_literal_and_other_listeners():
    tag = "lit-" + TOKEN
    out = lab.swaks("--server", netlab.MX1, "--to", "lit@[127.2.0.1]",
                    "--header", "Subject: " + tag)
    assert "250 2.0.0 Ok: queued as" in out, out
    lab.postfix.wait_messages("lit@example.test", 1, token=tag.encode())
    for port, name, rcpt in ((netlab.ALT_PORT, "alt.example.test", "u@routed.test"),):
        out = lab.swaks("--server", netlab.MX1, "--port", str(port), "--to", rcpt,
                        "--header", "Subject: alt-" + TOKEN)
        assert "250 2.0.0 Ok: queued as" in out, out
        msg = lab.postfix.wait_messages(rcpt, 1, token=("alt-" + TOKEN).encode())[0]
        assert netlab.received_by(msg)[0] == name
    # The dead address refuses.
    with netlab.inside(lab.mta):
        try:
            socket.create_connection((netlab.DEAD, 25), timeout=5).close()
            raise AssertionError("something listens on the dead address")
        except ConnectionRefusedError:
            pass


def test_malicious_mx_speaks_its_script():
    with netlab.inside(lab.mta):
        s = socket.create_connection((netlab.EVIL, 25), timeout=10)
    with s:
        f = s.makefile("rb")
        assert f.readline() == b"220 mx.evil.test ESMTP ready\r\n"
        s.sendall(b"EHLO postern.test\r\n")
        assert [f.readline() for _ in range(3)] == [b"250-mx.evil.test\r\n", b"250-\r\n",
                                                    b"250 8BITMIME\r\n"]
        s.sendall(b"MAIL FROM:<a@postern.test>\r\n")
        f.readline()
        s.sendall(b"RCPT TO:<x@evil.test>\r\n")
        first = b"".join(f.readline() for _ in range(4))
        assert first.startswith(b"553-\r\n553-5.1.1 first line\rX-Injected"), first
        assert b"no such user\nR <injected-rcpt@evil.test>\n" in first, first
        s.sendall(b"RCPT TO:<y@evil.test>\r\n")
        # the rest of the first reply, then the 2-byte line
        wait_for(lambda: b"25\r\n" in f.readline(), 10, "the short reply line")
        s.sendall(b"QUIT\r\n")
    wait_for(lambda: b"RCPT TO:<y@evil.test>" in lab.evil.commands(), 10, "the evil MX's record")
    with netlab.inside(lab.mta):
        s = socket.create_connection((netlab.EVIL2, 25), timeout=10)
    with s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"EHLO postern.test\r\n")
        assert [f.readline() for _ in range(3)] == [b"250-mx.evil2.test\r\n", b"250-\r\n",
                                                    b"25\r\n"]
