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
# Unbound is only a test peer (tests/integration/netlab.py runs a private
# one inside a network namespace, on 127.0.0.53): its package must start no
# system resolver. A policy-rc.d that says 101 ("action forbidden") keeps
# invoke-rc.d from starting any service during this install; it is made only
# when the machine has none, and removed afterwards.
policy=""
case " $missing " in *" unbound "*)
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		policy=/usr/sbin/policy-rc.d
	fi ;;
esac
apt-get install -y -q $missing >/dev/null 2>&1 || {
	apt-get update -q >/dev/null 2>&1
	apt-get install -y -q $missing >/dev/null || { [ -z "$policy" ] || rm -f "$policy"; exit 1; }
}
[ -z "$policy" ] || rm -f "$policy"
# Dovecot is only a test peer (tests/integration/test_dovecot.py runs a
# private instance on loopback ports): the package's own service, which
# would listen on 143 and 993 of every address, is stopped and disabled.
case " $missing " in *" dovecot-core "*)
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl disable --now dovecot.service dovecot.socket \
		    >/dev/null 2>&1
	else
		invoke-rc.d dovecot stop >/dev/null 2>&1
		update-rc.d dovecot disable >/dev/null 2>&1
	fi
	true ;;
esac
# Unbound likewise: never a system service, only the tests' private ones
# (tests/integration/netlab.py, test_resolve.py).
case " $missing " in *" unbound "*)
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl disable --now unbound.service unbound-resolvconf.service \
		    >/dev/null 2>&1
	else
		invoke-rc.d unbound stop >/dev/null 2>&1
		update-rc.d unbound disable >/dev/null 2>&1
	fi
	true ;;
esac
