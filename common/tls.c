/*
 * tls.c: OpenSSL 3 under struct io (see tls.h).
 *
 * Called by smtpd: tls_server_ctx() once, as root, before chroot;
 * tls_accept() for STARTTLS or before the greeting on an smtps listener;
 * tls_close() at the end of the session. By rspawn(8): tls_client_ctx()
 * once, as root, before chroot (the CA bundle is outside it), and
 * tls_connect() for each STARTTLS of the remote client, in its children.
 * Only programs that call these
 * link -lssl -lcrypto (libcommon.a is an archive: tls.o is pulled in only
 * where it is used), so master, which forks per connection, stays small.
 *
 * Policy, and why:
 *   - TLS 1.2 and up (RFC 8996 retired 1.0 and 1.1; RFC 8314 4.1).
 *   - No compression (CRIME), no renegotiation (a client-initiated
 *     renegotiation is a CPU lever and was the CVE-2009-3555 splice).
 *   - No session tickets unless tls_session_tickets = 1: some clients
 *     (Microsoft's) drop the connection when handed one. TLS 1.3 sends
 *     tickets even with SSL_OP_NO_TICKET (stateful ones), so the count is
 *     set to 0 too. There is no session cache: every smtpd serves one
 *     connection and exits, so a cache could never be hit.
 *   - The client checks the certificate's name (SSL_set1_host, no partial
 *     wildcards) always, and fails the handshake on it or on the chain
 *     only when asked to verify: "may" and "encrypt" take any certificate
 *     (RFC 7435 opportunistic security), "verify" none that does not
 *     verify against tls_ca_file.
 *   - An EOF without close_notify is an EOF, not an error: SMTP frames its
 *     own data (".", QUIT), so truncation cannot go unnoticed, and most
 *     clients just close.
 *
 * Errors: the reason from OpenSSL's error queue, or the system's, in err
 * (the caller logs it with the client's address).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "conf.h"
#include "tls.h"

/* The reason for the last failure into err as "what: reason": OpenSSL's
 * error queue first, else the system's errno, else fallback. */
static void
tls_reason(struct buf *err, const char *what, const char *fallback)
{
	unsigned long	 e = ERR_peek_last_error();
	const char	*r = fallback;
	char		 tmp[256];

	if (e != 0) {
		if ((r = ERR_reason_error_string(e)) == NULL) {
			ERR_error_string_n(e, tmp, sizeof(tmp));
			r = tmp;
		}
	} else if (errno != 0)
		r = strerror(errno);
	(void)buf_setf(err, "%s%s%s", what, what[0] ? ": " : "", r);
	ERR_clear_error();
}

/* A failed handshake: the certificate's verdict when that was the cause
 * (the client side with verification on), else OpenSSL's reason. */
static void
tls_handshake_reason(SSL *ssl, struct buf *err)
{
	long	 v = SSL_get_verify_result(ssl);

	if (SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE && v != X509_V_OK) {
		(void)buf_setf(err, "certificate verification failed: %s",
		    X509_verify_cert_error_string(v));
		ERR_clear_error();
		return;
	}
	tls_reason(err, "", "protocol error");
}

/* A context of either side: TLS 1.2 and up, and the write mode io.c
 * needs. NULL with the reason in err. */
