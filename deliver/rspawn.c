/*
 * Placeholder main until the real program lands: holds its sockets and
 * exits when master closes the control socket (fd 4).
 */
#include <stdlib.h>
#include <unistd.h>

int
main(void)
{
	char	 b[64];

	while (read(4, b, sizeof(b)) > 0)
		;
	return EXIT_SUCCESS;
}
