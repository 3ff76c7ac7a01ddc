/*
 * enqueue_auth.c: checks an SMTP AUTH login and password (RFC 4954) against
 * the "passwd" table, for enqueue's 'U' record.
 *
 * Why here: smtpd sits in an empty chroot as an unprivileged user and must
 * never see a password hash; enqueue runs outside it as queue_user, which
 * may read CONFDIR/passwd.cdb (mode 0640, group queue_user's, made so by
 * "postern setup"). The table maps a login (lowercased, as every table key)
 * to a crypt(3) hash: yescrypt ("$y$") or sha512-crypt ("$6$"), computed by
 * libxcrypt's crypt_r(). Other hash kinds (DES, MD5, bcrypt...) are refused
 * and logged: they are either weak or not what the docs promise.
 *
 * Timing: an unknown login and a refused hash kind run crypt_r() on a
 * dummy sha512-crypt hash all the same, and the final comparison is
 * a constant-time comparison over the whole string, so the reply time says nothing
 * about which logins exist. The delay after a failure is the caller's
 * (enqueue.c sleeps smtpd_auth_failure_delay_seconds before it replies).
 *
 * Secrets: the crypt_data scratch area and the hash are zeroed with
 * explicit_bzero() before they are freed; the caller zeroes the password.
 *
 * Returns 1 valid, 0 invalid, -1 the table could not be read (errno set,
 * logged here): the caller answers 454 4.7.0, "try again later".
 */
#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "log.h"
#include "table.h"
#include "enqueue.h"

/* sha512-crypt of a random password nobody knows: the work done for a
 * login that does not exist, so that it takes as long as one that does. */
static const char dummy_hash[] =
    "$6$Fyrl0WyHEhlMttEP$4.DTgogZXxmU382L5xAbJf9cgEQRyC8yXaxpArOPcXzvxIbsV"
    "QmgylPb8kFciQBSGgGiXkkSPDNDbWhQ3fc8v.";

/* Equal or not, in a time that depends only on n (libbsd 0.11 has no
 * timingsafe_bcmp()). */
static int
ct_equal(const char *a, const char *b, size_t n)
{
	volatile unsigned char	 d = 0;
	size_t			 i;

	for (i = 0; i < n; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return d == 0;
}

static int
hash_kind_ok(const char *h)
{
	return strncmp(h, "$y$", 3) == 0 || strncmp(h, "$6$", 3) == 0;
}

int
enqueue_auth_verify(struct table *passwd, const char *login,
    const char *password)
{
	struct crypt_data	*cd;
	struct buf		 hash = BUF_INIT;
	const char		*setting, *out;
	size_t			 hlen;
	int			 found, ok = 0;

	found = table_lookup(passwd, login, &hash);
	if (found == -1) {
		log_warn_errno("table %s: lookup of %s", passwd->path, login);
		buf_free(&hash);
		return -1;
	}
	setting = dummy_hash;
	if (found == 1) {
		if (hash_kind_ok(buf_str(&hash)))
			setting = buf_str(&hash);
		else {
			log_warn("table %s: %s: not a yescrypt ($y$) or "
			    "sha512-crypt ($6$) hash; login refused",
			    passwd->path, login);
			found = 0;
		}
	}
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		fatal("out of memory");
	out = crypt_r(password, setting, cd);
	hlen = strlen(setting);
	/* crypt_r() fails with NULL or with a string starting with '*'
	 * (libxcrypt); neither can equal a hash that starts with '$'. */
	if (out != NULL && strlen(out) == hlen &&
	    ct_equal(out, setting, hlen))
		ok = found == 1;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	buf_free(&hash);	/* zeroes it */
	return ok;
}