static SSL_CTX *
tls_ctx_new(const SSL_METHOD *method, struct buf *err)
{
	SSL_CTX	*ctx;

	ERR_clear_error();
	errno = 0;
	if ((ctx = SSL_CTX_new(method)) == NULL) {
		tls_reason(err, "SSL_CTX_new", "failed");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		tls_reason(err, "TLS 1.2 minimum", "failed");
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* io_flush() retries with what is left from a moved pointer, and is
	 * content with part of it. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

struct ssl_ctx_st *
tls_server_ctx(const struct conf *c, struct buf *err)
{
	SSL_CTX		*ctx;
	const char	*key;
	uint64_t	 opts;

	if (c->tls_cert_file[0] == '\0') {
		(void)buf_setf(err, "tls_cert_file is not set");
		return NULL;
	}
	key = c->tls_key_file[0] != '\0' ? c->tls_key_file : c->tls_cert_file;
	if ((ctx = tls_ctx_new(TLS_server_method(), err)) == NULL)
		return NULL;
	opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE;
	if (!c->tls_session_tickets) {
		opts |= SSL_OP_NO_TICKET;
		SSL_CTX_set_num_tickets(ctx, 0);
	}
	SSL_CTX_set_options(ctx, opts);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_dh_auto(ctx, 1);
	errno = 0;
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert_file) != 1) {
		tls_reason(err, c->tls_cert_file, "cannot load");
		goto fail;
	}
	errno = 0;
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_reason(err, key, "cannot load");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void
tls_ctx_free(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

/* Wait for fd until the deadline (-1: none): 0 ready, -1 (ETIMEDOUT). */
static int
tls_wait(int fd, short events, long long deadline)
{
	struct pollfd	 pfd;
	long long	 left;
	int		 r;

	for (;;) {
		left = -1;
		if (deadline >= 0 && (left = deadline - io_now_ms()) < 0)
			left = 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		if ((r = poll(&pfd, 1, (int)left)) > 0)
			return 0;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

static long long
tls_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : io_now_ms() + timeout_ms;
}

/*
 * The hooks. WANT_READ on a read and WANT_WRITE on a write are what io.c
 * already polls for: EAGAIN sends it back to poll(). The crossed cases (a
 * read that must write, e.g. a TLS 1.3 KeyUpdate answer; a write that must
 * read) wait here, bounded by the io's timeout, since io.c would poll for
 * the wrong event.
 */
static ssize_t
tls_hook_read(struct io *io, void *p, size_t n)
{
	SSL	*ssl = io->ctx;
	size_t	 got;
	int	 r;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_read_ex(ssl, p, n, &got)) == 1)
			return (ssize_t)got;
		switch (SSL_get_error(ssl, r)) {
		case SSL_ERROR_ZERO_RETURN:
			return 0;	/* close_notify, or a plain EOF */
		case SSL_ERROR_WANT_READ:
			errno = EAGAIN;
			return -1;
		case SSL_ERROR_WANT_WRITE:
			if (tls_wait(SSL_get_wfd(ssl), POLLOUT,
			    tls_deadline(io->timeout_ms)) == -1)
				return -1;
			continue;
		case SSL_ERROR_SYSCALL:
			if (errno == 0)
				errno = ECONNRESET;
			return -1;
		default:
			ERR_clear_error();
			errno = EPROTO;
			return -1;
		}
	}
}

static ssize_t
tls_hook_write(struct io *io, const void *p, size_t n)
{
	SSL	*ssl = io->ctx;
	size_t	 done;
	int	 r;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_write_ex(ssl, p, n, &done)) == 1)
			return (ssize_t)done;
		switch (SSL_get_error(ssl, r)) {
		case SSL_ERROR_WANT_WRITE:
			errno = EAGAIN;
			return -1;
		case SSL_ERROR_WANT_READ:
			if (tls_wait(SSL_get_rfd(ssl), POLLIN,
			    tls_deadline(io->timeout_ms)) == -1)
				return -1;
			continue;
		case SSL_ERROR_SYSCALL:
			if (errno == 0)
				errno = EPIPE;
			return -1;
		default:
			ERR_clear_error();
			errno = EPROTO;
			return -1;
		}
	}
}

static int
tls_hook_pending(struct io *io)
{
	/* SSL_pending, not SSL_has_pending: the latter is also true for half
	 * a record, and a read would then say WANT_READ, and io.c would skip
	 * its poll() again, and spin. */
	return SSL_pending(io->ctx);
}

static int
tls_nonblock(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * The handshake of either side, on a non-blocking socket, bounded by
 * timeout_ms in all. 0: both io use TLS from now on; -1: ssl is freed and
 * the reason is in err ("closed" names who hung up).
 */
static int
tls_handshake(SSL *ssl, struct io *in, struct io *out, int timeout_ms,
    int (*step)(SSL *), const char *closed, struct buf *err)
{
	long long deadline = tls_deadline(timeout_ms);
	int	 r;

	if (SSL_set_rfd(ssl, in->fd) != 1 || SSL_set_wfd(ssl, out->fd) != 1 ||
	    tls_nonblock(in->fd) == -1 || tls_nonblock(out->fd) == -1) {
		tls_reason(err, "", "cannot attach the socket");
		SSL_free(ssl);
		return -1;
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = step(ssl)) == 1)
			break;
		switch (SSL_get_error(ssl, r)) {
		case SSL_ERROR_WANT_READ:
			r = tls_wait(in->fd, POLLIN, deadline);
			break;
		case SSL_ERROR_WANT_WRITE:
			r = tls_wait(out->fd, POLLOUT, deadline);
			break;
		case SSL_ERROR_SYSCALL:
			tls_reason(err, "", closed);
			SSL_free(ssl);
			return -1;
		default:
			tls_handshake_reason(ssl, err);
			SSL_free(ssl);
			return -1;
		}
		if (r == -1) {
			(void)buf_setf(err, "%s", errno == ETIMEDOUT ?
			    "timeout" : strerror(errno));
			SSL_free(ssl);
			return -1;
		}
	}
	in->ctx = out->ctx = ssl;
	in->readfn = out->readfn = tls_hook_read;
	in->writefn = out->writefn = tls_hook_write;
	in->pendingfn = out->pendingfn = tls_hook_pending;
	return 0;
}

