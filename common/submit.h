/*
 * submit.h: the local submission socket's path (common/submit.c).
 */
#ifndef POSTERN_SUBMIT_H
#define POSTERN_SUBMIT_H

#include <stddef.h>

struct conf;

/* local_submit_socket, or SPOOL/submit. 0, or -1 (ENAMETOOLONG: longer
 * than a sockaddr_un can hold). */
int	 submit_socket_path(const struct conf *, char *out, size_t outsz);

#endif
