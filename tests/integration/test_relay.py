"""Relay control and the access table (issue 3, items 3 and 4): RFC 2821
7.7 relaying only for the relay table's clients (IPv4/IPv6 CIDR) and for
authenticated users; the tricks that must never relay (percent hack, bang
path, quoted local parts, source routes, domain literals); the access
table's client, helo, sender and rcpt keys with their own text.

All on the port 25 listener, client 127.0.0.1. Tables are rewritten between
tests: enqueue opens them afresh for each session."""
import os

from harness import Instance, ensure_user, wait_for

inst = None


def setup_module():
    global inst
    ensure_user("pt-alice")
    inst = Instance("relay").start()


def teardown_module():
    inst.cleanup()


def set_table(name, entries):
    inst.tables[name] = dict(entries)
    inst.write_table(name)


def session(helo="client.test"):
    r = inst.raw()
    code, _ = r.cmd("EHLO " + helo)
    assert code == 250
    return r


def rcpt_reply(rcpt, sender="s@client.test"):
    """One transaction: MAIL, one RCPT (its reply returned), RSET, QUIT;
    and nothing left in the spool."""
    r = session()
    code, lines = r.cmd("MAIL FROM:<%s>" % sender)
    assert code == 250, lines
    code, lines = r.cmd("RCPT TO:%s" % rcpt)
    r.cmd("RSET")
    r.cmd("QUIT")
    r.close()
    assert inst.spool_files() == [], inst.spool_files()
    return code, lines[-1]


def no_relay_table():
    set_table("relay", {})


def test_unauthenticated_relay_refused():
    no_relay_table()
    code, line = rcpt_reply("<user@other.example>")
    assert line == "550 5.7.1 <user@other.example>: Relay access denied", line
    assert "reject: RCPT from [127.0.0.1]: 550 5.7.1 <user@other.example>" in inst.log()


def test_relay_table_cidr_accepts():
    set_table("relay", {"2001:db8::/32": "OK", "127.0.0.0/8": "OK"})
    try:
        code, line = rcpt_reply("<user@other.example>")
        assert code == 250, line
    finally:
        no_relay_table()


def test_relay_table_other_networks_do_not_match():
    set_table("relay", {"10.0.0.0/8": "OK", "::1": "OK", "not-an-address": "OK"})
    try:
        code, line = rcpt_reply("<user@other.example>")
        assert code == 550 and "Relay access denied" in line, line
        assert "not-an-address: not an IP address or CIDR prefix" in inst.log()
    finally:
        no_relay_table()


def test_relay_table_ipv4_mapped_key():
    set_table("relay", {"::ffff:127.0.0.1/128": "OK"})
    try:
        code, line = rcpt_reply("<user@other.example>")
        assert code == 250, line
    finally:
        no_relay_table()


# -- tricks: never relayed, always judged as local parts of our domains ----

LOCAL_TRICKS = [
    "<user%other.example@localhost>",          # percent hack
    "<other.example!user@localhost>",          # bang path
    "<\"user@other.example\"@localhost>",      # quoted local part with @
    "<\"user%other.example\"@localhost>",      # quoted local part with %
    "<\"other.example!user\"@localhost>",
]


def check_tricks(relay_allowed):
    for rcpt in LOCAL_TRICKS:
        code, line = rcpt_reply(rcpt)
        assert code == 550 and line.startswith("550 5.1.1 "), (rcpt, line)
        assert "User unknown" in line, (rcpt, line)
    # The route is dropped: the destination is other.example.
    code, line = rcpt_reply("<@localhost:user@other.example>")
    if relay_allowed:
        assert code == 250, line
    else:
        assert line == "550 5.7.1 <user@other.example>: Relay access denied", line
    code, line = rcpt_reply("<@localhost,@mx.test:user%other.example@localhost>")
    assert line.startswith("550 5.1.1 "), line
    # Domain literals are not ours unless the domains table says so.
    for lit in ("<user@[192.0.2.1]>", "<user@[127.0.0.1]>", "<user@[IPv6:::1]>",
                "<postmaster@[127.0.0.1]>"):
        code, line = rcpt_reply(lit)
        if relay_allowed:
            assert code == 250, (lit, line)
        else:
            assert code == 550 and line.endswith("Relay access denied"), (lit, line)


def test_tricks_without_relay_permission():
    no_relay_table()
    check_tricks(False)


def test_tricks_from_a_relay_client_are_still_local():
    """Even a client allowed to relay cannot make a local-domain address
    go elsewhere: the % ! and quoted forms are local parts, User unknown."""
    set_table("relay", {"127.0.0.1": "OK"})
    try:
        check_tricks(True)
    finally:
        no_relay_table()


