/*
 * fdpass.h: handing an open file descriptor to another process over a Unix
 * socket (SCM_RIGHTS). master uses it to reconnect qmgr and lspawn when one
 * of them is restarted, so the survivor keeps running.
 */
#ifndef POSTERN_FDPASS_H
#define POSTERN_FDPASS_H

/* Send fd with one byte tag. 0 or -1. */
int	 fd_send(int sock, int fd, char tag);
/* Receive: the fd, -1 on error, or -2 on EOF. *tag set. */
int	 fd_recv(int sock, char *tag);

#endif
