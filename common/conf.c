/*
 * conf.c: reading postern.conf into a struct conf.
 *
 * Called by every program at start (master also on SIGHUP, "postern check"
 * to validate). The one static table below is the list of keys: name, type,
 * where the value goes, its range and its default. conf/postern.conf shows
 * the same defaults, and a unit test holds the two together.
 *
 * Assumes nothing of the file: every line is checked and the first error is
 * reported as "file:line: what" in err. conf_load() returns 0, or -1 and
 * leaves *conf untouched, so a caller can keep its running config when the
 * new file is bad. It never exits and never logs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "addr.h"
#include "cidr.h"
#include "conf.h"

#define CONF_LINE_MAX	4096

enum conf_type { CT_STR, CT_INT, CT_LL };

/* String checks beyond the length. */
#define CF_NONEMPTY	0x01	/* may not be empty */
#define CF_ABSPATH	0x02	/* an absolute path (when not empty) */
#define CF_LISTEN	0x04	/* a list of addr:port */
#define CF_HOSTNAME	0x08	/* empty: gethostname(); else a domain */
#define CF_CIDRS	0x10	/* a list of address/prefix items */

struct conf_key {
	const char	*name;
	enum conf_type	 type;
	size_t		 off;
	size_t		 size;
	long long	 min, max;
	const char	*def;
	int		 flags;
	const char	*choices;	/* "a|b|c": the only values allowed */
};

#define STR(f, d, fl) { #f, CT_STR, offsetof(struct conf, f),		\
	sizeof(((struct conf *)0)->f), 0, 0, d, fl, NULL }
#define ONEOF(f, d, ch) { #f, CT_STR, offsetof(struct conf, f),		\
	sizeof(((struct conf *)0)->f), 0, 0, d, CF_NONEMPTY, ch }
#define INT(f, lo, hi, d) { #f, CT_INT, offsetof(struct conf, f),	\
	sizeof(int), lo, hi, d, 0, NULL }
#define LL(f, lo, hi, d) { #f, CT_LL, offsetof(struct conf, f),	\
	sizeof(long long), lo, hi, d, 0, NULL }

#define DAY	86400
#define WEEK	(7 * DAY)

