/*
 * test_deliver_maildir.c: maildir_deliver() into a temporary Maildir, as
 * whoever runs the test.
 *
 * Checks the exact bytes in new/ (the two header lines, then the message
 * and nothing else), distinct names for two deliveries, an empty tmp/ after
 * success and after every failure, the message read from the fd's current
 * offset (as from a queue file), from a pipe (copy_file_range() refused),
 * a large message, the escapes in the host part of the name, a short
 * message (Z 4.3.0), an unwritable Maildir (Z 4.3.0) and a header-forging
 * address (D).
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "../../deliver/maildir.h"

static char base[256];	/* small: the paths below never truncate */

/* Number of entries in dir (not . and ..); the last name into last. */
static int
count(const char *dir, char *last, size_t lastsz)
{
	DIR *d;
	struct dirent *e;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n++;
		if (last != NULL)
			snprintf(last, lastsz, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

/* Whole file into a malloc'd buffer; *len set. */
static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *p;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		return NULL;
	p = malloc((size_t)st.st_size + 1);
	*len = (size_t)read(fd, p, (size_t)st.st_size);
	close(fd);
	return p;
}

/* A temporary file holding prefix + msg, positioned after the prefix. */
static int
msgfile(const char *prefix, const char *msg, size_t len)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/msg.XXXXXX", base);
	fd = mkstemp(path);
	unlink(path);
	if (write(fd, prefix, strlen(prefix)) == -1 ||
	    write(fd, msg, len) == -1)
		return -1;
	lseek(fd, (off_t)strlen(prefix), SEEK_SET);
	return fd;
}

/* The newest file in new/ must be exactly hdr + msg. */
static int
check_new(const char *maildir, const char *hdr, const char *msg,
    size_t msglen, char *name, size_t namesz)
{
	char dir[PATH_MAX], path[PATH_MAX + 300], *got;
	size_t len, hlen = strlen(hdr);
	struct stat st;
	int ok;

	snprintf(dir, sizeof(dir), "%snew", maildir);
	if (count(dir, name, namesz) < 1)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((got = slurp(path, &len)) == NULL || stat(path, &st) == -1)
		return 0;
	ok = len == hlen + msglen && memcmp(got, hdr, hlen) == 0 &&
	    memcmp(got + hlen, msg, msglen) == 0 &&
	    (st.st_mode & 07777) == 0600 && st.st_uid == geteuid();
	free(got);
	return ok;
}

