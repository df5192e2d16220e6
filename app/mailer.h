/* mailer.h: the mail mailroom itself sends (password-reset links, notices): messages built
 * with GMime, sent over SMTP with libcurl, either at once (mailer_send) or through the
 * process's queue and its one sender thread (mailer_enqueue). Bodies may carry secrets:
 * they are never logged, and the buffers that hold them are zeroed when freed. */
#ifndef MAILROOM_MAILER_H
#define MAILROOM_MAILER_H

#include <stddef.h>
#include <stdint.h>

/* What the caller gives: strings in UTF-8, copied by every function that takes them. */
struct mailer_message {
	const char *to;        /* the recipient's address, local@domain */
	const char *to_name;   /* the recipient's display name, or NULL */
	const char *subject;
	const char *text;      /* the text/plain body */
	const char *html;      /* NULL, or an HTML alternative (multipart/alternative) */
};

/* How mail leaves. mailer_opts_from_config fills them from mr_config (MAILROOM_SMTP_URL,
 * MAILROOM_SMTP_TLS, MAILROOM_SMTP_USER, MAILROOM_SMTP_PASSWORD, MAILROOM_MAIL_FROM) and
 * the defaults below; the strings are not copied, they must outlive their use. */
struct mailer_opts {
	const char *smtp_url;      /* smtp://host[:port] or smtps://host[:port]; NULL: disabled */
	int tls;                   /* enum config_smtp_tls */
	const char *user;          /* NULL: no AUTH */
	const char *password;
	const char *from;          /* "Display Name <addr>" or addr */
	long connect_timeout_ms;   /* 10 s */
	long timeout_ms;           /* 30 s, a whole transfer */
	int retries;               /* of a transient failure: 3 */
	long backoff_ms;           /* before the first retry (2 s); four times longer each time */
	int queue_max;             /* messages waiting in the queue: 1000 */
};

/* The results of a send. */
enum mailer_result {
	MAILER_SENT = 0,
	MAILER_INVALID = -1,       /* not configured, or the message was refused before sending */
	MAILER_TEMPORARY = -2,     /* a 4xx reply or a network failure, still so after retries */
	MAILER_PERMANENT = -3,     /* a 5xx reply, a TLS or login failure */
	MAILER_QUEUE_FULL = -4,    /* mailer_enqueue: the queue is full or not running */
};

struct mailer_stats {
	uint64_t sent;             /* messages accepted by the server */
	uint64_t failed;           /* given up on (permanent, or transient after the retries) */
	uint64_t retried;          /* attempts after a transient failure */
	uint64_t dropped;          /* refused by a full queue, or left in it by mailer_stop */
	int queued;                /* in the queue now, the one being sent included */
};

void mailer_opts_from_config(struct mailer_opts *o);
/* The settings mailer_send, mailer_enqueue and mailer_start use from now on (copied, the
 * strings too); NULL goes back to those of mr_config. Not while the sender thread runs. */
void mailer_configure(const struct mailer_opts *o);
/* Whether outgoing mail is configured (MAILROOM_SMTP_URL is set). */
int mailer_enabled(void);

/* An address mailroom accepts: an ASCII dot-atom local part, '@', a host name. */
int mailer_address_valid(const char *addr);
/* Splits "Display Name <addr>", "\"Quoted, Name\" <addr>" or "addr" into its parts
 * (name may come back empty); -1 with a reason in *why when it is not one valid mailbox. */
int mailer_mailbox_parse(const char *s, char *name, size_t namelen, char *addr,
    size_t addrlen, const char **why);

/* The whole RFC 5322 message, CRLF line ends, in *out (free with mailer_buffer_free), or
 * MAILER_INVALID with the reason in err (header injection, a bad address, bad UTF-8). */
int mailer_build(const struct mailer_message *m, char **out, size_t *outlen, char *err,
    size_t errlen);
/* Zeroes then frees a message buffer. */
void mailer_buffer_free(char *p, size_t len);

/* Builds and sends now, retrying transient failures like the queue does (blocking through
 * the backoff). Returns a mailer_result; err says why, with the server's reply when there
 * was one, and never the body or a password. */
int mailer_send(const struct mailer_message *m, char *err, size_t errlen);

/* Starts the sender thread (nothing when mail is not configured); -1 with err when the
 * thread cannot start. Once per process, before serving. */
int mailer_start(char *err, size_t errlen);
/* Builds the message and hands it to the sender thread; returns at once. MAILER_INVALID
 * when mail is not configured or the message is refused, MAILER_QUEUE_FULL when the queue
 * is full or not running (logged); err says which. */
int mailer_enqueue(const struct mailer_message *m, char *err, size_t errlen);
/* Sends what is queued for at most wait_ms (retries waiting for their backoff are tried at
 * once), aborts the transfer in flight at the deadline, drops and counts the rest, and
 * stops the thread. */
void mailer_stop(long wait_ms);
void mailer_get_stats(struct mailer_stats *s);

#endif