def test_tricks_whole_message_nothing_queued():
    """A full conversation with a percent hack and a valid recipient: only
    the valid one is delivered, nothing is queued for other.example."""
    alice = ensure_user("pt-alice")
    with inst.smtp() as s:
        s.ehlo("client.test")
        s.mail("s@client.test")
        assert s.rcpt("user%other.example@localhost")[0] == 550
        assert s.rcpt("pt-alice@localhost")[0] == 250
        assert s.data(b"Subject: trick\r\n\r\nx\r\n")[0] == 250
    inst.wait_spool_empty()
    # qmgr logs a delivery after the removal that empties the spool (the
    # removal is the record): wait for the line, not only for the spool.
    wait_for(lambda: "to=<pt-alice@localhost>" in inst.log(), 10, "the delivery's log line")
    deliveries = [l for l in inst.log().splitlines() if "status=" in l]
    assert any("to=<pt-alice@localhost>" in l for l in deliveries), deliveries
    assert not any("other.example" in l for l in deliveries), deliveries


# -- the access table ----------------------------------------------------------

def mail_reply(sender="s@client.test", helo="client.test"):
    r = session(helo)
    code, lines = r.cmd("MAIL FROM:<%s>" % sender)
    r.cmd("QUIT")
    r.close()
    return code, lines[-1]


def test_access_client_cidr_reject_with_text():
    set_table("access", {"client:127.0.0.0/8": "REJECT Your network is not welcome"})
    try:
        code, line = mail_reply()
        assert line == "550 5.7.1 Your network is not welcome", line
    finally:
        set_table("access", {})
    assert mail_reply()[0] == 250


def test_access_client_exact_reject_default_text():
    set_table("access", {"client:127.0.0.1": "REJECT"})
    try:
        code, line = mail_reply()
        assert line == "550 5.7.1 Access denied", line
    finally:
        set_table("access", {})


def test_access_helo_reject():
    set_table("access", {"helo:evil.test": "REJECT Bad HELO name"})
    try:
        assert mail_reply(helo="EVIL.test")[1] == "550 5.7.1 Bad HELO name"
        assert mail_reply(helo="good.test")[0] == 250
    finally:
        set_table("access", {})


def test_access_sender_address_and_domain():
    set_table("access", {"sender:spammer@bad.test": "REJECT Go away, spammer",
                         "sender:@worse.test": "REJECT",
                         "sender:friend@worse.test": "OK"})
    try:
        assert mail_reply("Spammer@BAD.test")[1] == "550 5.7.1 Go away, spammer"
        assert mail_reply("anyone@worse.test")[1] == "550 5.7.1 Access denied"
        assert mail_reply("friend@worse.test")[0] == 250    # exact key first
        assert mail_reply("other@bad.test")[0] == 250
        assert mail_reply("")[0] == 250                      # <>
    finally:
        set_table("access", {})


def test_access_rcpt_address_and_domain():
    set_table("access", {"rcpt:demo@localhost": "REJECT demo takes no mail",
                         "rcpt:@virt.test": "REJECT virt.test is closed"})
    try:
        assert rcpt_reply("<demo@localhost>")[1] == "550 5.7.1 demo takes no mail"
        assert rcpt_reply("<v1@virt.test>")[1] == "550 5.7.1 virt.test is closed"
        assert rcpt_reply("<pt-alice@localhost>")[0] == 250
    finally:
        set_table("access", {})


def test_access_client_ok_exempts_but_does_not_open_relay():
    set_table("access", {"client:127.0.0.1": "OK",
                         "sender:spammer@bad.test": "REJECT no",
                         "helo:evil.test": "REJECT no",
                         "rcpt:demo@localhost": "REJECT no"})
    try:
        assert mail_reply("spammer@bad.test", helo="evil.test")[0] == 250
        assert rcpt_reply("<demo@localhost>", "spammer@bad.test")[0] == 250
        code, line = rcpt_reply("<user@other.example>")
        assert line.endswith("Relay access denied"), line
    finally:
        set_table("access", {})


def test_access_bad_value_and_unreadable_table_are_temporary():
    set_table("access", {"sender:x@bad.test": "MAYBE"})
    try:
        assert mail_reply("x@bad.test")[1] == "451 4.3.0 Temporary lookup failure"
        assert mail_reply("y@bad.test")[0] == 250
    finally:
        set_table("access", {})
    with open(os.path.join(inst.etc, "access.cdb"), "wb") as f:
        f.write(b"this is not a cdb")
    try:
        assert mail_reply()[1] == "451 4.3.0 Temporary lookup failure"
    finally:
        set_table("access", {})


def test_relayed_message_is_queued_and_deferred():
    """Last: it leaves a message in deferred/ (remote delivery is another
    issue, so qmgr defers it)."""
    set_table("relay", {"127.0.0.0/8": "OK"})
    try:
        with inst.smtp() as s:
            s.ehlo("client.test")
            s.mail("s@client.test")
            code, msg = s.rcpt("user@other.example")
            assert code == 250, msg
            code, msg = s.data(b"Subject: relayed\r\n\r\nhi\r\n")
            assert code == 250, msg
        wait_for(lambda: any(f.startswith("deferred/") for f in inst.spool_files()),
                 20, "the relayed message deferred")
    finally:
        no_relay_table()
