#!/bin/sh
# conf/instance.sh NAME DIR PORT: set up the self-contained instance that
# "make run" starts: programs in DIR/sbin and DIR/libexec/postern, config and
# tables in DIR/etc, spool in DIR/spool, mail in DIR/mail; listening on
# 127.0.0.1:PORT, local domain "localhost", virtual mailbox demo@localhost.
# An existing DIR/etc/postern.conf or table is kept: the operator's edits
# survive a second "make run". Run as root it creates the system users; run
# as anyone else, the same processes start without uid changes or chroot.
set -eu
name=$1 dir=$2 port=$3
etc=$dir/etc
mkdir -p "$etc"
chmod 0755 "$dir"

if [ ! -e "$etc/postern.conf" ]; then
	cat > "$etc/postern.conf" <<CONF
# postern.conf of the "$name" instance, written by conf/instance.sh.
# conf/postern.conf in the source tree lists every key with its default.
hostname = localhost
spool_directory = $dir/spool
smtpd_chroot_directory = $dir/empty
resolve_chroot_directory = $dir/resolve
remote_chroot_directory = $dir/remote
virtual_mailbox_base = $dir/mail
pid_file = $dir/postern.pid
smtpd_listen = 127.0.0.1:$port
CONF
fi
[ -e "$etc/domains" ] || printf '# domain  local|virtual\nlocalhost local\n' > "$etc/domains"
[ -e "$etc/virtual" ] || printf '# address  mailbox (below virtual_mailbox_base; a trailing / means Maildir)\ndemo@localhost demo/Maildir/\n' > "$etc/virtual"
# postmaster -> root -> the user running "make run" when that is not root.
if [ ! -e "$etc/aliases" ]; then
	admin=$(id -un)
	{ sed '/^#root:/d' conf/aliases
	  [ "$admin" = root ] && echo '#root: you' || echo "root: $admin"; } > "$etc/aliases"
fi

make -s --no-print-directory install PREFIX="$dir" ETCDIR="$etc" >/dev/null
"$dir/sbin/postern" -c "$etc" setup
"$dir/sbin/postern" -c "$etc" makemap domains
"$dir/sbin/postern" -c "$etc" makemap virtual
"$dir/sbin/postern" -c "$etc" newaliases
echo "postern: instance ready in $dir; send a message with:"
echo "  swaks --server 127.0.0.1:$port --to demo@localhost"
echo "  and read it in $dir/mail/demo/Maildir/new/"
