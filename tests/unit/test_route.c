/*
 * test_route.c: route values, the checks makemap applies to the routes
 * and tls_policy tables, and the lookup walk (domain, .parent, *).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "conf.h"
#include "route.h"
#include "table.h"
#include "harness.h"

static void
parses(const char *v, char mode, const char *name, int port)
{
	struct route	 r;
	const char	*why = NULL;

	memset(&r, 0, sizeof(r));
	CHECK(route_parse(v, &r, &why) == 0);
	CHECK(r.mode == mode);
	CHECK_STR(r.name, name);
	CHECK(r.port == port);
}

static void
refused(const char *v)
{
	struct route	 r;
	const char	*why = NULL;

	CHECK(route_parse(v, &r, &why) == -1 && why != NULL);
}

int
main(void)
{
	struct route	 r;
	struct conf	 c;
	struct table	 t;
	struct buf	 v = BUF_INIT, err = BUF_INIT;
	const char	*why;
	char		 dir[] = "/tmp/test-route.XXXXXX", src[300], dst[300];
	FILE		*f;

	parses("[192.0.2.5]:2525", 'a', "[192.0.2.5]", 2525);
	parses("[192.0.2.5]", 'a', "[192.0.2.5]", 25);
	parses("[IPv6:2001:db8::1]:26", 'a', "[IPv6:2001:db8::1]", 26);
	parses("[2001:db8::1]", 'a', "[IPv6:2001:db8::1]", 25);
	parses("[Smarthost.Example.COM]:587", 'a', "smarthost.example.com",
	    587);
	parses("relay.example.net", 'm', "relay.example.net", 25);
	parses("relay.example.net:2526", 'm', "relay.example.net", 2526);
	refused("");
	refused("[192.0.2.5");
	refused("[192.0.2.5]x");
	refused("[192.0.2.5]:0");
	refused("[192.0.2.5]:65536");
	refused("[192.0.2.5]:25x");
	refused("[]:25");
	refused("host..example");
	refused("-host.example");
	refused("host_name.example");
	refused("host.example:");
	refused("a b");
	refused("[evil\n.example]");

	route_default("example.org", &r);
	CHECK(r.mode == 'm' && r.port == 25);
	CHECK_STR(r.name, "example.org");
	route_default("[192.0.2.7]", &r);
	CHECK(r.mode == 'a');

	CHECK(route_check("example.org", "[192.0.2.5]:2525", &why) == 0);
	CHECK(route_check(".example.org", "relay.example.net", &why) == 0);
	CHECK(route_check("*", "[smart.example]:587", &why) == 0);
	CHECK(route_check("[192.0.2.9]", "[192.0.2.5]", &why) == 0);
	CHECK(route_check("exa mple", "[192.0.2.5]", &why) == -1);
	CHECK(route_check("example.org", "[bad", &why) == -1);
	CHECK(tls_policy_check("example.org", "verify", &why) == 0);
	CHECK(tls_policy_check("*", "none", &why) == 0);
	CHECK(tls_policy_check("example.org", "secure", &why) == -1);
	CHECK(tls_policy_check("example.org", "May", &why) == -1);

	/* makemap through the checker: a bad value names file:line */
	if (mkdtemp(dir) == NULL)
		return 2;
	snprintf(src, sizeof(src), "%s/routes", dir);
	snprintf(dst, sizeof(dst), "%s/routes.cdb", dir);
	f = fopen(src, "w");
	fprintf(f, "# comment\nexample.org [192.0.2.5]:2525\n"
	    ".example.net [192.0.2.6]\n* [smart.example]:587\n");
	fclose(f);
	CHECK(table_build_checked(src, dst, route_check, &err) == 0);
	f = fopen(src, "a");
	fprintf(f, "bad.example [192.0.2.5]:99999\n");
	fclose(f);
	CHECK(table_build_checked(src, dst, route_check, &err) == -1);
	CHECK(strstr(buf_str(&err), "routes:5:") != NULL);

	/* the walk: exact, .parent, * */
	memset(&c, 0, sizeof(c));
	strlcpy(c.confdir, dir, sizeof(c.confdir));
	table_init(&t, &c, "routes");
	CHECK(route_lookup(&t, "example.org", &v) == 1);
	CHECK_STR(buf_str(&v), "[192.0.2.5]:2525");
	CHECK(route_lookup(&t, "a.b.example.net", &v) == 1);
	CHECK_STR(buf_str(&v), "[192.0.2.6]");
	CHECK(route_lookup(&t, "example.net", &v) == 1);
	CHECK_STR(buf_str(&v), "[smart.example]:587");
	CHECK(route_lookup(&t, "[192.0.2.1]", &v) == 1);
	CHECK_STR(buf_str(&v), "[smart.example]:587");
	table_close(&t);

	unlink(src);
	unlink(dst);
	rmdir(dir);
	buf_free(&v);
	buf_free(&err);
	return harness_done();
}
