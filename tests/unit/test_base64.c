/*
 * test_base64.c: common/base64.c against RFC 4648 section 10's test
 * vectors, the AUTH strings of RFC 4954, and what must be refused.
 */
#include <string.h>

#include "base64.h"
#include "harness.h"

static int
dec_is(const char *in, const char *want, size_t wantlen)
{
	unsigned char	 out[64];
	long		 n;

	n = base64_decode(in, strlen(in), out, sizeof(out));
	return n == (long)wantlen && memcmp(out, want, wantlen) == 0;
}

static int
dec_bad(const char *in, size_t outsz)
{
	unsigned char	 out[64];

	return base64_decode(in, strlen(in), out, outsz) == -1;
}

int
main(void)
{
	/* RFC 4648 10 */
	static const char *vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	char	 enc[64];
	size_t	 i;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		CHECK(dec_is(vec[i][1], vec[i][0], strlen(vec[i][0])));
		CHECK(base64_encode((const unsigned char *)vec[i][0],
		    strlen(vec[i][0]), enc, sizeof(enc)) ==
		    (long)strlen(vec[i][1]));
		CHECK_STR(enc, vec[i][1]);
	}
	/* RFC 4954 4: the LOGIN prompts and a PLAIN response with NULs. */
	CHECK(dec_is("VXNlcm5hbWU6", "Username:", 9));
	CHECK(dec_is("UGFzc3dvcmQ6", "Password:", 9));
	CHECK(dec_is("AHRlc3QAdGVzdHBhc3M=", "\0test\0testpass", 14));

	/* Refused: bad length, bad bytes, blanks, misplaced padding,
	 * non-zero pad bits (RFC 4648 3.5), output too small. */
	CHECK(dec_bad("Zg=", 64));
	CHECK(dec_bad("Zm9", 64));
	CHECK(dec_bad("Zm9v\r\n", 64));
	CHECK(dec_bad("Zm 9", 64));
	CHECK(dec_bad("Zm-v", 64));
	CHECK(dec_bad("Zg==Zm9v", 64));
	CHECK(dec_bad("Z===", 64));
	CHECK(dec_bad("Zm=v", 64));
	CHECK(dec_bad("Zh==", 64));
	CHECK(dec_bad("Zm9=", 64));
	CHECK(dec_bad("====", 64));
	CHECK(dec_bad("Zm9vYmFy", 5));
	CHECK(dec_bad("Zm9vYg==", 3));
	CHECK(!dec_bad("Zm9vYg==", 4));
	CHECK(dec_bad("Zm9v\0", 64) == 0);	/* strlen stops at NUL */
	{
		unsigned char out[8];
		CHECK(base64_decode("Zm9v\0AAA", 8, out, sizeof(out)) == -1);
	}
	/* encode: the output size is checked, NUL included. */
	CHECK(base64_encode((const unsigned char *)"foo", 3, enc, 4) == -1);
	CHECK(base64_encode((const unsigned char *)"foo", 3, enc, 5) == 4);
	CHECK(base64_encode((const unsigned char *)"", 0, enc, 0) == -1);
	return harness_done();
}
