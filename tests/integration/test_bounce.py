"""Delivery status notifications (issue 4, item 4, the qmgr part): RFC 3464
reports for local failures, built by qmgr and queued with the null sender;
RET=HDRS/FULL, ENVID and ORCPT echoed; NOTIFY=NEVER and SUCCESS honoured;
never a report to the null sender; a failed report goes to postmaster once
and a failure of that is dropped; queue_lifetime_seconds expiry (4.4.7)
and one delay warning (delay_warning_seconds)."""
import email
import os
import re
import time

from harness import Instance, ensure_user, maildir_messages, wait_for

RUN = os.urandom(4).hex()
A = B = None
sender = rcptu = pmu = None

FAIL_PIPE = "\"|/bin/sh -c 'echo no such mailbox here >&2; exit 67'\""


def setup_module():
    global A, B, sender, rcptu, pmu
    sender = ensure_user("pt-bounce")
    rcptu = ensure_user("pt-brcpt")
    pmu = ensure_user("pt-bpm")
    A = Instance("bounce", tables={"aliases": {
        "postmaster:": "pt-bpm",
        "fail67:": FAIL_PIPE,
        "badsender:": FAIL_PIPE,
        "loop-a:": "loop-b",
        "loop-b:": "loop-a",
    }})
    A.postern("newaliases")
    A.start()
    B = Instance("bounce-expiry", conf={"queue_lifetime_seconds": "6",
                                         "delay_warning_seconds": "1",
                                         "qmgr_rescan_seconds": "1"},
                 tables={"aliases": {
                     "postmaster:": FAIL_PIPE,
                     "badsender:": FAIL_PIPE,
                     "fail67:": FAIL_PIPE,
                 }})
    B.postern("newaliases")
    B.start()


def teardown_module():
    for i in (A, B):
        if i is not None:
            i.cleanup()


def failure_log():
    return (A.log() if A else "") + (B.log() if B else "")


def md(user):
    return os.path.join(user.pw_dir, "Maildir")


def tagged(user, tag):
    t = ("%s-%s" % (tag, RUN)).encode()
    return [m for m in maildir_messages(md(user)) if t in m]


def send(inst, frm, rcpts, tag, mail_options=(), rcpt_options=(), body="body line\r\n"):
    tag = "%s-%s" % (tag, RUN)
    msg = ("From: <%s>\r\nSubject: %s\r\n\r\n%s" % (frm or "x@y", tag, body)).encode()
    with inst.smtp() as s:
        s.ehlo("client.test")
        s.sendmail(frm, rcpts, msg, mail_options=list(mail_options),
                   rcpt_options=list(rcpt_options))


def report(raw):
    m = email.message_from_bytes(raw)
    assert m.get_content_type() == "multipart/report", m.get_content_type()
    assert m.get_param("report-type") == "delivery-status"
    parts = m.get_payload()
    assert [p.get_content_type() for p in parts][:2] == ["text/plain",
                                                         "message/delivery-status"]
    blocks = parts[1].get_payload()
    return m, parts, blocks[0], blocks[1:]


def wait_report(user, tag, n=1, timeout=30):
    return wait_for(lambda: len(tagged(user, tag)) >= n and tagged(user, tag), timeout,
                    "%d report(s) tagged %s for %s" % (n, tag, user.pw_name))


def test_failed_report_with_headers_only():
    send(A, "pt-bounce@localhost", ["fail67@localhost"], "hdrs",
         mail_options=["RET=HDRS", "ENVID=env+3Done"],
         rcpt_options=["NOTIFY=FAILURE", "ORCPT=rfc822;orig+2Bx@example.org"])
    raw = wait_report(sender, "hdrs")[0]
    m, parts, msgf, rcpts = report(raw)
    assert m["From"].startswith("MAILER-DAEMON@mx.test")
    assert m["To"] == "<pt-bounce@localhost>"
    assert m["Subject"] == "Undelivered Mail Returned to Sender"
    assert m["Auto-Submitted"] == "auto-replied"
    assert m["Message-ID"] and m["Date"]
    assert raw.startswith(b"Return-Path: <>\n")
    assert msgf["Reporting-MTA"] == "dns; mx.test"
    assert msgf["X-Postern-Queue-ID"] != m["Message-ID"].strip("<>").split("@")[0]
    assert msgf["Original-Envelope-Id"] == "env=one"
    assert email.utils.parsedate_to_datetime(msgf["Arrival-Date"])
    assert len(rcpts) == 1
    r = rcpts[0]
    assert r["Final-Recipient"] == "rfc822; fail67@localhost"
    assert r["Original-Recipient"] == "rfc822;orig+x@example.org"
    assert r["Action"] == "failed"
    assert re.match(r"5\.\d+\.\d+$", r["Status"]), r["Status"]
    assert r["Diagnostic-Code"].startswith("x-unix; ")
    assert "67" in r["Diagnostic-Code"], r["Diagnostic-Code"]
    assert email.utils.parsedate_to_datetime(r["Last-Attempt-Date"])
    assert parts[2].get_content_type() == "text/rfc822-headers"
    orig = parts[2].get_payload()
    assert ("hdrs-" + RUN) in orig and "body line" not in orig


