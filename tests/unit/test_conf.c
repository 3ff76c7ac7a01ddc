/*
 * test_conf.c: conf_load() on files in a temporary directory: defaults, the
 * shipped conf/postern.conf (whose values must be conf.c's defaults),
 * every kind of error with its "file:line: what", and that a failed load
 * leaves the struct as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "conf.h"
#include "harness.h"

static char	 dir[] = "/tmp/test_conf.XXXXXX";
static char	 cpath[PATH_MAX];	/* dir/postern.conf, dir made real */

static void
put(const char *text)
{
	char	 path[PATH_MAX];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, CONF_NAME);
	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(text, 1, strlen(text), f) != strlen(text) ||
	    fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

/* Load text; expect success. */
static int
load(const char *text, struct conf *c)
{
	struct buf	 err = BUF_INIT;
	int		 rc;

	put(text);
	rc = conf_load(c, dir, &err);
	if (rc != 0)
		fprintf(stderr, "unexpected: %s\n", buf_str(&err));
	buf_free(&err);
	return rc;
}

/* Load text; expect failure with cpath + want as the message. */
static void
fails(const char *text, const char *want)
{
	struct conf	 c;
	struct buf	 err = BUF_INIT;
	char		 full[PATH_MAX + 256];

	memset(&c, 0x5a, sizeof(c));
	put(text);
	CHECK(conf_load(&c, dir, &err) == -1);
	snprintf(full, sizeof(full), "%s%s", cpath, want);
	CHECK_STR(buf_str(&err), full);
	/* untouched on failure */
	CHECK(c.smtpd_max_sessions == 0x5a5a5a5a);
	buf_free(&err);
}

static void
test_defaults(void)
{
	struct conf	 c;
	char		 host[256];

	CHECK(load("", &c) == 0);
	CHECK_STR(c.confdir, dir);
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	CHECK_STR(c.hostname, host);
	CHECK_STR(c.spool_directory, "/var/spool/postern");
	CHECK_STR(c.smtpd_chroot_directory, "/var/lib/postern/empty");
	CHECK_STR(c.virtual_mailbox_base, "/var/mail/virtual");
	CHECK_STR(c.pid_file, "/run/postern.pid");
	CHECK_STR(c.smtpd_user, "postern-smtpd");
	CHECK_STR(c.queue_user, "postern-queue");
	CHECK_STR(c.virtual_mail_user, "postern-vmail");
	CHECK_STR(c.smtpd_listen, "0.0.0.0:25");
	CHECK(c.smtpd_max_sessions == 100);
	CHECK(c.smtpd_timeout_seconds == 300);
	CHECK(c.smtpd_data_timeout_seconds == 600);
	CHECK(c.smtpd_max_recipients == 100);
	CHECK(c.smtpd_max_errors == 20);
	CHECK(c.smtpd_command_line_limit == 512);
	CHECK(c.smtpd_text_line_limit == 1000);
	CHECK(c.message_size_limit == 52428800LL);
	CHECK(c.queue_minfree_bytes == 0);
	CHECK(c.qmgr_rescan_seconds == 60);
	CHECK(c.queue_retry_min_seconds == 300);
	CHECK(c.queue_retry_max_seconds == 4000);
	CHECK(c.local_concurrency == 10);
	CHECK(c.qmgr_message_active_limit == 1000);
	CHECK(c.local_delivery_timeout_seconds == 600);
	CHECK_STR(c.local_agent, "");
	CHECK(c.master_restart_max_seconds == 60);
}