static SSL *
tls_ssl_new(SSL_CTX *ctx, struct buf *err)
{
	SSL	*ssl;

	ERR_clear_error();
	errno = 0;
	if ((ssl = SSL_new(ctx)) == NULL)
		tls_reason(err, "SSL_new", "failed");
	return ssl;
}

int
tls_accept(struct ssl_ctx_st *ctx, struct io *in, struct io *out,
    int timeout_ms, struct buf *err)
{
	SSL	*ssl;

	if ((ssl = tls_ssl_new(ctx, err)) == NULL)
		return -1;
	return tls_handshake(ssl, in, out, timeout_ms, SSL_accept,
	    "connection closed by client", err);
}

struct ssl_ctx_st *
tls_client_ctx(const char *ca_file, struct buf *warn, struct buf *err)
{
	SSL_CTX	*ctx;

	if ((ctx = tls_ctx_new(TLS_client_method(), err)) == NULL)
		return NULL;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Loaded now, before the chroot: the bundle is not inside it. A
	 * missing file is survivable: "verify" then always fails, the other
	 * policies never look. */
	errno = 0;
	if (ca_file[0] == '\0' ||
	    SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1)
		tls_reason(warn, ca_file[0] ? ca_file : "tls_ca_file",
		    "not loaded");
	return ctx;
}

int
tls_connect(struct ssl_ctx_st *ctx, struct io *io, const char *servername,
    int verify, int timeout_ms, struct buf *err)
{
	SSL	*ssl;

	if ((ssl = tls_ssl_new(ctx, err)) == NULL)
		return -1;
	/* RFC 6066 3: SNI is a host name, never an address literal. */
	if (servername[0] != '\0' && servername[0] != '[' &&
	    strchr(servername, ':') == NULL &&
	    strspn(servername, "0123456789.") != strlen(servername) &&
	    SSL_set_tlsext_host_name(ssl, servername) != 1) {
		tls_reason(err, "SNI", "failed");
		SSL_free(ssl);
		return -1;
	}
	/* The name is checked always, so that the log can say "verified"
	 * for any policy; only "verify" refuses a failure (RFC 7672 is
	 * DANE's, not ours: this is the name the MX record gave). */
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (servername[0] != '\0' && SSL_set1_host(ssl, servername) != 1) {
		tls_reason(err, "host name check", "failed");
		SSL_free(ssl);
		return -1;
	}
	SSL_set_verify(ssl, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return tls_handshake(ssl, io, io, timeout_ms, SSL_connect,
	    "connection closed by server", err);
}

int
tls_verified(const struct io *io)
{
	const SSL	*ssl = io->ctx;
	X509		*peer;

	if (ssl == NULL || (peer = SSL_get0_peer_certificate(ssl)) == NULL)
		return 0;
	return SSL_get_verify_result(ssl) == X509_V_OK;
}

void
tls_describe(const struct io *io, char *out, size_t outsz)
{
	const SSL	*ssl = io->ctx;
	const SSL_CIPHER *c;
	int		 alg = 0, bits;

	if (ssl == NULL || (c = SSL_get_current_cipher(ssl)) == NULL) {
		(void)snprintf(out, outsz, "no TLS");
		return;
	}
	bits = SSL_CIPHER_get_bits(c, &alg);
	(void)snprintf(out, outsz, "%s with cipher %s (%d/%d bits)",
	    SSL_get_version(ssl), SSL_CIPHER_get_name(c), bits, alg);
}

void
tls_close(struct io *in, struct io *out)
{
	SSL	*ssl = in->ctx != NULL ? in->ctx : out->ctx;

	if (ssl == NULL)
		return;
	/* One try: a client that is gone or does not read gets no wait. */
	ERR_clear_error();
	(void)SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
	in->ctx = out->ctx = NULL;
	in->readfn = out->readfn = NULL;
	in->writefn = out->writefn = NULL;
	in->pendingfn = out->pendingfn = NULL;
}
