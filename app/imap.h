/* imap.h: the IMAP implementation of provider.h (RFC 3501/9051, with CONDSTORE and
 * QRESYNC, RFC 7162, UIDPLUS, MOVE and SPECIAL-USE when the server has them).
 *
 * libcurl makes the connection: TCP, TLS (imaps://) or STARTTLS (imap:// with TLS
 * required), the greeting and the authentication (LOGIN, AUTHENTICATE PLAIN, XOAUTH2 with
 * a bearer token). Then it hands over the authenticated connection (CURLOPT_CONNECT_ONLY)
 * and imap.c speaks IMAP itself over curl_easy_send/curl_easy_recv: its own tags, literals
 * counted byte by byte, pipelined batches of UID FETCH. Server text that reaches the user
 * (a refused login, a NO) is kept word for word in provider.error; what we send (the
 * credentials above all) is never recorded.
 *
 * Specifics of this implementation of provider.h:
 * - list_folders: the array and each name are malloc'd; the caller frees them (free).
 * - fetch: a message larger than 64 MiB (IMAP_LITERAL_MAX of imap-parse.h) is read and
 *   dropped as it arrives, never held in memory; it is then delivered with its header
 *   section only (BODY[HEADER]: raw ends with the blank line), so the sync still records
 *   it, and a warning is logged. Messages expunged between the listing and the FETCH are
 *   left out. A callback that returns non-zero ends the fetch with PROVIDER_OK (the
 *   batch already requested is read and dropped).
 * - changes: with QRESYNC, an expunge announced to this session outside changes() makes
 *   changes() select the folder again first, so that VANISHED (EARLIER) includes it.
 * - move: without MOVE, UID COPY then +FLAGS (\Deleted), then UID EXPUNGE when the server
 *   has UIDPLUS; without UIDPLUS the originals stay, marked \Deleted (a plain EXPUNGE would
 *   remove other messages too).
 * - Flags: system flags as "\Seen", keywords as sent; \Recent (a flag of the session,
 *   not of the message; gone in IMAP4rev2) is left out.
 * - open_folder: a folder that does not exist gives PROVIDER_GONE, also from servers
 *   (Dovecot) whose NO has no [NONEXISTENT] (a LIST of the name tells).
 * - IMAP_AUTH_LOGIN: libcurl 7.x cannot be told to use the LOGIN command ("AUTH=+LOGIN"
 *   came in 8.x), so curl connects (TLS, STARTTLS) without credentials and imap.c sends
 *   LOGIN itself (a literal for 8-bit names or passwords); a NO is PROVIDER_AUTH with
 *   the server's words, as for the other mechanisms.
 * - A FETCH response that cannot be parsed is PROVIDER_PROTOCOL (a message is never
 *   skipped silently); other unreadable untagged responses are skipped with a warning.
 * - The strings of a provider_message and provider_change live until the callback
 *   returns. */
#ifndef MAILROOM_IMAP_H
#define MAILROOM_IMAP_H

#include <stddef.h>
#include <stdint.h>

#include "provider.h"

enum imap_security { IMAP_SECURITY_TLS, IMAP_SECURITY_STARTTLS, IMAP_SECURITY_NONE };
enum imap_auth { IMAP_AUTH_AUTO, IMAP_AUTH_LOGIN, IMAP_AUTH_PLAIN, IMAP_AUTH_XOAUTH2 };

struct imap_settings {
	const char *host;		/* a name or an address; [v6] not needed */
	int port;			/* 0: 993 with TLS, else 143 */
	enum imap_security security;
	const char *username;
	enum imap_auth auth;
	const char *secret;		/* the password, or the OAuth 2 bearer token */
	const char *ca_file;		/* NULL: the system's CAs (mr_config.imap_ca_file) */
	int timeout;			/* seconds without progress before PROVIDER_NETWORK */
	/* Messages per UID FETCH command; 0: 50. */
	int batch;
	/* 0 (the default): refuse to connect to loopback, private, link-local and other
	 * non-public addresses, checked on the address actually connected to, so a user cannot
	 * point the server at its own network (MAILROOM_IMAP_ALLOW_PRIVATE=1 allows them). */
	int allow_private;
	/* Capabilities to ignore even when the server has them (IMAP_CAP_*): for tests of the
	 * code paths of servers without them. */
	unsigned ignore_caps;
};

#define IMAP_CAP_CONDSTORE	0x01u
#define IMAP_CAP_QRESYNC	0x02u
#define IMAP_CAP_MOVE		0x04u
#define IMAP_CAP_UIDPLUS	0x08u
#define IMAP_CAP_SPECIAL_USE	0x10u
#define IMAP_CAP_LITERAL_PLUS	0x20u
#define IMAP_CAP_ESEARCH	0x40u

/* Parses and checks the strings of a form or the API into s (pointing into them):
 * security "tls", "starttls" or "none"; auth "auto", "login", "plain", "xoauth2"; port
 * 1-65535 or empty. Returns 0, or -1 with a sentence naming the field in err. */
int imap_settings_parse(struct imap_settings *s, const char *host, const char *port,
    const char *security, const char *username, const char *auth, char *err, size_t errlen);

/* Sets up p (p->ops, p->impl) for an account; connect() does the network part. The
 * strings of s must outlive p. Returns 0, or -1 when out of memory. */
int imap_provider_init(struct provider *p, const struct imap_settings *s);

/* Connects, logs in, lists the folders (how many in *nfolders, when not NULL) and logs
 * out: the "test connection" of the account page. Returns PROVIDER_OK, or an error kind with the reason in err: the
 * server's own words when it answered (e.g. "[AUTHENTICATIONFAILED] Authentication
 * failed."), else what went wrong on the way (name not found, connection refused,
 * certificate not trusted, timed out). */
enum provider_status imap_test_connection(const struct imap_settings *s, size_t *nfolders,
    char *err, size_t errlen);

/* modified UTF-7 (RFC 3501 5.1.3) to UTF-8 and back; NULL when the input is invalid. */
char *imap_mutf7_decode(const char *s);
char *imap_mutf7_encode(const char *s);

#endif