/* conf_print output into a malloc'd string. */
static char *
printed(const struct conf *c)
{
	char	 path[PATH_MAX], *s;
	FILE	*f;
	long	 n;
	int	 fd;

	snprintf(path, sizeof(path), "%s/printed", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		return NULL;
	conf_print(c, fd);
	close(fd);
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	if (s != NULL && fread(s, 1, (size_t)n, f) != (size_t)n)
		s[0] = '\0';
	fclose(f);
	unlink(path);
	return s;
}

/* The shipped conf/postern.conf must load and give exactly the defaults. */
static void
test_shipped(void)
{
	struct conf	 def, shipped;
	struct buf	 err = BUF_INIT;
	const char	*cands[] = { "conf", "../conf", "../../conf",
	    "../../../conf" };
	char		*a, *b;
	size_t		 i;

	for (i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/postern.conf", cands[i]);
		if (access(p, R_OK) == 0)
			break;
	}
	if (i == sizeof(cands) / sizeof(cands[0])) {
		printf("skip: conf/postern.conf not found from the cwd\n");
		return;
	}
	CHECK(load("", &def) == 0);
	CHECK(conf_load(&shipped, cands[i], &err) == 0);
	if (err.len)
		fprintf(stderr, "shipped: %s\n", buf_str(&err));
	a = printed(&def);
	b = printed(&shipped);
	CHECK(a != NULL && b != NULL);
	if (a != NULL && b != NULL)
		CHECK_STR(b, a);
	/* one line per key, in table order */
	if (a != NULL) {
		CHECK(strncmp(a, "hostname = ", 11) == 0);
		CHECK(strstr(a, "\nsmtpd_listen = 0.0.0.0:25\n") != NULL);
		CHECK(strstr(a, "\nlocal_agent = \n") != NULL);
		CHECK(strstr(a, "\nmessage_size_limit = 52428800\n") != NULL);
	}
	free(a);
	free(b);
	buf_free(&err);
}

static void
test_values(void)
{
	struct conf	 c;

	CHECK(load("# a comment\n"
	    "   # indented comment\n"
	    "\n"
	    "  \t\n"
	    "hostname = mx.example.org\n"
	    "spool_directory=/srv/spool\n"
	    "  smtpd_max_sessions   =   7  \n"
	    "smtpd_listen = 127.0.0.1:2525, [::1]:2525 [2001:db8::1]:25\n"
	    "local_agent = /usr/lib/dovecot/deliver # not a comment\n"
	    "message_size_limit = 1024\n"
	    "queue_minfree_bytes = 9223372036854775807\n"
	    "smtpd_max_recipients = 100\n"
	    "queue_retry_min_seconds = 4000\n"
	    "smtpd_user = someone\r\n", &c) == 0);
	CHECK_STR(c.hostname, "mx.example.org");
	CHECK_STR(c.spool_directory, "/srv/spool");
	CHECK(c.smtpd_max_sessions == 7);
	CHECK_STR(c.smtpd_listen,
	    "127.0.0.1:2525, [::1]:2525 [2001:db8::1]:25");
	CHECK_STR(c.local_agent, "/usr/lib/dovecot/deliver # not a comment");
	CHECK(c.message_size_limit == 1024);
	CHECK(c.queue_minfree_bytes == 9223372036854775807LL);
	CHECK(c.queue_retry_min_seconds == 4000);
	CHECK_STR(c.smtpd_user, "someone");
	/* an empty hostname is the system's; an empty agent is built in */
	CHECK(load("hostname =\nlocal_agent =   \n", &c) == 0);
	CHECK(c.hostname[0] != '\0');
	CHECK_STR(c.local_agent, "");
}

static void
test_errors(void)
{
	char	 line[5000];
	char	 text[5100];
	struct buf err = BUF_INIT;
	struct conf c;

	fails("smtpd_max_sessions = 10\n\n# x\nsmtpd_max_sesions = 10\n",
	    ":4: unknown key 'smtpd_max_sesions'");
	fails("smtpd_max_sessions = 10\nsmtpd_max_sessions = 11\n",
	    ":2: repeated key 'smtpd_max_sessions'");
	fails("smtpd_max_sessions 10\n", ":1: missing '=' (want \"key = "
	    "value\")");
	fails(" = 10\n", ":1: missing key before '='");
	fails("smtpd_max_sessions = ten\n",
	    ":1: smtpd_max_sessions: 'ten' is not a decimal number");
	fails("smtpd_max_sessions = 10 # ten\n",
	    ":1: smtpd_max_sessions: '10 # ten' is not a decimal number");
	fails("smtpd_max_sessions = +10\n",
	    ":1: smtpd_max_sessions: '+10' is not a decimal number");
	fails("smtpd_max_sessions = 0x10\n",
	    ":1: smtpd_max_sessions: '0x10' is not a decimal number");
	fails("smtpd_max_sessions =\n",
	    ":1: smtpd_max_sessions: '' is not a decimal number");
	fails("smtpd_max_sessions = 0\n",
	    ":1: smtpd_max_sessions: 0 is out of range (1..100000)");
	fails("smtpd_timeout_seconds = -5\n",
	    ":1: smtpd_timeout_seconds: -5 is out of range (1..86400)");
	fails("smtpd_max_recipients = 99\n",
	    ":1: smtpd_max_recipients: 99 is out of range (100..10000)");
	fails("smtpd_command_line_limit = 511\n",
	    ":1: smtpd_command_line_limit: 511 is out of range "
	    "(512..65536)");
	fails("smtpd_text_line_limit = 999\n",
	    ":1: smtpd_text_line_limit: 999 is out of range (1000..1048576)");
	fails("message_size_limit = 1023\n",
	    ":1: message_size_limit: 1023 is out of range "
	    "(1024..2147483647)");
	fails("local_concurrency = 1001\n",
	    ":1: local_concurrency: 1001 is out of range (1..1000)");
	fails("local_concurrency = 0\n",
	    ":1: local_concurrency: 0 is out of range (1..1000)");
	fails("queue_minfree_bytes = 99999999999999999999\n",
	    ":1: queue_minfree_bytes: 99999999999999999999 is out of range "
	    "(0..9223372036854775807)");
	fails("smtpd_max_errors = 99999999999\n",
	    ":1: smtpd_max_errors: 99999999999 is out of range (1..10000)");
	fails("spool_directory = relative/path\n",
	    ":1: spool_directory must be an absolute path");
	fails("spool_directory =\n", ":1: spool_directory may not be empty");
	fails("smtpd_chroot_directory = \n",
	    ":1: smtpd_chroot_directory may not be empty");
	fails("local_agent = deliver\n",
	    ":1: local_agent must be an absolute path");
	fails("hostname = bad_host.example\n",
	    ":1: hostname 'bad_host.example' is not a valid domain name");
	fails("queue_retry_min_seconds = 5000\n",
	    ": queue_retry_min_seconds (5000) is greater than "
	    "queue_retry_max_seconds (4000)");
	/* RFC 8314: implicit TLS is nothing without a certificate. */
	fails("smtps_listen = 127.0.0.1:465\n", ": smtps_listen is set but "
	    "tls_cert_file is not (implicit TLS needs a certificate)");
	fails("tls_key_file = /etc/k.pem\n", ": tls_key_file is set but "
	    "tls_cert_file is not");

	/* smtpd_listen syntax */
	fails("smtpd_listen = 127.0.0.1\n", ":1: smtpd_listen: '127.0.0.1' "
	    "is not addr:port or [ipv6]:port");
	fails("smtpd_listen = 127.0.0.1:0\n", ":1: smtpd_listen: "
	    "'127.0.0.1:0' is not addr:port or [ipv6]:port");
	fails("smtpd_listen = 127.0.0.1:65536\n", ":1: smtpd_listen: "
	    "'127.0.0.1:65536' is not addr:port or [ipv6]:port");
	fails("smtpd_listen = 0.0.0.0:25 ::1:25\n", ":1: smtpd_listen: "
	    "'::1:25' is not addr:port or [ipv6]:port");
	fails("smtpd_listen = [::1]25\n", ":1: smtpd_listen: "
	    "'[::1]25' is not addr:port or [ipv6]:port");
	fails("smtpd_listen = [1.2.3.4]:25\n", ":1: smtpd_listen: "
	    "'[1.2.3.4]:25' is not addr:port or [ipv6]:port");
	fails("smtpd_listen = 300.0.0.1:25\n", ":1: smtpd_listen: "
	    "'300.0.0.1:25' is not addr:port or [ipv6]:port");
	fails("smtpd_listen = 127.0.0.1:smtp\n", ":1: smtpd_listen: "
	    "'127.0.0.1:smtp' is not addr:port or [ipv6]:port");
	fails("smtpd_listen = 127.0.0.1:-25\n", ":1: smtpd_listen: "
	    "'127.0.0.1:-25' is not addr:port or [ipv6]:port");
	fails("smtpd_listen = , ,\n", ":1: smtpd_listen: no listener");
	fails("smtpd_listen =\n", ":1: smtpd_listen may not be empty");

	/* too long for its field: hostname holds 255 bytes */
	memset(line, 'a', 300);
	line[300] = '\0';
	snprintf(text, sizeof(text), "hostname = %s\n", line);
	fails(text, ":1: value of hostname too long (at most 255 bytes)");

	/* line length: 4096 is the limit, whatever the line is */
	memset(line, ' ', 4097);
	line[4097] = '\0';
	memcpy(line, "# ", 2);
	snprintf(text, sizeof(text), "%s\n", line);
	fails(text, ":1: line too long (more than 4096 bytes)");
	line[4096] = '\0';
	snprintf(text, sizeof(text), "%s\n", line);
	put(text);
	CHECK(conf_load(&c, dir, &err) == 0);

	/* a NUL byte */
	{
		char	 path[PATH_MAX];
		FILE	*f;

		snprintf(path, sizeof(path), "%s/%s", dir, CONF_NAME);
		f = fopen(path, "w");
		CHECK(f != NULL);
		if (f != NULL) {
			fwrite("hostname = a\0b\n", 1, 15, f);
			fclose(f);
		}
		CHECK(conf_load(&c, dir, &err) == -1);
		snprintf(text, sizeof(text), "%s:1: NUL byte in line", cpath);
		CHECK_STR(buf_str(&err), text);
	}
	buf_free(&err);
}

static void
test_missing(void)
{
	struct conf	 c;
	struct buf	 err = BUF_INIT;
	char		 want[PATH_MAX + 64];

	unlink(cpath);
	CHECK(conf_load(&c, dir, &err) == -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", cpath);
	CHECK_STR(buf_str(&err), want);
	CHECK(conf_load(&c, "/nonexistent/confdir", &err) == -1);
	CHECK_STR(buf_str(&err),
	    "/nonexistent/confdir: No such file or directory");
	buf_free(&err);
}

static void
test_path(void)
{
	struct conf	 c;
	char		 out[PATH_MAX], small[16], want[PATH_MAX + 16];
	char		 rel[PATH_MAX];
	char		 cwd[PATH_MAX];

	CHECK(load("", &c) == 0);
	CHECK(conf_path(&c, "domains.cdb", out, sizeof(out)) == 0);
	snprintf(want, sizeof(want), "%s/domains.cdb", dir);
	CHECK_STR(out, want);
	CHECK(conf_path(&c, "domains.cdb", small, sizeof(small)) == -1);
	CHECK_STR(small, "");

	/* a relative confdir is made absolute */
	if (getcwd(cwd, sizeof(cwd)) != NULL && chdir("/tmp") == 0) {
		snprintf(rel, sizeof(rel), "./%s", dir + 5);
		CHECK(conf_load(&c, rel, NULL) == 0);
		CHECK_STR(c.confdir, dir);
		CHECK(chdir(cwd) == 0);
	}
}

int
main(void)
{
	char	 real[PATH_MAX];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	/* /tmp may be a symlink; conf_load() makes confdir real. */
	if (realpath(dir, real) == NULL || strcmp(real, dir) != 0) {
		printf("skip: %s is not a real path\n", dir);
		rmdir(dir);
		return harness_done();
	}
	snprintf(cpath, sizeof(cpath), "%s/%s", dir, CONF_NAME);

	test_defaults();
	test_values();
	test_shipped();
	test_errors();
	test_path();
	test_missing();

	unlink(cpath);
	rmdir(dir);
	return harness_done();
}
