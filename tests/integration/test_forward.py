"""~/.forward (issue 5, items 2 and 8): read by lspawn's child as the user,
expanded by qmgr like an alias (docs/tables.md, ".forward"). Forwarding to
another user, "\\self" and the bare own name (the mailbox, once), a chain of
.forward files, |command and /file run as the forwarding user, the unsafe
.forward files that are ignored (group-writable, a symlink, owned by someone
else, in a group-writable home, with :include:), loops through .forward
files and through an alias (5.4.6, nothing delivered), and an envelope
sender full of shell syntax that is only ever a value."""
import os
import re

from harness import Instance, ensure_user, maildir_messages, wait_for

inst = None
A = B = C = None
# System users' Maildirs outlive a run: every tag carries this run's token.
RUN = os.urandom(4).hex()


def setup_module():
    global inst, A, B, C
    A = ensure_user("pt-fwa")
    B = ensure_user("pt-fwb")
    C = ensure_user("pt-fwc")
    for u in (A, B, C):
        clear(u)
    inst = Instance("forward")
    with open(os.path.join(inst.etc, "aliases"), "w") as f:
        f.write("postmaster: root\nfwlist: pt-fwa\n")
    inst.postern("newaliases")
    inst.start()


def teardown_module():
    for u in (A, B, C):
        if u is not None:
            clear(u)
    if inst is not None:
        inst.cleanup()


def failure_log():
    return inst.log()


def clear(u):
    """No .forward, a home that only its user may write: the start state."""
    p = os.path.join(u.pw_dir, ".forward")
    if os.path.lexists(p):
        os.unlink(p)
    os.chmod(u.pw_dir, 0o755)


def forward(u, text, mode=0o644, owner=None):
    p = os.path.join(u.pw_dir, ".forward")
    if os.path.lexists(p):
        os.unlink(p)
    with open(p, "w") as f:
        f.write(text)
    o = owner or u
    os.chown(p, o.pw_uid, o.pw_gid)
    os.chmod(p, mode)


def md(u):
    return os.path.join(u.pw_dir, "Maildir")


def send(rcpt, tag, sender="s@client.test"):
    tag = "%s-%s" % (tag, RUN)
    inst.send(sender, [rcpt], ("Subject: %s\r\n\r\n%s\r\n" % (tag, tag)).encode())


def got(u, tag):
    tag = "%s-%s" % (tag, RUN)
    return [m for m in maildir_messages(md(u)) if tag.encode() in m]


def done():
    inst.wait_spool_empty()


def test_forward_to_another_user():
    forward(A, "# to b\npt-fwb\n")
    try:
        send("pt-fwa@localhost", "to-other")
        m = wait_for(lambda: got(B, "to-other"), 30, "forwarded mail at b")
        done()
        assert not got(A, "to-other")
        assert len(got(B, "to-other")) == 1
        # Delivered-To: stays the original recipient
        assert m[0].startswith(b"Return-Path: <s@client.test>\nDelivered-To: <pt-fwa@localhost>\n"), m[0][:200]
        # nothing in state/ for the 'F': one outcome, the targets' one
        # (logged after the removal that empties the spool: waited for)
        wait_for(lambda: re.search(r"to=<pt-fwa@localhost>, relay=local, .*status=sent", inst.log()),
                 10, "the delivery's log line")
    finally:
        clear(A)


def test_self_and_other_each_once():
    for text, tag in (("\\pt-fwa, pt-fwb\n", "self-bs"), ("pt-fwa\npt-fwb@localhost\n", "self-bare")):
        forward(A, text)
        try:
            send("pt-fwa@localhost", tag)
            wait_for(lambda: got(A, tag) and got(B, tag), 30, "mail at a and b (%s)" % tag)
            done()
            assert (len(got(A, tag)), len(got(B, tag))) == (1, 1), tag
        finally:
            clear(A)


def test_chain_of_forwards():
    forward(A, "pt-fwb\n")
    forward(B, "pt-fwc\n")
    try:
        send("pt-fwa@localhost", "chain")
        wait_for(lambda: got(C, "chain"), 30, "mail at c through two .forward files")
        done()
        assert not got(A, "chain") and not got(B, "chain")
    finally:
        clear(A)
        clear(B)


