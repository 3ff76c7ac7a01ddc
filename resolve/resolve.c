/*
 * resolve.c: placeholder main of resolve(8) until the helper lands
 * (docs/protocols.md, "qmgr -> resolve").
 */
#include <stdlib.h>

int
main(void)
{
	return EXIT_FAILURE;
}
