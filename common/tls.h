/*
 * tls.h: TLS (OpenSSL 3) under struct io: contexts, the handshake, and the
 * read/write hooks io.c calls instead of read(2)/write(2).
 *
 * Called by smtpd for STARTTLS (RFC 3207) and implicit TLS (RFC 8314), and
 * by the remote SMTP client (deliver/remote_session.c) for its STARTTLS:
 * tls_client_ctx() and tls_connect() beside the server pair, with the
 * same hooks.
 *
 * A context is made once per process from postern.conf while the process is
 * still root and outside its chroot (the key file is root's; nothing is
 * opened later). One SSL object serves two struct io (smtpd reads fd 0 and
 * writes fd 1, both the same socket): both get the hooks and the same ctx.
 * The socket is made non-blocking by tls_accept(), so that no SSL call can
 * wait past the io's deadline; the hooks turn OpenSSL's WANT_READ /
 * WANT_WRITE into EAGAIN for io.c's poll loop.
 *
 * Errors: functions that can fail return NULL or -1 and put a short reason
 * (OpenSSL's, e.g. "unsupported protocol") into err; the hooks return -1
 * with errno (EAGAIN, ETIMEDOUT, EPROTO for a TLS-level error, or the
 * system's) like read(2) and write(2).
 */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <stddef.h>
#include "buf.h"
#include "io.h"

struct conf;
struct ssl_ctx_st;	/* OpenSSL's SSL_CTX; no OpenSSL header needed here */

/* A server context from tls_cert_file (the chain, leaf first) and
 * tls_key_file (empty: the key is in the certificate file): TLS 1.2 and
 * up, no compression, no renegotiation, no session tickets unless
 * tls_session_tickets = 1. NULL with the reason in err. */
struct ssl_ctx_st *tls_server_ctx(const struct conf *, struct buf *err);
void	 tls_ctx_free(struct ssl_ctx_st *);

/* The server side of the handshake on in->fd (read) and out->fd (write),
 * waiting at most timeout_ms in all. 0: done, and both io use TLS from now
 * on; -1: failed, reason in err (the caller ends the session). Bytes
 * already in in->in are the caller's to discard first (CVE-2011-0411). */
int	 tls_accept(struct ssl_ctx_st *, struct io *in, struct io *out,
	    int timeout_ms, struct buf *err);
/* A client context: TLS 1.2 and up, no compression, no renegotiation,
 * the CA bundle ca_file loaded for verification (a bundle that cannot be
 * loaded is only a warning, in warn: every verification then fails).
 * NULL with the reason in err. */
struct ssl_ctx_st *tls_client_ctx(const char *ca_file, struct buf *warn,
	    struct buf *err);
/* The client side of the handshake on io->fd: SNI servername (not for an
 * address), the certificate's name checked against servername, and
 * with verify set, a chain that does not verify against the CA bundle or
 * a name that does not match fails the handshake. 0, or -1 with the
 * reason in err. */
int	 tls_connect(struct ssl_ctx_st *, struct io *, const char *servername,
	    int verify, int timeout_ms, struct buf *err);
/* 1 when the peer's certificate chain and name verified. */
int	 tls_verified(const struct io *);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" */
void	 tls_describe(const struct io *, char *out, size_t outsz);
/* Send close_notify (best effort, no waiting) and free the SSL object;
 * both io go back to plain read/write. Safe when TLS was never started. */
void	 tls_close(struct io *in, struct io *out);

#endif