int
main(void)
{
	const char *msg = "Received: from x\nSubject: hi\n\nbody\n.\n";
	char maildir[512], dir[PATH_MAX], name1[300], name2[300];
	char *big;
	struct outcome o;
	size_t biglen = (size_t)3 * 1024 * 1024 + 17, i;
	int fd, p[2];

	snprintf(base, sizeof(base), "/tmp/test_deliver_maildir.XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(maildir, sizeof(maildir), "%s/Maildir/", base);

	/* 1: the Maildir is created; exact bytes; mode 0600; the offset of
	 * the fd is where the message starts (a queue file's 'M'). */
	fd = msgfile("ENVELOPE", msg, strlen(msg));
	CHECK(maildir_deliver(fd, (off_t)strlen(msg), "s@example.org",
	    "r@example.net", maildir, "mx/a:b", &o) == 0);
	close(fd);
	CHECK(o.status == 'K');
	CHECK_STR(o.code, "2.0.0");
	CHECK_STR(o.text, "delivered to maildir");
	CHECK(check_new(maildir, "Return-Path: <s@example.org>\n"
	    "Delivered-To: <r@example.net>\n", msg, strlen(msg),
	    name1, sizeof(name1)));
	/* '/' and ':' in the host part are written as octal escapes. */
	CHECK(strstr(name1, ".mx\\057a\\072b") != NULL);
	CHECK(strchr(name1, ':') == NULL);
	snprintf(dir, sizeof(dir), "%stmp", maildir);
	CHECK(count(dir, NULL, 0) == 0);
	snprintf(dir, sizeof(dir), "%scur", maildir);
	CHECK(count(dir, NULL, 0) == 0);

	/* 2: a second delivery gets another name; the null sender is <>. */
	fd = msgfile("", msg, strlen(msg));
	CHECK(maildir_deliver(fd, (off_t)strlen(msg), "", "r@example.net",
	    maildir, "mx", &o) == 0);
	close(fd);
	snprintf(dir, sizeof(dir), "%snew", maildir);
	CHECK(count(dir, NULL, 0) == 2);
	{
		/* Find the file that is not name1 and check it. */
		DIR *d = opendir(dir);
		struct dirent *e;
		char path[PATH_MAX + 300], *got;
		size_t len;
		const char *hdr = "Return-Path: <>\nDelivered-To: "
		    "<r@example.net>\n";

		name2[0] = '\0';
		while (d != NULL && (e = readdir(d)) != NULL)
			if (e->d_name[0] != '.' && strcmp(e->d_name, name1))
				snprintf(name2, sizeof(name2), "%s", e->d_name);
		if (d != NULL)
			closedir(d);
		CHECK(name2[0] != '\0' && strcmp(name1, name2) != 0);
		snprintf(path, sizeof(path), "%s/%s", dir, name2);
		got = slurp(path, &len);
		CHECK(got != NULL && len == strlen(hdr) + strlen(msg) &&
		    memcmp(got, hdr, strlen(hdr)) == 0);
		free(got);
	}

	/* 3: a message from a pipe: copy_file_range() refuses, read()
	 * takes over. */
	CHECK(pipe(p) == 0);
	CHECK(write(p[1], msg, strlen(msg)) == (ssize_t)strlen(msg));
	close(p[1]);
	CHECK(maildir_deliver(p[0], (off_t)strlen(msg), "a@b.c", "d@e.f",
	    maildir, "mx", &o) == 0);
	close(p[0]);
	CHECK(count(dir, NULL, 0) == 3);

	/* 4: a short message: fewer bytes than announced. */
	fd = msgfile("", msg, strlen(msg));
	CHECK(maildir_deliver(fd, (off_t)strlen(msg) + 10, "s@example.org",
	    "r@example.net", maildir, "mx", &o) == -1);
	close(fd);
	CHECK(o.status == 'Z');
	CHECK_STR(o.code, "4.3.0");
	CHECK_STR(o.text, "short message");
	CHECK(count(dir, NULL, 0) == 3);
	snprintf(dir, sizeof(dir), "%stmp", maildir);
	CHECK(count(dir, NULL, 0) == 0);

	/* 5: a large message, bigger than the copy buffer; the bytes after
	 * SIZE are not copied. */
	big = malloc(biglen + 5);
	for (i = 0; i < biglen; i++)
		big[i] = (char)('a' + i % 26);
	memcpy(big + biglen - 1, "\n", 1);
	memcpy(big + biglen, "JUNK", 4);
	big[biglen + 4] = '\0';
	fd = msgfile("HDR", big, biglen + 4);
	{
		char md2[512];

		snprintf(md2, sizeof(md2), "%s/Big/", base);
		CHECK(maildir_deliver(fd, (off_t)biglen, "s@x.y", "r@x.y",
		    md2, "mx", &o) == 0);
		CHECK(check_new(md2, "Return-Path: <s@x.y>\n"
		    "Delivered-To: <r@x.y>\n", big, biglen, name2,
		    sizeof(name2)));
	}
	close(fd);
	free(big);

	/* 6: a Maildir that cannot be written: its "parent" is a file (this
	 * fails for root too), then a read-only one (not for root). */
	{
		char file[512], md3[1024];

		snprintf(file, sizeof(file), "%s/plainfile", base);
		close(open(file, O_CREAT | O_WRONLY, 0600));
		snprintf(md3, sizeof(md3), "%s/Maildir/", file);
		fd = msgfile("", msg, strlen(msg));
		CHECK(maildir_deliver(fd, (off_t)strlen(msg), "s@x.y",
		    "r@x.y", md3, "mx", &o) == -1);
		CHECK(o.status == 'Z');
		CHECK_STR(o.code, "4.3.0");
		CHECK(strncmp(o.text, "maildir ", 8) == 0);
		close(fd);
		if (geteuid() != 0) {
			snprintf(md3, sizeof(md3), "%s/ro", base);
			mkdir(md3, 0500);
			snprintf(md3, sizeof(md3), "%s/ro/Maildir/", base);
			fd = msgfile("", msg, strlen(msg));
			CHECK(maildir_deliver(fd, (off_t)strlen(msg), "s@x.y",
			    "r@x.y", md3, "mx", &o) == -1);
			CHECK(o.status == 'Z');
			CHECK_STR(o.code, "4.3.0");
			close(fd);
		}
	}

	/* 7: an address that would start a new header line is refused
	 * before anything is written. */
	fd = msgfile("", msg, strlen(msg));
	CHECK(maildir_deliver(fd, (off_t)strlen(msg), "s@x.y\nX-Evil: 1",
	    "r@x.y", maildir, "mx", &o) == -1);
	CHECK(o.status == 'D');
	close(fd);
	snprintf(dir, sizeof(dir), "%snew", maildir);
	CHECK(count(dir, NULL, 0) == 3);

	/* 8: a relative path is refused: the caller's cwd is anything. */
	fd = msgfile("", msg, strlen(msg));
	CHECK(maildir_deliver(fd, (off_t)strlen(msg), "s@x.y", "r@x.y",
	    "Maildir/", "mx", &o) == -1);
	CHECK(o.status == 'Z');
	close(fd);

	/* Clean up: the test leaves nothing behind in /tmp. */
	{
		char *const argv[] = { (char *)"rm", (char *)"-rf", base, NULL };
		pid_t pid = fork();

		if (pid == 0) {
			execv("/bin/rm", argv);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	return harness_done();
}
