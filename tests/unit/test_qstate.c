/*
 * test_qstate.c: common/qstate.c: outcomes appended and read back, the last
 * one per recipient winning, a torn tail ignored (and cut before the next
 * append), out-of-range and malformed records skipped, 'N' notices.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "frame.h"
#include "log.h"
#include "qstate.h"
#include "harness.h"

#define ID	"06553F1000A1B2C3D4E5F0A1B"

static void
raw_append(const void *p, size_t n)
{
	int	 fd = open("state/" ID, O_WRONLY | O_APPEND | O_CREAT, 0600);

	if (fd == -1 || write(fd, p, n) != (ssize_t)n)
		abort();
	close(fd);
}

int
main(void)
{
	char			 dir[] = "/tmp/test_qstate.XXXXXX", longt[3000];
	struct qstate_rcpt	 r[3];
	struct buf		 b = BUF_INIT;
	struct stat		 st;

	log_init("test_qstate", 1);
	if (mkdtemp(dir) == NULL || chdir(dir) == -1 ||
	    mkdir("state", 0700) == -1)
		return 2;

	/* no file yet: no outcomes */
	memset(r, 'x', sizeof(r));
	CHECK(qstate_read(ID, r, 3) == 0);
	CHECK(r[0].status == 0 && r[1].status == 0 && r[2].status == 0);

	CHECK(qstate_put(&b, 0, 'Z', "4.4.1", "connection refused") == 0);
	CHECK(qstate_put(&b, 1, 'K', "2.0.0", "delivered\r\nto maildir") == 0);
	CHECK(qstate_put(&b, 0, 'X', "2.0.0", "bad status") == -1);
	CHECK(qstate_put(&b, 0, 'K', "2.0.0.0.0.0.0.0.0", "long code") == -1);
	CHECK(qstate_append(ID, &b) == 0);
	CHECK(stat("state/" ID, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(qstate_read(ID, r, 3) == 0);
	CHECK(r[0].status == 'Z');
	CHECK_STR(r[0].code, "4.4.1");
	CHECK_STR(r[0].text, "connection refused");
	CHECK(r[1].status == 'K');
	CHECK_STR(r[1].text, "delivered  to maildir");
	CHECK(r[2].status == 0);

	/* a later attempt: the last outcome wins; index 7 is out of range */
	buf_reset(&b);
	CHECK(qstate_put(&b, 0, 'D', "5.1.1", "user unknown") == 0);
	CHECK(qstate_put(&b, 7, 'K', "2.0.0", "nobody") == 0);
	memset(longt, 'y', sizeof(longt) - 1);
	longt[sizeof(longt) - 1] = '\0';
	CHECK(qstate_put(&b, 2, 'Z', "4.2.2", longt) == 0);
	CHECK(qstate_append(ID, &b) == 0);
	CHECK(qstate_read(ID, r, 3) == 0);
	CHECK(r[0].status == 'D');
	CHECK_STR(r[0].code, "5.1.1");
	CHECK(r[1].status == 'K');
	CHECK(r[2].status == 'Z' && strlen(r[2].text) == QSTATE_TEXT_MAX - 1);

	/* malformed records are skipped: three fields, a bad index */
	buf_reset(&b);
	frame_put_fields(&b, 'O', "1", "D", "5.0.0", (char *)NULL);
	frame_put_fields(&b, 'O', "1x", "D", "5.0.0", "t", (char *)NULL);
	frame_put_fields(&b, 'O', "-1", "D", "5.0.0", "t", (char *)NULL);
	frame_put_fields(&b, 'O', "1", "KD", "5.0.0", "t", (char *)NULL);
	frame_put_fields(&b, 'Q', "1", "D", "5.0.0", "t", (char *)NULL);
	raw_append(b.data, b.len);
	CHECK(qstate_read(ID, r, 3) == 0);
	CHECK(r[1].status == 'K');

	/* a torn tail: a crash in the middle of an append */
	buf_reset(&b);
	CHECK(qstate_put(&b, 1, 'D', "5.7.1", "torn") == 0);
	raw_append(b.data, b.len - 3);
	CHECK(qstate_read(ID, r, 3) == 0);
	CHECK(r[1].status == 'K');		/* the torn outcome never was */
	CHECK(r[0].status == 'D');		/* the whole ones still are */
	/* the next append cuts the torn bytes, so its records parse */
	buf_reset(&b);
	CHECK(qstate_put(&b, 1, 'Z', "4.0.0", "after torn") == 0);
	CHECK(qstate_append(ID, &b) == 0);
	CHECK(qstate_read(ID, r, 3) == 0);
	CHECK(r[1].status == 'Z');
	CHECK_STR(r[1].text, "after torn");
	CHECK(r[0].status == 'D' && r[2].status == 'Z');

	/* 'N' notices: kept beside the outcome, never replacing it */
	buf_reset(&b);
	CHECK(qstate_put_notice(&b, 0, 'F') == 0);
	CHECK(qstate_put_notice(&b, 2, 'W') == 0);
	CHECK(qstate_put_notice(&b, 1, 'X') == -1);
	CHECK(qstate_put_notice(&b, 7, 'S') == 0);	/* out of range */
	CHECK(qstate_append(ID, &b) == 0);
	CHECK(qstate_read(ID, r, 3) == 0);
	CHECK(r[0].status == 'D' && r[0].notified == QSTATE_N_FAIL);
	CHECK(r[1].notified == 0);
	CHECK(r[2].status == 'Z' && r[2].notified == QSTATE_N_DELAY);

	/* a remote server's reply carries its name (5 fields); a later
	 * local outcome (4 fields) has none */
	buf_reset(&b);
	CHECK(qstate_put_remote(&b, 0, 'D', "5.1.1", "550 5.1.1 no such user",
	    "mx1.example.org") == 0);
	CHECK(qstate_put_remote(&b, 1, 'Z', "4.0.0", "t", "a\nb") == -1);
	CHECK(qstate_append(ID, &b) == 0);
	CHECK(qstate_read(ID, r, 3) == 0);
	CHECK(r[0].status == 'D');
	CHECK_STR(r[0].mta, "mx1.example.org");
	CHECK_STR(r[0].text, "550 5.1.1 no such user");
	CHECK(r[0].notified == QSTATE_N_FAIL);
	buf_reset(&b);
	CHECK(qstate_put(&b, 0, 'K', "2.0.0", "delivered") == 0);
	CHECK(qstate_append(ID, &b) == 0);
	CHECK(qstate_read(ID, r, 3) == 0);
	CHECK(r[0].status == 'K' && r[0].mta[0] == '\0');
	/* six fields: malformed, skipped */
	buf_reset(&b);
	frame_put_fields(&b, 'O', "0", "D", "5.0.0", "t", "m", "x",
	    (char *)NULL);
	raw_append(b.data, b.len);
	CHECK(qstate_read(ID, r, 3) == 0);
	CHECK(r[0].status == 'K');

	/* an invalid ID is never a path */
	CHECK(qstate_append("../x", &b) == -1 && errno == EINVAL);
	CHECK(qstate_read("../x", r, 3) == -1);

	unlink("state/" ID);
	rmdir("state");
	if (chdir("/") == 0)
		rmdir(dir);
	buf_free(&b);
	return harness_done();
}
