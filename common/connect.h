/*
 * connect.h: a TCP (or Unix) connection with a deadline, for the clients
 * among Postern's programs: lmtp(8) and the remote SMTP client.
 */
#ifndef POSTERN_CONNECT_H
#define POSTERN_CONNECT_H

#include <sys/socket.h>

/* A connected non-blocking, close-on-exec stream socket to sa, waiting at
 * most timeout_ms; -1 with errno (ETIMEDOUT past the deadline). */
int	 net_connect(const struct sockaddr *sa, socklen_t salen,
	    int timeout_ms);

#endif
