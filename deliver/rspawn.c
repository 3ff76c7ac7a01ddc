/*
 * rspawn.c: placeholder main of rspawn(8) until the helper lands
 * (docs/protocols.md, "qmgr -> rspawn").
 */
#include <stdlib.h>

int
main(void)
{
	return EXIT_FAILURE;
}
