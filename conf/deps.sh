#!/bin/sh
# Install the Debian packages named as arguments that are not installed yet.
# Only root can; anyone else is told what is missing and the build goes on
# (it fails later, clearly, if a header or library really is absent).
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "postern: missing packages:$missing (install them as root)" >&2
	exit 0
fi
echo "postern: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Postfix is only a test client (tests/integration/test_postfix_client.py
# runs a private instance of its own): "No configuration" leaves
# /etc/postfix without a main.cf, so the package starts no system Postfix
# that would take port 25.
case " $missing " in *" postfix "*)
	echo "postfix postfix/main_mailer_type select No configuration" |
		debconf-set-selections ;;
esac
apt-get install -y -q $missing >/dev/null 2>&1 || {
	apt-get update -q >/dev/null 2>&1
	apt-get install -y -q $missing >/dev/null || exit 1
}
