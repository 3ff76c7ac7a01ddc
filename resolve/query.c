/*
 * query.c: asking the name servers with glibc's resolver (see query.h).
 *
 * Called by main() once, after chroot, and by lookup.c for every packet.
 * One resolver state, res_ninit()'d again when /etc/resolv.conf changes.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <resolv.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "query.h"

volatile sig_atomic_t	 query_busy;

static struct __res_state query_res;
static int		 query_ready;	/* query_res is res_ninit()'d */
static struct stat	 query_st;	/* the file query_res was read from */
static int		 query_st_ok;	/* ... and it existed */
static time_t		 query_checked;	/* last stat(), monotonic seconds */

int
query_init(void)
{
	if (query_ready)
		res_nclose(&query_res);
	query_ready = 0;
	memset(&query_res, 0, sizeof(query_res));
	query_st_ok = stat(QUERY_RESOLV_CONF, &query_st) == 0;
	if (!query_st_ok)
		log_warn_errno("%s (glibc then asks 127.0.0.1)",
		    QUERY_RESOLV_CONF);
	if (res_ninit(&query_res) == -1) {
		log_warn("%s: res_ninit failed", QUERY_RESOLV_CONF);
		return -1;
	}
	query_ready = 1;
	log_info("%s: %d name server(s), timeout %d s, %d attempt(s)",
	    QUERY_RESOLV_CONF, query_res.nscount, query_res.retrans,
	    query_res.retry);
	return 0;
}

static int
query_changed(void)
{
	struct stat	 st;
	int		 ok = stat(QUERY_RESOLV_CONF, &st) == 0;

	if (ok != query_st_ok)
		return 1;
	return ok && (st.st_ino != query_st.st_ino ||
	    st.st_dev != query_st.st_dev || st.st_size != query_st.st_size ||
	    st.st_mtim.tv_sec != query_st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != query_st.st_mtim.tv_nsec);
}

/* master replaces the copy (on start and reload); at most one stat() a
 * second, so a busy resolve does not stat() per packet. */
static void
query_refresh(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (query_ready && ts.tv_sec == query_checked)
		return;
	query_checked = ts.tv_sec;
	if (!query_ready || query_changed()) {
		if (query_ready)
			log_info("%s changed: reading it again",
			    QUERY_RESOLV_CONF);
		(void)query_init();
	}
}

int
query_send(void *arg, const char *name, int type, unsigned char *ans,
    size_t size)
{
	unsigned char	 q[NS_PACKETSZ];
	int		 qlen, n;

	(void)arg;
	query_refresh();
	if (!query_ready)
		return -1;
	qlen = res_nmkquery(&query_res, ns_o_query, name, ns_c_in, type,
	    NULL, 0, NULL, q, sizeof(q));
	if (qlen < 0)
		return -1;
	query_busy = 1;
	n = res_nsend(&query_res, q, qlen, ans,
	    size > QUERY_ANSWER_MAX ? QUERY_ANSWER_MAX : (int)size);
	query_busy = 0;
	return n;
}