static const struct conf_key keys[] = {
	STR(hostname, "", CF_HOSTNAME),
	STR(spool_directory, "/var/spool/postern", CF_NONEMPTY | CF_ABSPATH),
	/* Never empty: the network-facing smtpd always runs in a jail. */
	STR(smtpd_chroot_directory, "/var/lib/postern/empty",
	    CF_NONEMPTY | CF_ABSPATH),
	STR(virtual_mailbox_base, "/var/mail/virtual",
	    CF_NONEMPTY | CF_ABSPATH),
	STR(pid_file, "/run/postern.pid", CF_NONEMPTY | CF_ABSPATH),
	STR(smtpd_user, "postern-smtpd", CF_NONEMPTY),
	STR(queue_user, "postern-queue", CF_NONEMPTY),
	STR(virtual_mail_user, "postern-vmail", CF_NONEMPTY),
	STR(smtpd_listen, "0.0.0.0:25", CF_NONEMPTY | CF_LISTEN),
	STR(submission_listen, "", CF_LISTEN),
	STR(smtps_listen, "", CF_LISTEN),
	STR(local_submit_socket, "", CF_ABSPATH),
	STR(sendmail_trusted_users, "", 0),
	STR(tls_cert_file, "", CF_ABSPATH),
	STR(tls_key_file, "", CF_ABSPATH),
	INT(tls_session_tickets, 0, 1, "0"),
	INT(smtpd_max_sessions, 1, 100000, "100"),
	INT(smtpd_process_uses, 1, 100000, "1"),
	INT(smtpd_process_idle_seconds, 1, DAY, "60"),
	INT(smtpd_timeout_seconds, 1, DAY, "300"),
	INT(smtpd_data_timeout_seconds, 1, DAY, "600"),
	/* RFC 5321 4.5.3.1.8: at least 100; the queue file holds at most
	 * 10000 R records (docs/protocols.md). */
	INT(smtpd_max_recipients, 100, 10000, "100"),
	INT(smtpd_max_errors, 1, 10000, "20"),
	/* RFC 5321 4.5.3.1.4 and 4.5.3.1.6: 512 and 1000 octets at least. */
	INT(smtpd_command_line_limit, 512, 65536, "512"),
	INT(smtpd_text_line_limit, 1000, 1048576, "1000"),
	ONEOF(smtpd_bare_newline, "reject", "reject|normalize"),
	INT(smtpd_pregreet_wait_ms, 0, 60000, "0"),
	INT(smtpd_max_sessions_per_client, 1, 100000, "20"),
	INT(smtpd_max_connections_per_minute, 1, 1000000, "120"),
	STR(smtpd_client_limit_exceptions, "127.0.0.0/8 ::1", CF_CIDRS),
	INT(smtpd_auth_failure_delay_seconds, 0, 60, "2"),
	/* The M record's length is 32 bits; 2 GiB keeps every size an
	 * ssize_t and an int can count on every platform. */
	LL(message_size_limit, 1024, INT_MAX, "52428800"),
	LL(queue_minfree_bytes, 0, LLONG_MAX, "0"),
	INT(qmgr_rescan_seconds, 1, DAY, "60"),
	INT(queue_retry_min_seconds, 1, WEEK, "300"),
	INT(queue_retry_max_seconds, 1, WEEK, "4000"),
	/* Past this age a message's deferred recipients fail with 4.4.7
	 * and are reported (Postfix's maximal_queue_lifetime, 5 days). */
	INT(queue_lifetime_seconds, 1, 365 * DAY, "432000"),
	/* RFC 3461 4.1 NOTIFY=DELAY: one warning per message once it is
	 * this old and still deferred; 0 sends none. */
	INT(delay_warning_seconds, 0, 365 * DAY, "0"),
	INT(local_concurrency, 1, 1000, "10"),
	INT(qmgr_message_active_limit, 1, 100000, "1000"),
	INT(local_delivery_timeout_seconds, 1, DAY, "600"),
	/* A delivery worker (lspawn) serves one user this many times in
	 * turn; 0: a fresh child for every delivery (qmail's model). */
	INT(local_worker_uses, 0, 100000, "100"),
	INT(local_worker_idle_seconds, 1, DAY, "60"),
	/* "Maildir/": ~/Maildir/; "mbox": mail_spool_directory/USER (Debian's
	 * /var/mail, group mail), locked with fcntl and a dotlock. */
	ONEOF(home_mailbox, "Maildir/", "Maildir/|mbox"),
	STR(mail_spool_directory, "/var/mail", CF_NONEMPTY | CF_ABSPATH),
	STR(local_agent, "", CF_ABSPATH),
	/* Any of these characters starts a +detail (RFC 5233); "" none. */
	STR(recipient_delimiter, "+", 0),
	/* Never root: lspawn refuses uid 0 and so does qmgr. */
	STR(alias_user, "nobody", CF_NONEMPTY),
	INT(alias_max_targets, 1, 100000, "1000"),
	INT(alias_max_depth, 1, 100, "20"),
	/* Read by lmtp(8) only; it checks the syntax (deliver/lmtp_client.c)
	 * and defers, naming the key, when it is wrong. Debian's
	 * dovecot-lmtpd listens on this socket. */
	STR(lmtp_destination, "unix:/run/dovecot/lmtp", CF_NONEMPTY),
	INT(lmtp_timeout_seconds, 1, 3600, "120"),
	STR(resolve_user, "postern-resolve", CF_NONEMPTY),
	STR(resolve_chroot_directory, "/var/lib/postern/resolve",
	    CF_NONEMPTY | CF_ABSPATH),
	STR(resolv_conf_file, "/etc/resolv.conf", CF_NONEMPTY | CF_ABSPATH),
	INT(resolve_cache_max_seconds, 0, WEEK, "3600"),
	INT(resolve_cache_entries, 0, 1000000, "10000"),
	INT(resolve_address_limit, 1, 100, "10"),
	ONEOF(inet_protocols, "all", "all|ipv4|ipv6"),
	STR(remote_user, "postern-remote", CF_NONEMPTY),
	STR(remote_chroot_directory, "/var/lib/postern/remote",
	    CF_NONEMPTY | CF_ABSPATH),
	STR(tls_ca_file, "/etc/ssl/certs/ca-certificates.crt", CF_ABSPATH),
	ONEOF(smtp_tls_security_level, "may", "none|may|encrypt|verify"),
	STR(smtp_helo_name, "", CF_HOSTNAME),
	ONEOF(smtp_8bit_without_8bitmime, "send", "send|bounce"),
	INT(smtp_recipient_limit, 1, 10000, "50"),
	INT(smtp_connect_timeout_seconds, 1, 3600, "30"),
	/* RFC 5321 4.5.3.2: the floors are the RFC's defaults' order. */
	INT(smtp_greeting_timeout_seconds, 1, DAY, "300"),
	INT(smtp_command_timeout_seconds, 1, DAY, "300"),
	INT(smtp_data_init_timeout_seconds, 1, DAY, "120"),
	INT(smtp_data_block_timeout_seconds, 1, DAY, "180"),
	INT(smtp_data_done_timeout_seconds, 1, DAY, "600"),
	INT(smtp_connection_reuse_seconds, 0, 3600, "10"),
	INT(smtp_dead_host_seconds, 0, DAY, "60"),
	INT(remote_concurrency, 1, 10000, "20"),
	INT(remote_destination_concurrency, 1, 1000, "5"),
	INT(master_restart_max_seconds, 1, 3600, "60"),
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Trailing blanks, CR and LF off. */
static void
rtrim(char *s)
{
	size_t	 n = strlen(s);

	while (n > 0 && (is_blank(s[n - 1]) || s[n - 1] == '\r' ||
	    s[n - 1] == '\n'))
		s[--n] = '\0';
}

/*
 * One "addr:port" item: IPv4 dotted quad or "[IPv6]", a colon, a decimal
 * port 1..65535. Numeric only: master binds without asking DNS.
 */
static int
listen_item_valid(const char *item, size_t len)
{
	char		 host[INET6_ADDRSTRLEN + 2];
	unsigned char	 bin[16];
	const char	*h, *colon, *end = item + len;
	size_t		 hlen;
	long		 port = 0;
	int		 af;

	if (item[0] == '[') {
		const char *rb = memchr(item, ']', len);

		if (rb == NULL || rb + 1 >= end || rb[1] != ':')
			return 0;
		h = item + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
		af = AF_INET6;
	} else {
		if ((colon = memchr(item, ':', len)) == NULL)
			return 0;
		h = item;
		hlen = (size_t)(colon - item);
		af = AF_INET;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return 0;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (inet_pton(af, host, bin) != 1)
		return 0;
	if (end - (colon + 1) < 1 || end - (colon + 1) > 5)
		return 0;
	for (h = colon + 1; h < end; h++) {
		if (*h < '0' || *h > '9')
			return 0;
		port = port * 10 + (*h - '0');
	}
	return port >= 1 && port <= 65535;
}

/* value is one of the '|'-separated words of choices: 1 or 0. */
static int
conf_choice(const char *choices, const char *value)
{
	size_t	 n = strlen(value);
	const char *p = choices;

	while (*p != '\0') {
		size_t len = strcspn(p, "|");

		if (len == n && strncmp(p, value, n) == 0)
			return 1;
		p += len;
		if (*p == '|')
			p++;
	}
	return 0;
}

/* smtpd_listen: items separated by blanks or commas, at least one. */
static int
listen_valid(const char *s, const char **bad, size_t *badlen)
{
	int	 n = 0;

	for (;;) {
		size_t len;

		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (*s == '\0')
			break;
		len = strcspn(s, " \t,");
		if (!listen_item_valid(s, len)) {
			*bad = s;
			*badlen = len;
			return 0;
		}
		n++;
		s += len;
	}
	*bad = NULL;
	*badlen = 0;
	return n > 0;
}

/*
 * Store value for key k into c. where is "PATH:LINE" for messages (or
 * "PATH" for defaults, which cannot fail). 0 or -1 with err set.
 */
static int
conf_set(struct conf *c, const struct conf_key *k, const char *value,
    const char *where, struct buf *err)
{
	char		*field = (char *)c + k->off;
	long long	 v;
	char		*end;

	if (k->type == CT_STR) {
		if (strlen(value) >= k->size) {
			(void)buf_setf(err, "%s: value of %s too long (at most %zu "
			    "bytes)", where, k->name, k->size - 1);
			return -1;
		}
		if ((k->flags & CF_NONEMPTY) && *value == '\0') {
			(void)buf_setf(err, "%s: %s may not be empty", where,
			    k->name);
			return -1;
		}
		if ((k->flags & CF_ABSPATH) && *value != '\0' &&
		    *value != '/') {
			(void)buf_setf(err, "%s: %s must be an absolute path",
			    where, k->name);
			return -1;
		}
		if ((k->flags & CF_HOSTNAME) && *value != '\0' &&
		    !addr_domain_valid(value, 0, 0)) {
			(void)buf_setf(err, "%s: %s '%s' is not a valid domain name",
			    where, k->name, value);
			return -1;
		}
		if (k->choices != NULL && !conf_choice(k->choices, value)) {
			(void)buf_setf(err, "%s: %s must be one of %s", where,
			    k->name, k->choices);
			return -1;
		}
		if (k->flags & CF_CIDRS) {
			const char	*bad;
			size_t		 badlen;

			if (cidr_list_match(value, NULL, &bad, &badlen) == -1) {
				(void)buf_setf(err, "%s: %s: '%.*s' is not an "
				    "address or address/prefix", where, k->name,
				    (int)badlen, bad);
				return -1;
			}
		}
		if ((k->flags & CF_LISTEN) && *value != '\0') {
			const char	*bad;
			size_t		 badlen;

			if (!listen_valid(value, &bad, &badlen)) {
				if (bad == NULL)
					(void)buf_setf(err, "%s: %s: no listener",
					    where, k->name);
				else
					(void)buf_setf(err, "%s: %s: '%.*s' is not "
					    "addr:port or [ipv6]:port",
					    where, k->name, (int)badlen, bad);
				return -1;
			}
		}
		strlcpy(field, value, k->size);
		return 0;
	}

	/* Plain decimal: no sign but '-', no blanks, no 0x, no suffix. */
	errno = 0;
	v = strtoll(value, &end, 10);
	if (*value == '\0' || *end != '\0' || !(*value == '-' ||
	    (*value >= '0' && *value <= '9'))) {
		(void)buf_setf(err, "%s: %s: '%s' is not a decimal number", where,
		    k->name, value);
		return -1;
	}
	if (errno == ERANGE || v < k->min || v > k->max) {
		(void)buf_setf(err, "%s: %s: %s is out of range (%lld..%lld)", where,
		    k->name, value, k->min, k->max);
		return -1;
	}
	if (k->type == CT_INT)
		*(int *)(void *)field = (int)v;
	else
		*(long long *)(void *)field = v;
	return 0;
}

static const struct conf_key *
conf_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* The checks that involve more than one key. */
static int
conf_check(const struct conf *c, const char *path, struct buf *err)
{
	if (c->queue_retry_min_seconds > c->queue_retry_max_seconds) {
		(void)buf_setf(err, "%s: queue_retry_min_seconds (%d) is greater "
		    "than queue_retry_max_seconds (%d)", path,
		    c->queue_retry_min_seconds, c->queue_retry_max_seconds);
		return -1;
	}
	/* RFC 8314 3.3: an smtps listener speaks nothing but TLS. */
	if (c->smtps_listen[0] != '\0' && c->tls_cert_file[0] == '\0') {
		(void)buf_setf(err, "%s: smtps_listen is set but "
		    "tls_cert_file is not (implicit TLS needs a certificate)",
		    path);
		return -1;
	}
	if (c->tls_key_file[0] != '\0' && c->tls_cert_file[0] == '\0') {
		(void)buf_setf(err, "%s: tls_key_file is set but "
		    "tls_cert_file is not", path);
		return -1;
	}
	return 0;
}

/* Parse the open file f into c. */
static int
conf_parse(struct conf *c, FILE *f, const char *path, struct buf *err)
{
	unsigned char	 seen[NKEYS];
	unsigned long	 lineno = 0;
	char		*line = NULL, where[PATH_MAX + 32];
	size_t		 cap = 0;
	ssize_t		 n;
	int		 rc = -1;

	memset(seen, 0, sizeof(seen));
	errno = 0;
	while ((n = getline(&line, &cap, f)) != -1) {
		const struct conf_key	*k;
		char			*key, *eq, *value;

		lineno++;
		snprintf(where, sizeof(where), "%s:%lu", path, lineno);
		if ((size_t)n != strlen(line)) {
			(void)buf_setf(err, "%s: NUL byte in line", where);
			goto out;
		}
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if ((size_t)n > CONF_LINE_MAX) {
			(void)buf_setf(err, "%s: line too long (more than %d bytes)",
			    where, CONF_LINE_MAX);
			goto out;
		}
		rtrim(line);
		for (key = line; is_blank(*key); key++)
			;
		/* A '#' starts a comment only as the first non-blank of a
		 * line: a value may hold one (a path, a password). */
		if (*key == '\0' || *key == '#')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			(void)buf_setf(err, "%s: missing '=' (want \"key = value\")",
			    where);
			goto out;
		}
		for (value = eq + 1; is_blank(*value); value++)
			;
		while (eq > key && is_blank(eq[-1]))
			eq--;
		*eq = '\0';
		if (*key == '\0') {
			(void)buf_setf(err, "%s: missing key before '='", where);
			goto out;
		}
		if ((k = conf_find(key)) == NULL) {
			(void)buf_setf(err, "%s: unknown key '%s'", where, key);
			goto out;
		}
		if (seen[k - keys]) {
			(void)buf_setf(err, "%s: repeated key '%s'", where, key);
			goto out;
		}
		seen[k - keys] = 1;
		if (conf_set(c, k, value, where, err) == -1)
			goto out;
	}
	if (ferror(f)) {
		(void)buf_setf(err, "%s: %s", path, strerror(errno ? errno : EIO));
		goto out;
	}
	rc = 0;
out:
	free(line);
	return rc;
}

/* hostname left empty: the system's name, which must at least be one
 * token of printable ASCII (it goes into the greeting and Received:). */
static int
conf_hostname(struct conf *c, const char *path, struct buf *err)
{
	char	 name[CONF_STR_MAX];
	size_t	 i;

	if (c->hostname[0] != '\0')
		return 0;
	if (gethostname(name, sizeof(name)) == -1) {
		(void)buf_setf(err, "%s: hostname: gethostname: %s", path,
		    strerror(errno));
		return -1;
	}
	name[sizeof(name) - 1] = '\0';
	for (i = 0; name[i] != '\0'; i++)
		if ((unsigned char)name[i] <= ' ' ||
		    (unsigned char)name[i] >= 0x7f)
			break;
	if (i == 0 || name[i] != '\0') {
		(void)buf_setf(err, "%s: the system host name is not usable; set "
		    "hostname", path);
		return -1;
	}
	strlcpy(c->hostname, name, sizeof(c->hostname));
	return 0;
}

int
conf_load(struct conf *conf, const char *confdir, struct buf *err)
{
	struct conf	*c;
	char		 path[PATH_MAX];
	FILE		*f;
	size_t		 i;
	int		 rc = -1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		(void)buf_setf(err, "%s: %s", confdir, strerror(errno));
		return -1;
	}
	if (realpath(confdir, c->confdir) == NULL) {
		(void)buf_setf(err, "%s: %s", confdir, strerror(errno));
		goto out;
	}
	for (i = 0; i < NKEYS; i++)
		if (conf_set(c, &keys[i], keys[i].def, "(default)", err) == -1)
			goto out;	/* a bug in the table: test_conf */
	if (conf_path(c, CONF_NAME, path, sizeof(path)) == -1) {
		(void)buf_setf(err, "%s/%s: %s", c->confdir, CONF_NAME,
		    strerror(ENAMETOOLONG));
		goto out;
	}
	if ((f = fopen(path, "re")) == NULL) {
		(void)buf_setf(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (conf_parse(c, f, path, err) == -1) {
		fclose(f);
		goto out;
	}
	fclose(f);
	if (conf_check(c, path, err) == -1 ||
	    conf_hostname(c, path, err) == -1)
		goto out;
	*conf = *c;
	rc = 0;
out:
	free(c);
	return rc;
}

int
conf_path(const struct conf *c, const char *name, char *out, size_t outsz)
{
	if (outsz == 0)
		return -1;
	if (strlcpy(out, c->confdir, outsz) >= outsz ||
	    strlcat(out, "/", outsz) >= outsz ||
	    strlcat(out, name, outsz) >= outsz) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

void
conf_print(const struct conf *c, int fd)
{
	struct buf	 b = BUF_INIT;
	size_t		 i, off;
	ssize_t		 n;

	for (i = 0; i < NKEYS; i++) {
		const char *field = (const char *)c + keys[i].off;

		switch (keys[i].type) {
		case CT_STR:
			buf_addf(&b, "%s = %s\n", keys[i].name, field);
			break;
		case CT_INT:
			buf_addf(&b, "%s = %d\n", keys[i].name,
			    *(const int *)(const void *)field);
			break;
		case CT_LL:
			buf_addf(&b, "%s = %lld\n", keys[i].name,
			    *(const long long *)(const void *)field);
			break;
		}
	}
	for (off = 0; off < b.len; off += (size_t)n) {
		n = write(fd, b.data + off, b.len - off);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			break;
	}
	buf_free(&b);
}
