/*
 * conf.h: postern.conf, the one file that describes an instance.
 *
 * Syntax: "key = value" lines; '#' starts a comment line; blank lines
 * ignored; leading and trailing blanks of the value dropped. An unknown key,
 * a repeated key, a value out of its range or a line without '=' is an
 * error naming "file:line". Every key has a default (conf.c's table is the
 * list, and conf/postern.conf shows each with its default), so an empty file
 * is a valid config.
 *
 * Numbers are plain decimal integers; the unit is in the key's name.
 * conf_load() never exits: the caller decides (master keeps its old config on
 * SIGHUP when the new one is bad).
 */
#ifndef POSTERN_CONF_H
#define POSTERN_CONF_H

#include <limits.h>
#include "buf.h"

#define CONF_NAME	"postern.conf"
#define CONF_STR_MAX	256

struct conf {
	char	 confdir[PATH_MAX];	/* as given with -c, made absolute */
	/* identity */
	char	 hostname[CONF_STR_MAX];	/* default: gethostname() */
	/* where things live */
	char	 spool_directory[PATH_MAX];	/* /var/spool/postern */
	char	 smtpd_chroot_directory[PATH_MAX]; /* /var/lib/postern/empty */
	char	 virtual_mailbox_base[PATH_MAX];	/* /var/mail/virtual */
	char	 pid_file[PATH_MAX];		/* /run/postern.pid */
	/* users */
	char	 smtpd_user[CONF_STR_MAX];	/* postern-smtpd */
	char	 queue_user[CONF_STR_MAX];	/* postern-queue */
	char	 virtual_mail_user[CONF_STR_MAX]; /* postern-vmail */
	/* listeners: "addr:port" items separated by blanks or commas;
	 * "[v6addr]:port" for IPv6 */
	char	 smtpd_listen[1024];		/* 0.0.0.0:25 */
	char	 submission_listen[1024];	/* "" (RFC 6409: 587) */
	char	 smtps_listen[1024];		/* "" (RFC 8314: 465) */
	/* sendmail(1): the local submission socket (master binds it, mode
	 * 0666; the uid comes from SO_PEERCRED), and who may choose the
	 * envelope sender with -f (root always may) */
	char	 local_submit_socket[PATH_MAX];	/* "": SPOOL/submit */
	char	 sendmail_trusted_users[1024];	/* "": root only; "*": all */
	/* TLS (RFC 3207 STARTTLS, RFC 8314 implicit TLS) */
	char	 tls_cert_file[PATH_MAX];	/* "": no TLS offered */
	char	 tls_key_file[PATH_MAX];	/* "" */
	int	 tls_session_tickets;		/* 0 */
	/* smtpd limits */
	int	 smtpd_max_sessions;		/* 100 */
	int	 smtpd_process_uses;		/* 1: a fresh smtpd per session */
	int	 smtpd_process_idle_seconds;	/* 60 */
	int	 smtpd_timeout_seconds;		/* 300 */
	int	 smtpd_data_timeout_seconds;	/* 600 */
	int	 smtpd_max_recipients;		/* 100 */
	int	 smtpd_max_errors;		/* 20 */
	int	 smtpd_command_line_limit;	/* 512 */
	int	 smtpd_text_line_limit;		/* 1000 */
	char	 smtpd_bare_newline[16];	/* reject | normalize */
	int	 smtpd_pregreet_wait_ms;	/* 0 */
	int	 smtpd_max_sessions_per_client;	/* 20 */
	int	 smtpd_max_connections_per_minute; /* 120, per client */
	char	 smtpd_client_limit_exceptions[1024]; /* 127.0.0.0/8 ::1 */
	int	 smtpd_auth_failure_delay_seconds; /* 2 */
	long long message_size_limit;		/* 52428800 */
	long long queue_minfree_bytes;		/* 0 */
	/* queue */
	int	 qmgr_rescan_seconds;		/* 60 */
	int	 queue_retry_min_seconds;	/* 300 */
	int	 queue_retry_max_seconds;	/* 4000 */
	int	 queue_lifetime_seconds;	/* 432000 */
	int	 delay_warning_seconds;		/* 0: no delay warnings */
	int	 local_concurrency;		/* 10 */
	int	 qmgr_message_active_limit;	/* 1000 */
	int	 local_delivery_timeout_seconds; /* 600 */
	int	 local_worker_uses;		/* 100; 0: a child per delivery */
	int	 local_worker_idle_seconds;	/* 60 */
	/* local delivery: a system user's default mailbox, and where the
	 * mbox files of home_mailbox = mbox live */
	char	 home_mailbox[16];		/* Maildir/ | mbox */
	char	 mail_spool_directory[PATH_MAX];	/* /var/mail */
	char	 local_agent[PATH_MAX];		/* "" = built in */
	/* aliases and sub-addressing (docs/tables.md) */
	char	 recipient_delimiter[16];	/* "+"; "" = no user+detail */
	char	 alias_user[CONF_STR_MAX];	/* nobody: runs |cmd, /file */
	int	 alias_max_targets;		/* 1000, per recipient */
	int	 alias_max_depth;		/* 20 nested aliases/includes */
	/* lmtp(8), the agent that hands mail to an LMTP server (RFC 2033):
	 * "unix:/path" or "inet:host:port"; each connect or wait bounded */
	char	 lmtp_destination[PATH_MAX];	/* unix:/run/dovecot/lmtp */
	int	 lmtp_timeout_seconds;		/* 120 */
	/* resolve(8): DNS for remote delivery, chrooted as resolve_user;
	 * master copies resolv_conf_file to CHROOT/etc/resolv.conf */
	char	 resolve_user[CONF_STR_MAX];	/* postern-resolve */
	char	 resolve_chroot_directory[PATH_MAX]; /* /var/lib/postern/resolve */
	char	 resolv_conf_file[PATH_MAX];	/* /etc/resolv.conf */
	int	 resolve_cache_max_seconds;	/* 3600: TTLs capped to this */
	int	 resolve_cache_entries;		/* 10000 */
	int	 resolve_address_limit;		/* 10 addresses per answer */
	char	 inet_protocols[16];		/* all | ipv4 | ipv6 */
	/* rspawn(8) and its remote SMTP client children */
	char	 remote_user[CONF_STR_MAX];	/* postern-remote */
	char	 remote_chroot_directory[PATH_MAX]; /* /var/lib/postern/remote */
	char	 tls_ca_file[PATH_MAX];	/* Debian's CA bundle */
	char	 smtp_tls_security_level[16];	/* none|may|encrypt|verify */
	char	 smtp_helo_name[CONF_STR_MAX];	/* "": hostname */
	char	 smtp_8bit_without_8bitmime[16]; /* send | bounce */
	int	 smtp_recipient_limit;		/* 50 per transaction */
	int	 smtp_connect_timeout_seconds;	/* 30 */
	/* RFC 5321 4.5.3.2 */
	int	 smtp_greeting_timeout_seconds;	/* 300 */
	int	 smtp_command_timeout_seconds;	/* 300: EHLO, MAIL, RCPT, ... */
	int	 smtp_data_init_timeout_seconds; /* 120 */
	int	 smtp_data_block_timeout_seconds; /* 180 */
	int	 smtp_data_done_timeout_seconds; /* 600 */
	int	 smtp_connection_reuse_seconds;	/* 10: idle connection kept */
	int	 smtp_dead_host_seconds;	/* 60 */
	int	 remote_concurrency;		/* 20 deliveries at once */
	int	 remote_destination_concurrency; /* 5 per destination */
	int	 master_restart_max_seconds;	/* 60 */
};

/* Load CONFDIR/postern.conf. 0, or -1 with "file:line: what" in err. */
int	 conf_load(struct conf *, const char *confdir, struct buf *err);
/* CONFDIR/name into out; -1 if it does not fit. */
int	 conf_path(const struct conf *, const char *name, char *out,
	    size_t outsz);
/* Print every key = value, defaults included (postern check -v). */
void	 conf_print(const struct conf *, int fd);
/* The default CONFDIR when no -c is given. */
#ifndef CONFDIR_DEFAULT
#define CONFDIR_DEFAULT	"/etc/postern"
#endif

#endif
