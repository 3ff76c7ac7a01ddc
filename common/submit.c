/*
 * submit.c: where the local submission socket is (sendmail(8)).
 *
 * Called by master, which binds it, and by sendmail, which connects to it:
 * local_submit_socket, or SPOOL/submit when that key is empty. The path
 * must fit a sockaddr_un; -1 (errno ENAMETOOLONG) when it does not.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>

#include "conf.h"
#include "submit.h"

int
submit_socket_path(const struct conf *c, char *out, size_t outsz)
{
	struct sockaddr_un sun;
	int	 n;

	if (c->local_submit_socket[0] != '\0')
		n = snprintf(out, outsz, "%s", c->local_submit_socket);
	else
		n = snprintf(out, outsz, "%s/submit", c->spool_directory);
	if (n < 0 || (size_t)n >= outsz || (size_t)n >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}
