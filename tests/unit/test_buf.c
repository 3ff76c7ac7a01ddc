/*
 * test_buf.c: common/buf.c: growth, the ceiling, NUL termination, consume.
 */
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "harness.h"

int
main(void)
{
	struct buf	 b = BUF_INIT, s;
	char		 big[300];
	int		 i;

	CHECK_STR(buf_str(&b), "");
	CHECK(buf_adds(&b, "hello") == 0);
	CHECK(b.len == 5 && b.data[5] == '\0');
	CHECK(buf_addc(&b, ' ') == 0);
	CHECK(buf_addf(&b, "%s %d", "world", 42) == 0);
	CHECK_STR(buf_str(&b), "hello world 42");
	buf_consume(&b, 6);
	CHECK_STR(buf_str(&b), "world 42");
	buf_consume(&b, 100);
	CHECK(b.len == 0);
	CHECK_STR(buf_str(&b), "");
	CHECK(buf_set(&b, "abc", 3) == 0);
	CHECK_STR(buf_str(&b), "abc");
	buf_reset(&b);
	CHECK(b.len == 0 && b.data[0] == '\0');
	/* truncate: only ever shorter */
	CHECK(buf_set(&b, "abcdef", 6) == 0);
	buf_truncate(&b, 3);
	CHECK(b.len == 3);
	CHECK_STR(buf_str(&b), "abc");
	buf_truncate(&b, 10);
	CHECK_STR(buf_str(&b), "abc");
	buf_reset(&b);

	/* growth through many doublings, binary contents */
	for (i = 0; i < 10000; i++)
		if (buf_add(&b, "\0x", 2) == -1)
			break;
	CHECK(i == 10000);
	CHECK(b.len == 20000 && b.data[20000] == '\0' && b.data[1] == 'x');
	/* a formatted string longer than the free space */
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_reset(&b);
	CHECK(buf_addf(&b, "<%s>", big) == 0);
	CHECK(b.len == 301 && b.data[0] == '<' && b.data[300] == '>');
	buf_free(&b);
	CHECK(b.data == NULL && b.len == 0);

	/* the ceiling */
	buf_init(&s, 8);
	CHECK(buf_adds(&s, "12345678") == 0);
	errno = 0;
	CHECK(buf_addc(&s, '9') == -1 && errno == EMSGSIZE);
	CHECK_STR(buf_str(&s), "12345678");
	buf_reset(&s);
	CHECK(buf_addf(&s, "%d", 123456789) == -1 && errno == EMSGSIZE);
	CHECK(s.len == 0 && s.data[0] == '\0');
	CHECK(buf_reserve(&s, (size_t)-1) == -1 && errno == EMSGSIZE);
	CHECK(buf_set(&s, "abcdefgh", 8) == 0);
	CHECK(buf_set(&s, s.data + 2, 3) == 0);	/* from itself */
	CHECK_STR(buf_str(&s), "cde");
	buf_free(&s);
	return harness_done();
}