def test_three_recipients_one_fails_full():
    ensure_user("pt-brcpt")
    send(A, "pt-bounce@localhost", ["pt-brcpt@localhost", "demo@localhost",
                                    "loop-a@localhost"], "full",
         mail_options=["RET=FULL"], body="the whole body\r\n")
    raw = wait_report(sender, "full")[0]
    m, parts, msgf, rcpts = report(raw)
    assert [r["Final-Recipient"] for r in rcpts] == ["rfc822; loop-a@localhost"]
    assert rcpts[0]["Action"] == "failed" and rcpts[0]["Status"] == "5.4.6"
    assert "loop" in rcpts[0]["Diagnostic-Code"]
    assert "Original-Recipient" not in rcpts[0]
    assert parts[2].get_content_type() == "message/rfc822"
    inner = parts[2].get_payload()[0]
    assert inner["Subject"] == "full-" + RUN
    assert "the whole body" in inner.get_payload()
    assert tagged(rcptu, "full")                     # the others were delivered


def test_notify_never_no_report():
    send(A, "pt-bounce@localhost", ["fail67@localhost"], "never",
         rcpt_options=["NOTIFY=NEVER"])
    wait_for(lambda: re.search(r"to=<fail67@localhost>, relay=local, .*status=bounced", A.log()),
             30, "the failure")
    A.wait_spool_empty(strict=True)
    assert not tagged(sender, "never")


def test_notify_success_delivered_report():
    send(A, "pt-bounce@localhost", ["pt-brcpt@localhost"], "success",
         rcpt_options=["NOTIFY=SUCCESS"])
    raw = wait_report(sender, "success")[0]
    m, parts, msgf, rcpts = report(raw)
    assert m["Subject"] == "Successful Mail Delivery Report"
    assert len(rcpts) == 1
    assert rcpts[0]["Action"] == "delivered" and rcpts[0]["Status"] == "2.0.0"
    assert rcpts[0]["Final-Recipient"] == "rfc822; pt-brcpt@localhost"


def test_null_sender_failure_dropped():
    send(A, "", ["fail67@localhost"], "nullsender")
    wait_for(lambda: re.search(r"([0-9A-F]+): undeliverable bounce dropped", A.log()),
             30, "the drop log line")
    A.wait_spool_empty(strict=True)
    assert not tagged(sender, "nullsender") and not tagged(pmu, "nullsender")


def test_failed_report_goes_to_postmaster_once():
    send(A, "badsender@localhost", ["loop-a@localhost"], "double")
    # postmaster gets the report about the report, whose original is the
    # whole first report (small: no RET means FULL), tag included.
    def pm_reports():
        out = []
        for raw in maildir_messages(md(pmu)):
            if (b"Final-Recipient: rfc822; badsender@localhost" in raw and
                    ("double-" + RUN).encode() in raw):
                out.append(raw)
        return out
    got = wait_for(pm_reports, 30, "the double bounce at postmaster")
    A.wait_spool_empty(strict=True)
    assert len(pm_reports()) == 1
    m, parts, msgf, rcpts = report(got[0])
    assert m["To"] == "<postmaster>"
    assert rcpts[0]["Action"] == "failed"


def test_double_bounce_failure_dropped():
    send(B, "badsender@localhost", ["fail67@localhost"], "double2")
    wait_for(lambda: "undeliverable double bounce dropped" in B.log(), 30,
             "the double bounce dropped")
    B.wait_spool_empty(strict=True)


def blocked(user):
    os.makedirs(os.path.join(md(user), "tmp"), exist_ok=True)
    os.makedirs(os.path.join(md(user), "new"), exist_ok=True)
    os.makedirs(os.path.join(md(user), "cur"), exist_ok=True)
    for d in ("", "tmp", "new", "cur"):
        os.chown(os.path.join(md(user), d), user.pw_uid, user.pw_gid)
    os.chmod(os.path.join(md(user), "tmp"), 0o500)


def test_delay_warning_once_then_delivered():
    blocked(rcptu)
    try:
        send(B, "pt-bounce@localhost", ["pt-brcpt@localhost"], "delay")
        raw = wait_report(sender, "delay")[0]
        m, parts, msgf, rcpts = report(raw)
        assert m["Subject"] == "Delayed Mail (still being retried)"
        assert rcpts[0]["Action"] == "delayed"
        assert rcpts[0]["Status"].startswith("4.")
        assert rcpts[0]["Will-Retry-Until"]
    finally:
        os.chmod(os.path.join(md(rcptu), "tmp"), 0o700)
    wait_for(lambda: tagged(rcptu, "delay"), 30, "the delivery after the warning")
    B.wait_spool_empty(strict=True)
    time.sleep(1.5)
    assert len(tagged(sender, "delay")) == 1


def test_expiry_bounces_with_4_4_7():
    blocked(rcptu)
    try:
        send(B, "pt-bounce@localhost", ["pt-brcpt@localhost"], "expire")
        def failed():
            for raw in tagged(sender, "expire"):
                if b"Action: failed" in raw:
                    return raw
            return None
        raw = wait_for(failed, 40, "the expiry report")
        m, parts, msgf, rcpts = report(raw)
        assert rcpts[0]["Action"] == "failed" and rcpts[0]["Status"] == "4.4.7"
        assert "expired" in rcpts[0]["Diagnostic-Code"]
        B.wait_spool_empty(strict=True)
        assert re.search(r"status=expired \(4\.4\.7", B.log())
    finally:
        os.chmod(os.path.join(md(rcptu), "tmp"), 0o700)
    assert not tagged(rcptu, "expire")