def test_command_and_file_run_as_the_user():
    uid_out = os.path.join(A.pw_dir, "fwd-uid.out")
    box = os.path.join(A.pw_dir, "fwd.mbox")
    for p in (uid_out, box):
        if os.path.exists(p):
            os.unlink(p)
    forward(A, '"|cat > /dev/null; id -u > %s"\n%s\n' % (uid_out, box))
    try:
        send("pt-fwa@localhost", "cmdfile")
        wait_for(lambda: os.path.exists(box) and os.path.exists(uid_out) and
                 open(uid_out).read().strip(), 30, "the command and the file")
        done()
        assert open(uid_out).read().strip() == str(A.pw_uid)
        assert os.stat(uid_out).st_uid == A.pw_uid
        data = open(box, "rb").read()
        assert data.startswith(b"From s@client.test "), data[:200]
        assert b"Delivered-To: <pt-fwa@localhost>\n" in data
        assert os.stat(box).st_uid == A.pw_uid
        assert not got(A, "cmdfile")
    finally:
        clear(A)
        for p in (uid_out, box):
            if os.path.exists(p):
                os.unlink(p)


def ignored(tag, why):
    """The .forward of a says b, but is unsafe: a gets it, b does not."""
    send("pt-fwa@localhost", tag)
    wait_for(lambda: got(A, tag), 30, "mail at a's mailbox (%s)" % tag)
    done()
    assert not got(B, tag)
    assert re.search(r"\.forward of pt-fwa ignored \(%s\): mail goes to the mailbox" % re.escape(why),
                     inst.log()), why


def test_group_writable_forward_ignored():
    forward(A, "pt-fwb\n", mode=0o664)
    try:
        ignored("gw", "group- or world-writable")
    finally:
        clear(A)


def test_symlink_forward_ignored():
    real = os.path.join(A.pw_dir, "real-forward")
    forward(A, "pt-fwb\n")
    os.rename(os.path.join(A.pw_dir, ".forward"), real)
    os.symlink(real, os.path.join(A.pw_dir, ".forward"))
    try:
        ignored("symlink", "a symbolic link")
    finally:
        clear(A)
        os.unlink(real)


def test_forward_owned_by_another_user_ignored():
    forward(A, "pt-fwb\n", owner=B)
    try:
        ignored("owner", "not owned by its user")
    finally:
        clear(A)


def test_group_writable_home_ignored():
    forward(A, "pt-fwb\n")
    os.chmod(A.pw_dir, 0o775)
    try:
        ignored("home", "in a group- or world-writable home directory")
    finally:
        clear(A)


def test_include_refused():
    forward(A, "pt-fwb, :include:/etc/passwd\n")
    try:
        ignored("include", '":include:" is not allowed there')
    finally:
        clear(A)


def test_forward_loop_bounced():
    forward(A, "pt-fwb\n")
    forward(B, "pt-fwa\n")
    try:
        send("pt-fwa@localhost", "loop")
        wait_for(lambda: re.search(r"to=<pt-fwa@localhost>, relay=local, .*status=bounced "
                                   r"\(5\.4\.6 .*forward loop: pt-fwa -> pt-fwb -> pt-fwa\)",
                                   inst.log()), 30, "the loop bounced with 5.4.6")
        done()
        assert not got(A, "loop") and not got(B, "loop")
    finally:
        clear(A)
        clear(B)


def test_forward_to_an_alias_leading_back_bounced():
    forward(A, "fwlist\n")
    try:
        send("pt-fwa@localhost", "aloop")
        wait_for(lambda: re.search(r"to=<pt-fwa@localhost>, relay=local, .*status=bounced "
                                   r"\(5\.4\.6 forward loop: pt-fwa -> fwlist -> pt-fwa\)",
                                   inst.log()), 30, "the loop through an alias bounced")
        done()
        assert not got(A, "aloop")
    finally:
        clear(A)


def test_sender_never_executed():
    marker = "/tmp/postern-fwd-pwned-%s" % RUN
    env_out = os.path.join(A.pw_dir, "fwd-env.out")
    if os.path.exists(env_out):
        os.unlink(env_out)
    sender = "`touch${IFS}%s`@client.test" % marker
    forward(A, '"|cat > /dev/null; env > %s"\n' % env_out)
    try:
        r = inst.raw()            # byte-exact: no client-side rewriting
        r.cmd("EHLO client.test")
        assert r.cmd("MAIL FROM:<%s>" % sender)[0] == 250
        assert r.cmd("RCPT TO:<pt-fwa@localhost>")[0] == 250
        assert r.cmd("DATA")[0] == 354
        assert r.cmd("Subject: odd\r\n\r\nx\r\n.")[0] == 250
        r.cmd("QUIT")
        r.close()
        wait_for(lambda: os.path.exists(env_out) and "SENDER=" in open(env_out).read(), 30,
                 "the command's environment")
        done()
        assert "SENDER=%s\n" % sender in open(env_out).read()
        assert not os.path.exists(marker)
    finally:
        clear(A)
        if os.path.exists(env_out):
            os.unlink(env_out)
