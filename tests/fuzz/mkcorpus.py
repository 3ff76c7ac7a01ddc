#!/usr/bin/env python3
"""mkcorpus.py: (re)writes the seed corpus of tests/fuzz/corpus/<harness>/.

The seeds are committed; this script is how they were made, kept so that a
new harness option or a new command can get seeds the same way. Each seed
is what a real client, file or peer sends, in the harness's input format
(see the header of each fuzz_*.c): an options byte first where the harness
has one. The queue file seeds named valid-* were written by the real writer
(qfile_begin/qfile_body/qfile_finish) and are only read here, to derive
damaged variants from them.

    python3 tests/fuzz/mkcorpus.py      # from the top of the tree
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# -- addresses: from tests/unit/test_addr.c, valid and refused ---------------
ADDRS = [
    "<user@example.org>", "<first.last@example.org>", "<User@EXAMPLE.Org>",
    "<!#$%&'*+-/=?^_`{|}~@x.org>", '<"john doe"@example.org>',
    '<"a@b%c"@example.org>', '<"say \\"hi\\""@example.org>',
    '<"back\\\\slash"@x.org>', '<"abc"@x.org>', '<" "@x.org>',
    "<@a.org,@b.org:u@c.org>", "<u@[127.0.0.1]>", "<u@[IPv6:2001:db8::1]>",
    "<u@[IPv6:::ffff:192.0.2.1]>", "<u@[x-tag:some-text]>",
    "<a@b.org> SIZE=100", "<>", "<postmaster>", "<Postmaster>",
    "<u@xn--bcher-kva.example>", "<user@example.org", "user@example.org",
    "<.u@x.org>", "<u..v@x.org>", "<u@-x.org>", "<u@x.org.>", "<u@[1.2.3]>",
    '<";sleep 66;"@x.org>', "<u@" + "a" * 63 + "." + "b" * 63 + ">",
    "<" + "l" * 65 + "@x.org>", "<u\r\n@x.org>",
]
UTF8 = ["<δοκιμή@παράδειγμα.δοκιμή>", "<用户@例子.广告>", "<\"ü ö\"@x.org>",
        "<u@\xc3(bad>"]


def addr_corpus():
    for i, a in enumerate(ADDRS):
        put("addr", "a%02d" % i, bytes([i % 8]) + a.encode())
    for i, a in enumerate(UTF8):
        put("addr", "u%02d" % i, bytes([0x02 | (i & 1)]) + a.encode("utf-8", "surrogateescape"))
    put("addr", "mailbox-postmaster", b"\x04postmaster")
    put("addr", "helo-literal", b"\x00[192.0.2.1]")


# -- command lines: whole client sessions -----------------------------------
SESSIONS = {
    "plain": "HELO client.test\r\nMAIL FROM:<s@client.test>\r\nRCPT TO:<demo@localhost>\r\n"
             "DATA\r\nQUIT\r\n",
    "esmtp": "EHLO client.test\r\nMAIL FROM:<s@client.test> SIZE=1000 BODY=8BITMIME\r\n"
             "RCPT TO:<demo@localhost>\r\nRCPT TO:<postmaster>\r\nRSET\r\nNOOP\r\nQUIT\r\n",
    "null-sender": "EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<Postmaster>\r\n",
    "space-after-colon": "MAIL FROM: <a@b.c>\r\nRCPT TO: <d@e.f>\r\n",
    "source-route": "MAIL FROM:<@a.org,@b.org:u@c.org>\r\n",
    "bad-params": "MAIL FROM:<a@b.c> SIZE=abc\r\nMAIL FROM:<a@b.c> SIZE=99999999999999999999\r\n"
                  "MAIL FROM:<a@b.c> BODY=BINARYMIME\r\nMAIL FROM:<a@b.c> X=\r\n"
                  "MAIL FROM:<a@b.c> SIZE=1 SIZE=2\r\nRCPT TO:<a@b.c> NOTIFY=NEVER\r\n",
    "dsn-utf8": "MAIL FROM:<a@b.c> RET=HDRS ENVID=QQ314159 SMTPUTF8\r\n"
                "RCPT TO:<a@b.c> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@b.c\r\n",
    "verbs": "VRFY postmaster\r\nEXPN list\r\nHELP\r\nSEND FROM:<a@b.c>\r\nSAML\r\nSOML\r\n"
             "TURN\r\nSTARTTLS\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nBDAT 100 LAST\r\nBDAT 0\r\n",
    "bare-lf": "EHLO x\nMAIL FROM:<a@b.c>\n",
    "cr-inside": "MAIL FROM:<a@b.c>\rRCPT TO:<x@y.z>\r\n",
    "nul": "MAIL FROM:<a\x00@b.c>\r\n",
    "blanks": "   \r\n\r\nmail from:<a@b.c>   \t\r\nEHLO\r\nEHLO mail_host.example\r\n"
              "HELO [IPv6:::1]\r\nHELO [300.1.1.1]\r\n",
    "quoted": 'MAIL FROM:<"x>y"@b.org> BODY=7BIT\r\nRCPT TO:<"a\\"b"@c.d>\r\n',
    "long": "MAIL FROM:<" + "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + ">\r\n"
            "RCPT TO:<" + "x" * 200 + "@y.z>\r\n",
}


def command_corpus():
    for i, (name, text) in enumerate(sorted(SESSIONS.items())):
        put("command", name, bytes([i % 8]) + text.encode("latin-1"))
    put("command", "utf8-addr", b"\x01MAIL FROM:<\xce\xb4@\xcf\x80.gr> SMTPUTF8\r\n")
    # Each distinct line alone too: small seeds mutate faster.
    lines = sorted({l for t in SESSIONS.values() for l in t.encode("latin-1").split(b"\n") if l})
    for i, l in enumerate(lines):
        put("command", "line%02d" % i, b"\x01" + l + b"\n")


# -- DATA: what follows the 354 ---------------------------------------------
DATA = {
    "simple": b"Subject: hi\r\n\r\nbody\r\n.\r\n",
    "empty": b".\r\n",
    "dots": b"line one\r\n.leading dot\r\n..two dots\r\n.\r\n",
    "stuffed-end": b"..\r\n...\r\n.\r\nQUIT\r\n",
    "smuggle-lf": b"Subject: a\r\n\r\nx\n.\nMAIL FROM:<evil@x>\r\n.\r\n",
    "smuggle-lf-crlf": b"x\n.\r\nMAIL FROM:<evil@x>\r\n.\r\n",
    "smuggle-cr": b"x\r.\r\nRCPT TO:<v@x>\r\n.\r\n",
    "bare-cr": b"a\rb\r\n.\r\n",
    "nul": b"a\x00b\r\n.\r\n",
    "long-line": b"x" * 1200 + b"\r\n.\r\n",
    "limit-line": b"y" * 998 + b"\r\n." + b"z" * 998 + b"\r\n.\r\n",
    "no-end": b"Subject: cut\r\n\r\nand the client went aw",
    "eight-bit": "Subject: 8bit\r\n\r\nGrüße, 日本語\r\n.\r\n".encode(),
    "many-lines": b"".join(b"line %d\r\n" % i for i in range(300)) + b".\r\n",
}


def data_corpus():
    # Options: the default limits, then normalize mode with BDAT chunks
    # cut small (see fuzz_data.c's header for the bits).
    for i, (name, text) in enumerate(sorted(DATA.items())):
        put("data", name, bytes([0]) + text)
        put("data", name + "-n", bytes([0x10 | (i % 8) << 5 | (i % 4)]) + text)


# -- frames: records of the pipes -------------------------------------------
def rec(t, payload):
    return t.encode() + struct.pack(">I", len(payload)) + payload


def fields(*f):
    return b"".join(x.encode() + b"\0" for x in f)


def frame_corpus():
    put("frame", "mail", rec("M", fields("s@client.test", "8BITMIME", "1000", "client.test", "ESMTP")))
    put("frame", "session", rec("M", fields("", "7BIT", "0", "x", "SMTP")) + rec("R", fields("demo@localhost"))
        + rec("B", b"") + rec("D", b"Subject: x\n\nbody\n") + rec("F", b""))
    put("frame", "replies", rec("K", fields("")) + rec("E", fields("550 5.1.1 <a@b>: User unknown"))
        + rec("K", fields("06553F1000A1B2C3D4E5F0A1B")))
    put("frame", "lspawn", rec("L", fields("7", "06553F1000A1B2C3D4E5F0A1B", "0", "demo@localhost", "v",
                                           "demo/Maildir/", "s@x.org"))
        + rec("O", fields("7", "K", "2.0.0", "delivered")))
    put("frame", "state", rec("O", fields("0", "Z", "4.3.0", "try again")) * 3)
    put("frame", "torn", rec("D", b"abcdef")[:7])
    put("frame", "badtype", b"\x01\0\0\0\0")
    put("frame", "trailing", rec("K", fields("x") + b"junk"))
    put("frame", "too-long", b"D\x00\x04\x00\x01" + b"x" * 16)
    put("frame", "empty", b"")
    put("frame", "abandon", rec("M", fields("a@b.c", "7BIT", "0", "h", "ESMTP")) + rec("A", b""))
    put("frame", "many-fields", rec("X", fields(*["f%d" % i for i in range(16)])))
    put("frame", "nul-only", rec("K", b"\0"))
    put("frame", "big-d", rec("D", b"x" * 4096) + rec("F", b""))
    put("frame", "two-torn", rec("R", fields("a@b.c")) + b"R\x00\x00")


# -- queue files: damaged variants of the writer's valid ones ----------------
def qfile_corpus():
    d = os.path.join(CORPUS, "qfile")
    good = open(os.path.join(d, "valid-one-rcpt"), "rb").read()
    put("qfile", "bad-truncated", good[:-3])
    put("qfile", "bad-after-z", good + b"x")
    put("qfile", "bad-magic", b"POSTERN2\n" + good[9:])
    put("qfile", "bad-torn-m", good.replace(b"M\x00\x00\x00", b"M\x00\x00\x01", 1))
    i = good.index(b"R\x00")
    put("qfile", "bad-repeated-r-order", good[:9] + good[i:])

    def swap(t, value):
        """good with the value of its first t record replaced."""
        j = good.index(t.encode() + b"\x00\x00")
        n = struct.unpack(">I", good[j + 1:j + 5])[0]
        return good[:j] + rec(t, value) + good[j + 5 + n:]
    put("qfile", "bad-time", swap("T", b"-1"))
    put("qfile", "bad-id", swap("I", b"../../etc/passwd"))
    put("qfile", "bad-client", swap("C", b"127.0.0.1; rm"))
    put("qfile", "bad-sender-crlf", swap("S", b"a@b.c\r\nR"))
    put("qfile", "bad-rcpt-quoted", swap("R", b'"a b@c.d'))
    put("qfile", "bad-z-length", good[:-1] + b"9")
    put("qfile", "ok-null-sender", swap("S", b""))


# -- sendmail -t header blocks: To/Cc/Bcc, groups, folds, comments ----------
def headers_corpus():
    msgs = {
        "plain": "From: me\nTo: a@x.org\nSubject: hi\n\nbody\n",
        "bcc-only": "Bcc: secret@x.org\nSubject: s\n\nbody\n",
        "to-cc-bcc": "To: A <a@x.org>, b@y.org\nCc: \"C D\" <c@z.org>\n"
                     "Bcc: hidden@x.org\nResent-Bcc: r@x.org\n\nbody\n",
        "group": "To: undisclosed: a@x.org, b@x.org;\nCc: empty:;\n\nx\n",
        "folded": "To: a@x.org,\n b@x.org,\n\tc@x.org\nBcc: d@x.org,\n"
                  "  e@x.org\n\n.\n",
        "comments": "To: a@x.org (Alice (nested)), \"q,uoted\" <b@x.org>\n\n",
        "local": "To: root, postmaster\n\n",
        "bad-angle": "To: <a@x.org\n\n",
        "bad-comment": "To: a@x.org (open\n\n",
        "bad-quote": "To: \"open <a@x.org>\n\n",
        "literal": "To: u@[127.0.0.1], v@[IPv6:::1]\n\n",
        "crlf": "To: a@x.org\r\nBcc: b@x.org\r\n\r\nbody\r\n",
        "no-body": "To: a@x.org",
        "not-header": "To: a@x.org\nthis is not a field\nBcc: b@x.org\n",
        "blank-name": "Bcc : b@x.org\nbcc:c@x.org\nBCC:\n\n",
        "encoded": "To: =?utf-8?q?J=C3=B6rg?= <j@x.org>\n\n",
        "utf8": "To: δοκιμή@παράδειγμα.δοκιμή\n\n",
        "source-route": "To: <@a.org,@b.org:u@c.org>\n\n",
    }
    for name, m in msgs.items():
        put("headers", name, m)


# -- table and aliases text files: the first byte picks the parser ----------
def table_corpus():
    tables = {
        "ok": "# comment\n\nexample.org local\nVirt.Test virtual\n",
        "ok-crlf": "a@B.org demo/Maildir/\r\n",
        "ok-blanks": "  key\t  value with blanks  \n",
        "no-value": "lonely\n",
        "dup": "a 1\nA 2\n",
        "long": "k " + "v" * 5000 + "\n",
        "cidr": "192.0.2.0/24 OK\n2001:db8::/32 REJECT go away\n",
        "no-newline": "k v",
    }
    aliases = {
        "ok": "# aliases\npostmaster: root\nList: a, b@x.org,\n  c\n"
              "pipe: \"|/usr/bin/prog arg\"\nfile: /var/mail/archive\n"
              "inc: :include:/etc/postern/list\nme: \\me, other\n",
        "no-colon": "name value\n",
        "bad-name": "a b: c\n",
        "empty-list": "x:\n",
        "continued-first": "  continues nothing\n",
        "dup": "a: b\nA: c\n",
        "quotes": "q: \"unterminated\n",
        "relative": "r: :include:relative\n",
    }
    for name, t in tables.items():
        put("table", "table-" + name, b"\0" + t.encode())
    for name, t in aliases.items():
        put("table", "aliases-" + name, b"\1" + t.encode())


# -- DNS answers (resolve/dns.c): an options byte, then the packet ---------
def dns_corpus():
    def name(n):
        out = b""
        for label in n.split(".") if n else []:
            out += bytes([len(label)]) + label.encode()
        return out + b"\0"

    def rr(owner, rtype, ttl, rdata):
        return name(owner) + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata

    def packet(qname, qtype, rcode, an=(), ns=()):
        hdr = struct.pack(">HHHHHH", 0x1234, 0x8180 | rcode, 1, len(an), len(ns), 0)
        return hdr + name(qname) + struct.pack(">HH", qtype, 1) + b"".join(an) + b"".join(ns)

    def mx(owner, pref, host, ttl=300):
        return rr(owner, 15, ttl, struct.pack(">H", pref) + name(host))

    soa = rr("example.org", 6, 3600, name("ns.example.org") + name("hm.example.org") +
             struct.pack(">IIIII", 1, 3600, 600, 86400, 300))
    a4 = rr("example.org", 1, 60, bytes([192, 0, 2, 1]))
    a6 = rr("example.org", 28, 60, bytes([0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [1]))
    seeds = {
        "mx": (0, packet("example.org", 15, 0, [mx("example.org", 10, "mx1.example.org"),
                                                 mx("example.org", 20, "mx2.example.org")])),
        "mx-equal": (0x30, packet("example.org", 15, 0, [mx("example.org", 10, "a.example.org"),
                                                         mx("example.org", 10, "b.example.org")])),
        "null-mx": (0, packet("example.org", 15, 0, [mx("example.org", 0, "")])),
        "bad-target": (0, packet("example.org", 15, 0, [mx("example.org", 10, "bad_x.example.org")])),
        "nxdomain": (0, packet("example.org", 15, 3, ns=[soa])),
        "nodata": (0, packet("example.org", 15, 0, ns=[soa])),
        "servfail": (0, packet("example.org", 15, 2)),
        "a": (1, packet("example.org", 1, 0, [a4])),
        "aaaa": (2, packet("example.org", 28, 0, [a6])),
        "mode-a": (9, packet("example.org", 1, 0, [a4])),
        "cname": (0, packet("example.org", 15, 0, [rr("example.org", 5, 60, name("other.example.net")),
                                                    mx("other.example.net", 5, "mx.example.net")])),
        "cname-loop": (4, packet("example.org", 15, 0, [rr("example.org", 5, 60, name("b.example.org")),
                                                         rr("b.example.org", 5, 60, name("example.org"))])),
        # MX target "mx1" + a pointer to the question's name
        "compressed": (0, packet("example.org", 15, 0, [b"\xc0\x0c" + struct.pack(">HHIH", 15, 1, 60, 8) +
                                                         struct.pack(">H", 10) + b"\x03mx1\xc0\x0c"])),
        "pointer-loop": (0, packet("example.org", 15, 0, [b"\xc0\x1d\xc0\x1b" + struct.pack(">HHIH", 15, 1, 60, 0)])),
    }
    for n, (opt, data) in seeds.items():
        put("dns", n, bytes([opt]) + data)
# -- replies: what an SMTP server says to the remote client (fuzz_reply) --------
def reply_corpus():
    seeds = {
        "greeting": b"220 mx.example.org ESMTP Postfix\r\n",
        "ehlo": b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
                b"250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
                b"250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
        "ehlo-lower": b"250-x\r\n250-size\r\n250-pipelining\r\n250 starttls\r\n",
        "rcpt-550": b"550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in "
                    b"local recipient table\r\n",
        "greylist": b"450-4.7.1 <a@b>: Recipient address rejected:\r\n450 4.7.1 Greylisted, "
                    b"see http://example/\r\n",
        "short-25": b"25\r\n",
        "empty-cont": b"250-\r\n250 ok\r\n",
        "mismatch": b"250-a\r\n251 b\r\n",
        "cr-inside": b"550 5.1.1 bad\r250 2.1.5 fake\r\n",
        "nul-inside": b"550 5.1.1 a\0b\r\n",
        "escape": b"550 x\x1b[2J\x7f\r\n",
        "bare": b"250\n",
        "data-354": b"354 End data with <CR><LF>.<CR><LF>\r\n",
        "bare-lf": b"220 x\n",
        "no-end": b"250-more\r\n",
        "message": b"Subject: x\n\n.leading\n..two\nlone\rcr\r\nmid.dot\n.\nno final newline",
        "long-line": b"250 " + b"x" * 1100 + b"\r\n",
        "enhanced-wrong-class": b"550 4.1.1 confused\r\n",
    }
    for name, data in seeds.items():
        put("reply", name, data)


if __name__ == "__main__":
    addr_corpus()
    command_corpus()
    data_corpus()
    frame_corpus()
    qfile_corpus()
    headers_corpus()
    table_corpus()
    dns_corpus()
    reply_corpus()
