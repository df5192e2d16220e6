/* imap.c: the IMAP provider (imap.h). libcurl connects and logs in (TLS, STARTTLS, the
 * SASL mechanisms, certificate checks), then hands over the connection; from there this
 * file speaks IMAP itself with its own tags, reading whole responses through
 * imap-parse.c, so that literals are counted and nothing a message holds can pass for a
 * response. Every wait on the server is bounded by settings.timeout. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "imap-parse.h"
#include "imap.h"
#include "util.h"

#define IMAP_DEFAULT_TIMEOUT	60
#define IMAP_DEFAULT_BATCH	50
#define IMAP_BATCH_MAX		1000
/* A SEARCH answer lists every UID on one line: a million UIDs take about 8 MB. */
#define IMAP_SEARCH_LINE_MAX	((size_t)32 * 1024 * 1024)
/* UIDs one response may make us enumerate (a VANISHED or ESEARCH range). */
#define IMAP_EXPAND_MAX		((size_t)16 * 1024 * 1024)
/* The UID set of one command, so that command lines stay short. */
#define IMAP_SET_MAX		4000
#define IMAP_LOGOUT_TIMEOUT	5

struct imap {
	struct provider *p;
	struct imap_settings s;
	CURL *h;
	curl_socket_t sock;
	int connected;
	int broken;			/* the stream cannot be trusted: connect again */
	unsigned caps;			/* IMAP_CAP_*, less ignore_caps */
	unsigned tagn;
	char rbuf[16384];
	size_t rpos, rlen;
	struct imap_reader rd;
	struct imap_resp resp;
	char bye[256];			/* the text of a BYE, for the error that follows */

	/* The selected folder. */
	char *folder;
	uint32_t uidvalidity, uidnext, exists;
	uint64_t modseq;
	int nomodseq;
	int missed_expunge;		/* an expunge was announced outside changes() */
	int keywords;			/* PERMANENTFLAGS has \* (or was not sent) */

	/* What libcurl's login saw: the server's last tagged NO or BAD, and ours. */
	char login_text[256];
	char refused[256];		/* a private address refused */
	char curl_err[CURL_ERROR_SIZE];
};

typedef enum provider_status (*imap_data_fn)(struct imap *ip, const struct imap_resp *r,
    void *arg);

static const struct provider_ops imap_ops;

/* ---- errors */

/* Server text as it may be shown: control characters become spaces. */
static void
imap_clean(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < len && k + 1 < dstlen; i++) {
		unsigned char ch = (unsigned char)s[i];

		dst[k++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	dst[k] = '\0';
}

static enum provider_status MR_PRINTF(3, 4)
imap_err(struct imap *ip, enum provider_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ip->p->error, sizeof(ip->p->error), fmt, ap);
	va_end(ap);
	return st;
}

/* The connection is lost or out of step: no further command goes on it. */
static enum provider_status MR_PRINTF(3, 4)
imap_broken(struct imap *ip, enum provider_status st, const char *fmt, ...)
{
	va_list ap;

	ip->broken = 1;
	if (ip->bye[0] != '\0') {
		imap_err(ip, PROVIDER_NETWORK, "the server closed the connection: %s", ip->bye);
		return PROVIDER_NETWORK;
	}
	va_start(ap, fmt);
	vsnprintf(ip->p->error, sizeof(ip->p->error), fmt, ap);
	va_end(ap);
	return st;
}

static int
imap_timeout(const struct imap *ip)
{
	return ip->s.timeout > 0 ? ip->s.timeout : IMAP_DEFAULT_TIMEOUT;
}

/* A growable byte buffer for command lines. */
struct imap_linebuf {
	char *data;
	size_t len, cap;
};

static void
imap_buf_add(struct imap_linebuf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		/* By hand, not realloc: the old copy may hold a password to wipe. */
		d = xmalloc(cap);
		if (b->len > 0)
			memcpy(d, b->data, b->len);
		if (b->data != NULL) {
			explicit_bzero(b->data, b->cap);
			free(b->data);
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
imap_buf_wipe(struct imap_linebuf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	b->len = 0;
}

/* ---- the socket */

static enum provider_status
imap_wait_sock(struct imap *ip, short events)
{
	int64_t deadline = util_now_us() + (int64_t)imap_timeout(ip) * 1000000;

	for (;;) {
		struct pollfd pfd = { .fd = ip->sock, .events = events };
		int64_t left = (deadline - util_now_us()) / 1000;
		int rc;

		if (left <= 0)
			break;
		rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return PROVIDER_OK;
		if (rc == -1 && errno != EINTR)
			return imap_broken(ip, PROVIDER_NETWORK, "lost the connection to %s: %s",
			    ip->s.host, strerror(errno));
	}
	return imap_broken(ip, PROVIDER_NETWORK, "%s did not answer for %d seconds",
	    ip->s.host, imap_timeout(ip));
}

/* SIGPIPE blocked in this thread while curl writes (a send, OpenSSL answering inside a
 * read, the close_notify of a cleanup), and one it raised taken back: a server that
 * closes at the wrong moment must not kill the process (libpq's way; CURLOPT_NOSIGNAL
 * leaves SIGPIPE to the application). */
struct imap_nopipe {
	sigset_t old;
	int was_pending;
};

static void
imap_nopipe_begin(struct imap_nopipe *np)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &np->old);
	sigpending(&pending);
	np->was_pending = sigismember(&pending, SIGPIPE);
}

static void
imap_nopipe_end(struct imap_nopipe *np)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	if (!np->was_pending) {
		struct timespec zero = { 0, 0 };

		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE))
			sigtimedwait(&set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &np->old, NULL);
}

static enum provider_status
imap_send(struct imap *ip, const char *data, size_t len)
{
	enum provider_status st;

	if (ip->broken)
		return PROVIDER_NETWORK;
	while (len > 0) {
		size_t sent = 0;
		struct imap_nopipe np;
		CURLcode rc;

		imap_nopipe_begin(&np);
		rc = curl_easy_send(ip->h, data, len, &sent);
		imap_nopipe_end(&np);

		if (rc == CURLE_AGAIN) {
			if ((st = imap_wait_sock(ip, POLLOUT)) != PROVIDER_OK)
				return st;
			continue;
		}
		if (rc != CURLE_OK)
			return imap_broken(ip, PROVIDER_NETWORK, "lost the connection to %s: %s",
			    ip->s.host, curl_easy_strerror(rc));
		data += sent;
		len -= sent;
	}
	return PROVIDER_OK;
}

static void
imap_note_untagged(struct imap *ip, const struct imap_resp *r)
{
	char text[256];

	if (r->cond == IMAP_COND_BYE) {
		imap_clean(ip->bye, sizeof(ip->bye), r->text.s, r->text.len);
		if (ip->bye[0] == '\0')
			snprintf(ip->bye, sizeof(ip->bye), "BYE");
	} else if (r->cond == IMAP_COND_OK && imap_str_is(r->code.s, r->code.len, "ALERT")) {
		imap_clean(text, sizeof(text), r->text.s, r->text.len);
		log_info("%s says: %s", ip->s.host, text);
	} else if (r->cond == IMAP_COND_NO || r->cond == IMAP_COND_BAD) {
		imap_clean(text, sizeof(text), r->text.s, r->text.len);
		log_warn("%s warns: %s", ip->s.host, text);
	} else if (r->has_num && imap_str_is(r->name.s, r->name.len, "EXISTS")) {
		ip->exists = r->num;
	} else if (r->has_num && imap_str_is(r->name.s, r->name.len, "EXPUNGE")) {
		if (ip->exists > 0)
			ip->exists--;
		ip->missed_expunge = 1;
	} else if (imap_str_is(r->name.s, r->name.len, "VANISHED")) {
		ip->missed_expunge = 1;
	}
}

/* "* n FETCH": a response that may carry a message. */
static int
imap_is_fetch(const char *s, size_t len)
{
	size_t i = 2;

	if (len < 10 || s[0] != '*' || s[1] != ' ')
		return 0;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	return i > 2 && i + 6 <= len && imap_str_is(s + i, 6, " FETCH");
}

/* Reads the next whole response into ip->resp. An untagged response we cannot parse
 * is skipped (a server's extension must not stop a sync), unless it is a FETCH: a
 * message lost without a word would never be fetched again. A tagged one is fatal. */
static enum provider_status
imap_read(struct imap *ip)
{
	if (ip->broken)
		return imap_err(ip, PROVIDER_NETWORK, "the connection to %s was lost",
		    ip->s.host);
	for (;;) {
		imap_reader_next(&ip->rd);
		while (!ip->rd.complete) {
			if (ip->rpos < ip->rlen) {
				ssize_t n = imap_reader_feed(&ip->rd, ip->rbuf + ip->rpos,
				    ip->rlen - ip->rpos);

				if (n < 0)
					return imap_broken(ip, PROVIDER_PROTOCOL,
					    "%s sent %s", ip->s.host, ip->rd.err);
				ip->rpos += (size_t)n;
				continue;
			}
			struct imap_nopipe np;
			size_t got = 0;
			CURLcode rc;

			imap_nopipe_begin(&np);
			rc = curl_easy_recv(ip->h, ip->rbuf, sizeof(ip->rbuf), &got);
			imap_nopipe_end(&np);

			if (rc == CURLE_AGAIN) {
				enum provider_status st = imap_wait_sock(ip, POLLIN);

				if (st != PROVIDER_OK)
					return st;
				continue;
			}
			if (rc != CURLE_OK)
				return imap_broken(ip, PROVIDER_NETWORK,
				    "lost the connection to %s: %s", ip->s.host,
				    curl_easy_strerror(rc));
			if (got == 0)
				return imap_broken(ip, PROVIDER_NETWORK,
				    "%s closed the connection", ip->s.host);
			ip->rpos = 0;
			ip->rlen = got;
		}
		if (imap_parse(&ip->resp, ip->rd.buf, ip->rd.len) == 0) {
			if (ip->resp.kind == IMAP_KIND_UNTAGGED)
				imap_note_untagged(ip, &ip->resp);
			return PROVIDER_OK;
		}
		if (ip->rd.buf[0] != '*' || imap_is_fetch(ip->rd.buf, ip->rd.len)) {
			char line[128];

			imap_clean(line, sizeof(line), ip->rd.buf, ip->rd.len);
			return imap_broken(ip, PROVIDER_PROTOCOL,
			    "%s sent a response we cannot read (%s): %s", ip->s.host,
			    ip->resp.err, line);
		}
		log_warn("%s: skipped an untagged response (%s)", ip->s.host, ip->resp.err);
	}
}

/* Sends "TAG command\r\n" and puts the tag in tag[16]. */
static enum provider_status MR_PRINTF(3, 0)
imap_vcommand(struct imap *ip, char *tag, const char *fmt, va_list ap)
{
	enum provider_status st;
	char *cmd, *line;

	snprintf(tag, 16, "mr%u", ++ip->tagn);
	if (vasprintf(&cmd, fmt, ap) == -1)
		fatal("out of memory");
	line = xasprintf("%s %s\r\n", tag, cmd);
	st = imap_send(ip, line, strlen(line));
	free(line);
	free(cmd);
	return st;
}

static enum provider_status MR_PRINTF(3, 4)
imap_command(struct imap *ip, char *tag, const char *fmt, ...)
{
	enum provider_status st;
	va_list ap;

	va_start(ap, fmt);
	st = imap_vcommand(ip, tag, fmt, ap);
	va_end(ap);
	return st;
}

/* What a tagged NO or BAD means for the caller, with the server's words. */
static enum provider_status
imap_refusal(struct imap *ip, const struct imap_resp *r, const char *what)
{
	enum provider_status st = PROVIDER_REFUSED;
	char text[384];
	size_t n;

	n = (size_t)snprintf(text, sizeof(text), "%s%.*s%s", r->code.len ? "[" : "",
	    (int)r->code.len, r->code.s != NULL ? r->code.s : "", r->code.len ? "] " : "");
	if (n < sizeof(text))
		imap_clean(text + n, sizeof(text) - n, r->text.s, r->text.len);
	if (r->cond == IMAP_COND_BAD)
		return imap_err(ip, PROVIDER_PROTOCOL, "%s rejected %s as invalid: %s",
		    ip->s.host, what, text);
	if (imap_str_is(r->code.s, r->code.len, "NONEXISTENT") ||
	    imap_str_is(r->code.s, r->code.len, "TRYCREATE"))
		st = PROVIDER_GONE;
	else if (imap_str_is(r->code.s, r->code.len, "LIMIT") ||
	    imap_str_is(r->code.s, r->code.len, "UNAVAILABLE") ||
	    imap_str_is(r->code.s, r->code.len, "INUSE")) {
		st = PROVIDER_LIMIT;
		ip->p->retry_after = 60;
	}
	return imap_err(ip, st, "%s refused %s: %s", ip->s.host, what, text);
}

/* Reads the responses to the command tagged tag up to its completion, giving the
 * untagged ones to fn. A continuation request ends the wait when want_continue is set
 * (ip->resp then holds it). fn's first error is returned once the command is over, so
 * the stream stays in step. */
static enum provider_status
imap_wait(struct imap *ip, const char *tag, const char *what, imap_data_fn fn, void *arg,
    int want_continue)
{
	enum provider_status st = PROVIDER_OK, rc;
	const struct imap_resp *r = &ip->resp;

	for (;;) {
		if ((rc = imap_read(ip)) != PROVIDER_OK)
			return rc;
		if (r->kind == IMAP_KIND_CONTINUE) {
			if (want_continue)
				return PROVIDER_OK;
			return imap_broken(ip, PROVIDER_PROTOCOL,
			    "%s asked for data that %s does not have", ip->s.host, what);
		}
		if (r->kind == IMAP_KIND_UNTAGGED) {
			if (fn != NULL && st == PROVIDER_OK)
				st = fn(ip, r, arg);
			continue;
		}
		if (!imap_str_is(r->tag.s, r->tag.len, tag))
			return imap_broken(ip, PROVIDER_PROTOCOL,
			    "%s answered a command that was not sent (%.*s)", ip->s.host,
			    (int)(r->tag.len > 16 ? 16 : r->tag.len), r->tag.s);
		if (r->cond != IMAP_COND_OK)
			return imap_refusal(ip, r, what);
		return st;
	}
}

/* One command and its completion. */
static enum provider_status MR_PRINTF(5, 6)
imap_run(struct imap *ip, const char *what, imap_data_fn fn, void *arg, const char *fmt,
    ...)
{
	enum provider_status st;
	va_list ap;
	char tag[16];

	va_start(ap, fmt);
	st = imap_vcommand(ip, tag, fmt, ap);
	va_end(ap);
	if (st != PROVIDER_OK)
		return st;
	return imap_wait(ip, tag, what, fn, arg, 0);
}

/* A mailbox name (UTF-8) as an IMAP quoted string of its modified UTF-7; NULL when
 * it cannot be one (invalid UTF-8). */
static char *
imap_quote_mailbox(const char *name)
{
	char *enc = imap_mutf7_encode(name), *out, *w;

	if (enc == NULL || enc[0] == '\0') {
		free(enc);
		return NULL;
	}
	out = xmalloc(2 * strlen(enc) + 3);
	w = out;
	*w++ = '"';
	for (const char *s = enc; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			*w++ = '\\';
		*w++ = *s;
	}
	*w++ = '"';
	*w = '\0';
	free(enc);
	return out;
}

/* ---- connecting */

static int
imap_addr4_private(uint32_t a)
{
	return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 ||
	    (a & 0xffc00000u) == 0x64400000u ||		/* 100.64/10, CGNAT */
	    (a & 0xffff0000u) == 0xa9fe0000u ||		/* 169.254/16 */
	    (a & 0xfff00000u) == 0xac100000u ||		/* 172.16/12 */
	    (a & 0xffff0000u) == 0xc0a80000u ||		/* 192.168/16 */
	    (a & 0xffffff00u) == 0xc0000000u ||		/* 192.0.0/24 */
	    (a & 0xfffe0000u) == 0xc6120000u ||		/* 198.18/15 */
	    (a >> 28) >= 0xe;				/* multicast, reserved, broadcast */
}

static int
imap_addr_private(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return imap_addr4_private(ntohl(in->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b };
		int zero = 1;

		if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
			return imap_addr4_private((uint32_t)b[12] << 24 |
			    (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
		for (int i = 0; i < 15; i++)
			zero &= b[i] == 0;
		if (zero)				/* :: and ::1 */
			return 1;
		return (b[0] & 0xfe) == 0xfc ||		/* fc00::/7, ULA */
		    (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||	/* fe80::/10 */
		    b[0] == 0xff ||			/* multicast */
		    (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8);
	}
	return 1;
}

/* Checks each address curl is about to connect to, after DNS: a name that resolves to
 * a private address, whenever it does so, is refused. */
static curl_socket_t
imap_opensocket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct imap *ip = arg;
	char addr[INET6_ADDRSTRLEN] = "?";

	(void)purpose;
	if (!ip->s.allow_private && imap_addr_private(&a->addr)) {
		if (a->family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr)->sin_addr, addr,
			    sizeof(addr));
		else if (a->family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr)->sin6_addr,
			    addr, sizeof(addr));
		snprintf(ip->refused, sizeof(ip->refused),
		    "%s resolves to a private address (%s); this server does not connect there",
		    ip->s.host, addr);
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

/* Keeps the server's tagged NO/BAD and BYE lines of the login, nothing else: what curl
 * sends (the credentials) never reaches this function's memory. */
static int
imap_debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	struct imap *ip = arg;
	const char *sp, *end = data + size;

	(void)h;
	if (type != CURLINFO_HEADER_IN || size < 4)
		return 0;
	if ((sp = memchr(data, ' ', size)) == NULL)
		return 0;
	sp++;
	if ((size_t)(end - sp) >= 3 && (strncmp(sp, "NO ", 3) == 0 ||
	    strncmp(sp, "BAD ", 4) == 0 || strncmp(sp, "BYE ", 4) == 0)) {
		if (data[0] == '*' && strncmp(sp, "BYE ", 4) != 0)
			return 0;
		sp += sp[1] == 'O' ? 3 : 4;
		while (end > sp && (end[-1] == '\n' || end[-1] == '\r'))
			end--;
		imap_clean(ip->login_text, sizeof(ip->login_text), sp, (size_t)(end - sp));
	}
	return 0;
}

static enum provider_status
imap_login_error(struct imap *ip, CURLcode rc)
{
	const char *why = ip->curl_err[0] != '\0' ? ip->curl_err : curl_easy_strerror(rc);
	const char *host = ip->s.host;

	if (ip->refused[0] != '\0')
		return imap_err(ip, PROVIDER_NETWORK, "%s", ip->refused);
	switch (rc) {
	case CURLE_LOGIN_DENIED:
		if (ip->login_text[0] != '\0')
			return imap_err(ip, PROVIDER_AUTH, "%s", ip->login_text);
		return imap_err(ip, PROVIDER_AUTH, "%s refused the login: %s", host, why);
	case CURLE_COULDNT_RESOLVE_HOST:
		return imap_err(ip, PROVIDER_NETWORK, "the server name %s was not found",
		    host);
	case CURLE_COULDNT_CONNECT:
		return imap_err(ip, PROVIDER_NETWORK, "cannot connect to %s port %d: %s",
		    host, ip->s.port, why);
	case CURLE_OPERATION_TIMEDOUT:
		return imap_err(ip, PROVIDER_NETWORK,
		    "%s port %d did not answer within %d seconds", host, ip->s.port,
		    imap_timeout(ip));
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return imap_err(ip, PROVIDER_NETWORK, "the server's certificate is not trusted: %s",
		    why);
	case CURLE_SSL_CONNECT_ERROR:
		return imap_err(ip, PROVIDER_NETWORK, "the TLS handshake with %s failed: %s",
		    host, why);
	case CURLE_USE_SSL_FAILED:
		return imap_err(ip, PROVIDER_PROTOCOL,
		    "%s does not offer STARTTLS; choose TLS or check the port (%s)", host, why);
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
		if (ip->login_text[0] != '\0')
			return imap_err(ip, PROVIDER_PROTOCOL, "%s: %s", host, ip->login_text);
		return imap_err(ip, PROVIDER_PROTOCOL, "%s does not speak IMAP here: %s", host,
		    why);
	default:
		if (ip->login_text[0] != '\0' && rc != CURLE_GOT_NOTHING &&
		    rc != CURLE_RECV_ERROR && rc != CURLE_SEND_ERROR)
			return imap_err(ip, PROVIDER_PROTOCOL, "%s: %s", host, ip->login_text);
		return imap_err(ip, PROVIDER_NETWORK, "%s port %d: %s", host, ip->s.port, why);
	}
}

static enum provider_status
imap_caps_fn(struct imap *ip, const struct imap_resp *r, void *arg)
{
	static const struct {
		const char *name;
		unsigned cap;
	} known[] = {
		{ "CONDSTORE", IMAP_CAP_CONDSTORE }, { "QRESYNC", IMAP_CAP_QRESYNC },
		{ "MOVE", IMAP_CAP_MOVE }, { "UIDPLUS", IMAP_CAP_UIDPLUS },
		{ "SPECIAL-USE", IMAP_CAP_SPECIAL_USE }, { "LITERAL+", IMAP_CAP_LITERAL_PLUS },
		{ "ESEARCH", IMAP_CAP_ESEARCH },
	};
	unsigned *caps = arg;

	(void)ip;
	if (!imap_str_is(r->name.s, r->name.len, "CAPABILITY"))
		return PROVIDER_OK;
	for (const struct imap_node *n = imap_node(r, r->first); n != NULL;
	    n = imap_node(r, n->next)) {
		for (size_t i = 0; i < MR_ARRAY_LEN(known); i++) {
			if (imap_node_is(n, known[i].name))
				*caps |= known[i].cap;
		}
	}
	return PROVIDER_OK;
}

static enum provider_status
imap_enabled_fn(struct imap *ip, const struct imap_resp *r, void *arg)
{
	int *on = arg;

	(void)ip;
	if (imap_str_is(r->name.s, r->name.len, "ENABLED")) {
		for (const struct imap_node *n = imap_node(r, r->first); n != NULL;
		    n = imap_node(r, n->next))
			*on |= imap_node_is(n, "QRESYNC");
	}
	return PROVIDER_OK;
}

static void
imap_disconnect(struct imap *ip)
{
	if (ip->h != NULL) {
		struct imap_nopipe np;

		imap_nopipe_begin(&np);
		curl_easy_cleanup(ip->h);
		imap_nopipe_end(&np);
	}
	ip->h = NULL;
	ip->connected = ip->broken = 0;
	ip->rpos = ip->rlen = 0;
	ip->bye[0] = '\0';
	free(ip->folder);
	ip->folder = NULL;
	imap_reader_next(&ip->rd);
}

static int
imap_host_valid(const char *h)
{
	size_t n = h != NULL ? strlen(h) : 0;

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)h[i];

		/* Names, IPv4 and IPv6 addresses: nothing that would change the URL. */
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == ':' ||
		    ch == '_'))
			return 0;
	}
	return h[0] != '-' && h[0] != '.';
}

/* Appends s to b as an IMAP quoted string, or returns 0 when it needs a literal. */
static int
imap_put_quoted(struct imap_linebuf *b, const char *s)
{
	for (const char *c = s; *c != '\0'; c++) {
		if ((unsigned char)*c >= 0x80 || *c == '\r' || *c == '\n')
			return 0;
	}
	imap_buf_add(b, "\"", 1);
	for (const char *c = s; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			imap_buf_add(b, "\\", 1);
		imap_buf_add(b, c, 1);
	}
	imap_buf_add(b, "\"", 1);
	return 1;
}

/* LOGIN user password, each a quoted string or, with 8-bit characters, a literal sent
 * after the server's "+". The line holds the password: it is wiped, never logged. */
static enum provider_status
imap_login(struct imap *ip)
{
	const char *args[2] = { ip->s.username != NULL ? ip->s.username : "",
	    ip->s.secret != NULL ? ip->s.secret : "" };
	struct imap_linebuf b = { NULL, 0, 0 };
	enum provider_status st = PROVIDER_OK;
	char tag[16];

	snprintf(tag, sizeof(tag), "mr%u", ++ip->tagn);
	imap_buf_add(&b, tag, strlen(tag));
	imap_buf_add(&b, " LOGIN ", 7);
	for (int i = 0; i < 2 && st == PROVIDER_OK; i++) {
		if (i > 0)
			imap_buf_add(&b, " ", 1);
		if (imap_put_quoted(&b, args[i]))
			continue;
		char lit[32];
		int n = snprintf(lit, sizeof(lit), "{%zu}\r\n", strlen(args[i]));

		imap_buf_add(&b, lit, (size_t)n);
		st = imap_send(ip, b.data, b.len);
		imap_buf_wipe(&b);
		if (st == PROVIDER_OK)
			st = imap_wait(ip, tag, "LOGIN", NULL, NULL, 1);
		if (st == PROVIDER_OK)
			imap_buf_add(&b, args[i], strlen(args[i]));
	}
	if (st == PROVIDER_OK) {
		imap_buf_add(&b, "\r\n", 2);
		st = imap_send(ip, b.data, b.len);
	}
	imap_buf_wipe(&b);
	free(b.data);
	if (st == PROVIDER_OK)
		st = imap_wait(ip, tag, "LOGIN", NULL, NULL, 0);
	if (st == PROVIDER_REFUSED || (st == PROVIDER_PROTOCOL && !ip->broken)) {
		/* The server's words alone, as for the logins libcurl makes. */
		const struct imap_resp *r = &ip->resp;
		char text[384];
		size_t n = (size_t)snprintf(text, sizeof(text), "%s%.*s%s",
		    r->code.len ? "[" : "", (int)r->code.len, r->code.s ? r->code.s : "",
		    r->code.len ? "] " : "");

		if (n < sizeof(text))
			imap_clean(text + n, sizeof(text) - n, r->text.s, r->text.len);
		return imap_err(ip, PROVIDER_AUTH, "%s", text);
	}
	return st;
}

static enum provider_status
imap_connect(struct provider *p)
{
	struct imap *ip = p->impl;
	const struct imap_settings *s = &ip->s;
	enum provider_status st;
	unsigned caps = 0;
	CURLcode rc;
	char *url;
	int port, v6;

	p->error[0] = '\0';
	if (ip->connected && !ip->broken)
		return PROVIDER_OK;
	imap_disconnect(ip);
	if (!imap_host_valid(s->host))
		return imap_err(ip, PROVIDER_REFUSED, "the server name is not valid");
	port = s->port > 0 ? s->port : s->security == IMAP_SECURITY_TLS ? 993 : 143;
	ip->s.port = port;
	v6 = strchr(s->host, ':') != NULL;
	url = xasprintf("%s://%s%s%s:%d/", s->security == IMAP_SECURITY_TLS ? "imaps" : "imap",
	    v6 ? "[" : "", s->host, v6 ? "]" : "", port);
	if ((ip->h = curl_easy_init()) == NULL)
		fatal("curl_easy_init failed");
	ip->login_text[0] = ip->refused[0] = ip->curl_err[0] = '\0';
	curl_easy_setopt(ip->h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(ip->h, CURLOPT_PROTOCOLS_STR, "imap,imaps");
#else
	curl_easy_setopt(ip->h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_IMAP | CURLPROTO_IMAPS));
#endif
	curl_easy_setopt(ip->h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(ip->h, CURLOPT_PROXY, "");
	curl_easy_setopt(ip->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(ip->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(ip->h, CURLOPT_CONNECTTIMEOUT, (long)imap_timeout(ip));
	curl_easy_setopt(ip->h, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)imap_timeout(ip));
	curl_easy_setopt(ip->h, CURLOPT_TIMEOUT, (long)imap_timeout(ip) * 3);
	curl_easy_setopt(ip->h, CURLOPT_ERRORBUFFER, ip->curl_err);
	curl_easy_setopt(ip->h, CURLOPT_OPENSOCKETFUNCTION, imap_opensocket_cb);
	curl_easy_setopt(ip->h, CURLOPT_OPENSOCKETDATA, ip);
	curl_easy_setopt(ip->h, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(ip->h, CURLOPT_DEBUGFUNCTION, imap_debug_cb);
	curl_easy_setopt(ip->h, CURLOPT_DEBUGDATA, ip);
	curl_easy_setopt(ip->h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(ip->h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(ip->h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (s->ca_file != NULL && s->ca_file[0] != '\0')
		curl_easy_setopt(ip->h, CURLOPT_CAINFO, s->ca_file);
	if (s->security == IMAP_SECURITY_STARTTLS)
		curl_easy_setopt(ip->h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (s->auth != IMAP_AUTH_LOGIN)
		curl_easy_setopt(ip->h, CURLOPT_USERNAME, s->username != NULL ? s->username : "");
	switch (s->auth) {
	case IMAP_AUTH_XOAUTH2:
		curl_easy_setopt(ip->h, CURLOPT_XOAUTH2_BEARER, s->secret != NULL ? s->secret : "");
		curl_easy_setopt(ip->h, CURLOPT_LOGIN_OPTIONS, "AUTH=XOAUTH2");
		break;
	case IMAP_AUTH_LOGIN:
		/* libcurl before 8 cannot be told to use the LOGIN command: without
		 * credentials it stops after the greeting and STARTTLS, and imap_login
		 * sends LOGIN itself. */
		break;
	case IMAP_AUTH_PLAIN:
		curl_easy_setopt(ip->h, CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN");
		break;
	case IMAP_AUTH_AUTO:
		break;
	}
	if (s->auth == IMAP_AUTH_AUTO || s->auth == IMAP_AUTH_PLAIN)
		curl_easy_setopt(ip->h, CURLOPT_PASSWORD, s->secret != NULL ? s->secret : "");
	{
		struct imap_nopipe np;

		imap_nopipe_begin(&np);
		rc = curl_easy_perform(ip->h);
		imap_nopipe_end(&np);
	}
	/* The secret is no longer needed by curl: do not keep a copy in its handle. */
	curl_easy_setopt(ip->h, CURLOPT_PASSWORD, "");
	curl_easy_setopt(ip->h, CURLOPT_XOAUTH2_BEARER, "");
	curl_easy_setopt(ip->h, CURLOPT_VERBOSE, 0L);
	free(url);
	if (rc != CURLE_OK) {
		st = imap_login_error(ip, rc);
		imap_disconnect(ip);
		return st;
	}
	{
		curl_socket_t sock = CURL_SOCKET_BAD;

		if (curl_easy_getinfo(ip->h, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK ||
		    sock == CURL_SOCKET_BAD) {
			imap_disconnect(ip);
			return imap_err(ip, PROVIDER_NETWORK, "lost the connection to %s",
			    s->host);
		}
		ip->sock = sock;
	}
	ip->connected = 1;
	if (s->auth == IMAP_AUTH_LOGIN && (st = imap_login(ip)) != PROVIDER_OK) {
		imap_disconnect(ip);
		return st;
	}
	if ((st = imap_run(ip, "CAPABILITY", imap_caps_fn, &caps, "CAPABILITY")) != PROVIDER_OK)
		return st;
	if (caps & IMAP_CAP_QRESYNC)
		caps |= IMAP_CAP_CONDSTORE;	/* QRESYNC implies it (RFC 7162 3.2.3) */
	caps &= ~s->ignore_caps;
	if (!(caps & IMAP_CAP_CONDSTORE))
		caps &= ~IMAP_CAP_QRESYNC;
	if (caps & IMAP_CAP_QRESYNC) {
		int on = 0;

		st = imap_run(ip, "ENABLE QRESYNC", imap_enabled_fn, &on, "ENABLE QRESYNC");
		if (st != PROVIDER_OK && ip->broken)
			return st;
		if (st != PROVIDER_OK || !on)
			caps &= ~IMAP_CAP_QRESYNC;
	}
	ip->caps = caps;
	p->error[0] = '\0';
	return PROVIDER_OK;
}

static enum provider_status
imap_ready(struct imap *ip)
{
	if (!ip->connected || ip->h == NULL)
		return imap_err(ip, PROVIDER_NETWORK, "not connected to %s",
		    ip->s.host != NULL ? ip->s.host : "the server");
	if (ip->broken)
		return imap_err(ip, PROVIDER_NETWORK, "the connection to %s was lost",
		    ip->s.host);
	ip->p->error[0] = '\0';
	ip->p->retry_after = 0;
	return PROVIDER_OK;
}

/* ---- folders */

struct imap_list_ctx {
	struct provider_folder *v;
	unsigned *attrs;
	size_t n, cap;
};

static enum provider_status
imap_list_fn(struct imap *ip, const struct imap_resp *r, void *arg)
{
	struct imap_list_ctx *x = arg;
	struct imap_list l;
	char *raw, *name;

	if (!imap_str_is(r->name.s, r->name.len, "LIST"))
		return PROVIDER_OK;
	if (imap_list_parse(r, &l) == -1)
		return imap_broken(ip, PROVIDER_PROTOCOL, "%s sent a LIST response we cannot read",
		    ip->s.host);
	raw = xstrndup(l.name.s, l.name.len);
	name = imap_mutf7_decode(raw);
	if (name == NULL) {
		char shown[128];

		imap_clean(shown, sizeof(shown), raw, strlen(raw));
		log_warn("%s: skipped the folder \"%s\": its name is not modified UTF-7",
		    ip->s.host, shown);
		free(raw);
		return PROVIDER_OK;
	}
	free(raw);
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->v = xreallocarray(x->v, x->cap, sizeof(*x->v));
		x->attrs = xreallocarray(x->attrs, x->cap, sizeof(*x->attrs));
	}
	x->v[x->n] = (struct provider_folder){ name, l.delimiter, FOLDER_OTHER,
	    !(l.flags & IMAP_LIST_NOSELECT) };
	x->attrs[x->n] = l.flags;
	x->n++;
	return PROVIDER_OK;
}

static void
imap_list_free(struct imap_list_ctx *x)
{
	for (size_t i = 0; i < x->n; i++)
		free(x->v[i].name);
	free(x->v);
	free(x->attrs);
	memset(x, 0, sizeof(*x));
}

/* Folder names of common servers and clients, for servers without SPECIAL-USE. */
static const struct {
	enum provider_folder_role role;
	const char *name;
} imap_role_names[] = {
	{ FOLDER_SENT, "Sent" }, { FOLDER_SENT, "Sent Items" },
	{ FOLDER_SENT, "Sent Messages" }, { FOLDER_SENT, "Sent Mail" },
	{ FOLDER_SENT, "[Gmail]/Sent Mail" }, { FOLDER_SENT, "[Google Mail]/Sent Mail" },
	{ FOLDER_SENT, "Gesendet" }, { FOLDER_SENT, "Gesendete Objekte" },
	{ FOLDER_SENT, "Gesendete Elemente" }, { FOLDER_SENT, "Envoyés" },
	{ FOLDER_SENT, "Éléments envoyés" }, { FOLDER_SENT, "Messages envoyés" },
	{ FOLDER_SENT, "Enviados" }, { FOLDER_SENT, "Posta inviata" },
	{ FOLDER_SENT, "Verzonden" }, { FOLDER_SENT, "Verzonden items" },
	{ FOLDER_DRAFTS, "Drafts" }, { FOLDER_DRAFTS, "Draft" },
	{ FOLDER_DRAFTS, "[Gmail]/Drafts" }, { FOLDER_DRAFTS, "Entwürfe" },
	{ FOLDER_DRAFTS, "Brouillons" }, { FOLDER_DRAFTS, "Borradores" },
	{ FOLDER_DRAFTS, "Bozze" }, { FOLDER_DRAFTS, "Concepten" },
	{ FOLDER_ARCHIVE, "Archive" }, { FOLDER_ARCHIVE, "Archives" },
	{ FOLDER_ARCHIVE, "Archiv" }, { FOLDER_ARCHIVE, "Archivio" },
	{ FOLDER_ARCHIVE, "Archivo" }, { FOLDER_ARCHIVE, "[Gmail]/All Mail" },
	{ FOLDER_ARCHIVE, "All Mail" },
	{ FOLDER_TRASH, "Trash" }, { FOLDER_TRASH, "Deleted Items" },
	{ FOLDER_TRASH, "Deleted Messages" }, { FOLDER_TRASH, "Deleted" },
	{ FOLDER_TRASH, "Bin" }, { FOLDER_TRASH, "[Gmail]/Trash" },
	{ FOLDER_TRASH, "[Gmail]/Bin" }, { FOLDER_TRASH, "Papierkorb" },
	{ FOLDER_TRASH, "Gelöschte Elemente" }, { FOLDER_TRASH, "Corbeille" },
	{ FOLDER_TRASH, "Papelera" }, { FOLDER_TRASH, "Cestino" },
	{ FOLDER_TRASH, "Prullenbak" },
	{ FOLDER_JUNK, "Junk" }, { FOLDER_JUNK, "Spam" }, { FOLDER_JUNK, "Junk E-mail" },
	{ FOLDER_JUNK, "Junk Email" }, { FOLDER_JUNK, "Bulk Mail" },
	{ FOLDER_JUNK, "[Gmail]/Spam" }, { FOLDER_JUNK, "Spamverdacht" },
	{ FOLDER_JUNK, "Junk-E-Mail" }, { FOLDER_JUNK, "Courrier indésirable" },
	{ FOLDER_JUNK, "Indésirables" },
};

static enum provider_folder_role
imap_role_by_name(const struct provider_folder *f)
{
	const char *name = f->name;

	/* Courier and old Cyrus put every folder under INBOX: "INBOX.Sent". */
	if (f->delimiter != 0 && strncasecmp(name, "INBOX", 5) == 0 &&
	    name[5] == f->delimiter && name[6] != '\0')
		name += 6;
	for (size_t i = 0; i < MR_ARRAY_LEN(imap_role_names); i++) {
		if (strcasecmp(name, imap_role_names[i].name) == 0)
			return imap_role_names[i].role;
	}
	return FOLDER_OTHER;
}

/* Gives each role to one folder: INBOX; then the special-use attributes (\Archive before
 * \All); then, for a role still without a folder, a well-known name. */
static void
imap_assign_roles(struct imap_list_ctx *x)
{
	static const struct {
		unsigned attr;
		enum provider_folder_role role;
	} by_attr[] = {
		{ IMAP_LIST_SENT, FOLDER_SENT }, { IMAP_LIST_DRAFTS, FOLDER_DRAFTS },
		{ IMAP_LIST_ARCHIVE, FOLDER_ARCHIVE }, { IMAP_LIST_ALL, FOLDER_ARCHIVE },
		{ IMAP_LIST_TRASH, FOLDER_TRASH }, { IMAP_LIST_JUNK, FOLDER_JUNK },
	};
	int taken[FOLDER_OTHER + 1] = { 0 };

	for (size_t i = 0; i < x->n; i++) {
		if (strcasecmp(x->v[i].name, "INBOX") == 0 && !taken[FOLDER_INBOX]) {
			x->v[i].role = FOLDER_INBOX;
			taken[FOLDER_INBOX] = 1;
		}
	}
	for (size_t k = 0; k < MR_ARRAY_LEN(by_attr); k++) {
		for (size_t i = 0; i < x->n; i++) {
			if ((x->attrs[i] & by_attr[k].attr) && x->v[i].role == FOLDER_OTHER &&
			    x->v[i].selectable && !taken[by_attr[k].role]) {
				x->v[i].role = by_attr[k].role;
				taken[by_attr[k].role] = 1;
			}
		}
	}
	for (size_t i = 0; i < x->n; i++) {
		enum provider_folder_role role;

		if (x->v[i].role != FOLDER_OTHER || !x->v[i].selectable)
			continue;
		role = imap_role_by_name(&x->v[i]);
		if (role != FOLDER_OTHER && !taken[role]) {
			x->v[i].role = role;
			taken[role] = 1;
		}
	}
}

static enum provider_status
imap_list_folders(struct provider *p, struct provider_folder **out, size_t *n)
{
	struct imap *ip = p->impl;
	struct imap_list_ctx x = { NULL, NULL, 0, 0 };
	enum provider_status st;

	*out = NULL;
	*n = 0;
	if ((st = imap_ready(ip)) != PROVIDER_OK)
		return st;
	st = imap_run(ip, "LIST", imap_list_fn, &x, "LIST \"\" \"*\"%s",
	    (ip->caps & IMAP_CAP_SPECIAL_USE) ? " RETURN (SPECIAL-USE)" : "");
	if (st != PROVIDER_OK) {
		imap_list_free(&x);
		return st;
	}
	imap_assign_roles(&x);
	free(x.attrs);
	*out = x.v;
	*n = x.n;
	return PROVIDER_OK;
}

struct imap_select_ctx {
	int has_uidvalidity, has_uidnext;
	uint32_t max_uid;
};

static enum provider_status
imap_select_fn(struct imap *ip, const struct imap_resp *r, void *arg)
{
	struct imap_select_ctx *x = arg;
	const char *c = r->code.s;
	size_t n = r->code.len;

	if (r->cond == IMAP_COND_OK && c != NULL) {
		if (imap_str_is(c, n, "UIDVALIDITY")) {
			if (imap_parse_u32(r->code_args.s, r->code_args.len, &ip->uidvalidity) == -1)
				return imap_err(ip, PROVIDER_PROTOCOL,
				    "%s sent an invalid UIDVALIDITY", ip->s.host);
			x->has_uidvalidity = 1;
		} else if (imap_str_is(c, n, "UIDNEXT")) {
			x->has_uidnext =
			    imap_parse_u32(r->code_args.s, r->code_args.len, &ip->uidnext) == 0;
		} else if (imap_str_is(c, n, "HIGHESTMODSEQ")) {
			if (imap_parse_u64(r->code_args.s, r->code_args.len, &ip->modseq) == -1)
				ip->modseq = 0;
		} else if (imap_str_is(c, n, "NOMODSEQ")) {
			ip->nomodseq = 1;
		} else if (imap_str_is(c, n, "PERMANENTFLAGS")) {
			/* Without \* new keywords last only for the session (RFC 3501 7.1). */
			ip->keywords = 0;
			for (size_t i = 0; i + 1 < r->code_args.len; i++) {
				if (r->code_args.s[i] == '\\' && r->code_args.s[i + 1] == '*')
					ip->keywords = 1;
			}
		}
	} else if (imap_str_is(r->name.s, r->name.len, "FETCH")) {
		struct imap_fetch f;

		if (imap_fetch_parse(r, &f) == 0 && f.uid > x->max_uid)
			x->max_uid = f.uid;
	}
	return PROVIDER_OK;
}

static enum provider_status
imap_open_folder(struct provider *p, const char *folder, struct provider_cursor *now)
{
	struct imap *ip = p->impl;
	struct imap_select_ctx x = { 0, 0, 0 };
	enum provider_status st;
	char *q;

	memset(now, 0, sizeof(*now));
	if ((st = imap_ready(ip)) != PROVIDER_OK)
		return st;
	if ((q = imap_quote_mailbox(folder)) == NULL)
		return imap_err(ip, PROVIDER_REFUSED, "the folder name is not valid");
	/* A SELECT, even one that fails, leaves the previous folder. */
	free(ip->folder);
	ip->folder = NULL;
	ip->uidvalidity = ip->uidnext = ip->exists = 0;
	ip->modseq = 0;
	ip->nomodseq = ip->missed_expunge = 0;
	ip->keywords = 1;	/* no PERMANENTFLAGS: every flag is permanent */
	st = imap_run(ip, "SELECT", imap_select_fn, &x, "SELECT %s%s", q,
	    (ip->caps & IMAP_CAP_CONDSTORE) ? " (CONDSTORE)" : "");
	if (st == PROVIDER_REFUSED && ip->resp.code.len == 0) {
		/* Dovecot and others say "NO Mailbox doesn't exist" without [NONEXISTENT]:
		 * LIST tells a folder that is gone from one that cannot be selected. */
		struct imap_list_ctx l = { NULL, NULL, 0, 0 };
		char keep[sizeof(p->error)];

		memcpy(keep, p->error, sizeof(keep));
		if (imap_run(ip, "LIST", imap_list_fn, &l, "LIST \"\" %s", q) == PROVIDER_OK &&
		    l.n == 0)
			st = PROVIDER_GONE;
		imap_list_free(&l);
		memcpy(p->error, keep, sizeof(keep));
	}
	free(q);
	if (st != PROVIDER_OK)
		return st;
	if (!x.has_uidvalidity)
		return imap_err(ip, PROVIDER_PROTOCOL, "%s gave no UIDVALIDITY for %s",
		    ip->s.host, folder);
	if (!x.has_uidnext) {
		/* UID FETCH * gives the highest UID, which UIDNEXT is above. */
		if (ip->exists > 0) {
			st = imap_run(ip, "UID FETCH", imap_select_fn, &x, "UID FETCH * (UID)");
			if (st != PROVIDER_OK)
				return st;
		}
		ip->uidnext = x.max_uid + 1;
	}
	if (!(ip->caps & IMAP_CAP_CONDSTORE) || ip->nomodseq)
		ip->modseq = 0;
	ip->folder = xstrdup(folder);
	now->uidvalidity = ip->uidvalidity;
	now->uidnext = ip->uidnext;
	now->modseq = ip->modseq;
	now->token = NULL;
	now->keywords = ip->keywords;
	return PROVIDER_OK;
}

static enum provider_status
imap_need_folder(struct imap *ip)
{
	enum provider_status st;

	if ((st = imap_ready(ip)) != PROVIDER_OK)
		return st;
	if (ip->folder == NULL)
		return imap_err(ip, PROVIDER_PROTOCOL, "no folder is open");
	return PROVIDER_OK;
}

/* ---- listing UIDs */

struct imap_uids {
	uint32_t *v;
	size_t n, cap;
	uint32_t lo, hi;
};

static int
imap_uids_push(void *arg, uint32_t uid)
{
	struct imap_uids *u = arg;

	if (uid < u->lo || uid > u->hi)
		return 0;
	if (u->n == u->cap) {
		u->cap = u->cap ? u->cap * 2 : 256;
		u->v = xreallocarray(u->v, u->cap, sizeof(*u->v));
	}
	u->v[u->n++] = uid;
	return 0;
}

static enum provider_status
imap_search_fn(struct imap *ip, const struct imap_resp *r, void *arg)
{
	struct imap_uids *u = arg;

	if (imap_str_is(r->name.s, r->name.len, "SEARCH")) {
		size_t pos = 0;
		uint32_t uid;
		int rc;

		while ((rc = imap_search_next(r, &pos, &uid)) == 1) {
			if (u->n >= IMAP_EXPAND_MAX)
				return imap_err(ip, PROVIDER_PROTOCOL,
				    "%s listed too many messages", ip->s.host);
			imap_uids_push(u, uid);
		}
		if (rc == -1)
			return imap_err(ip, PROVIDER_PROTOCOL, "%s sent an invalid SEARCH answer",
			    ip->s.host);
	} else if (imap_str_is(r->name.s, r->name.len, "ESEARCH")) {
		struct imap_str set;

		if (imap_esearch_all(r, &set) == -1 || (set.s != NULL &&
		    imap_uidset_each(set.s, set.len, u->lo, u->hi, IMAP_EXPAND_MAX - u->n,
		    imap_uids_push, u) == -1))
			return imap_err(ip, PROVIDER_PROTOCOL,
			    "%s sent an invalid ESEARCH answer", ip->s.host);
	}
	return PROVIDER_OK;
}

/* The UIDs of the open folder in [lo, hi], ascending. */
static enum provider_status
imap_list_uids(struct imap *ip, uint32_t lo, uint32_t hi, struct imap_uids *u)
{
	enum provider_status st;

	memset(u, 0, sizeof(*u));
	u->lo = lo;
	u->hi = hi;
	ip->rd.line_max = IMAP_SEARCH_LINE_MAX;
	if (ip->caps & IMAP_CAP_ESEARCH)
		st = imap_run(ip, "UID SEARCH", imap_search_fn, u,
		    "UID SEARCH RETURN (ALL) UID %u:%u", lo, hi);
	else
		st = imap_run(ip, "UID SEARCH", imap_search_fn, u, "UID SEARCH UID %u:%u", lo,
		    hi);
	ip->rd.line_max = IMAP_LINE_MAX;
	if (st != PROVIDER_OK) {
		free(u->v);
		u->v = NULL;
		u->n = 0;
		return st;
	}
	u->n = imap_uids_sort(u->v, u->n);
	return PROVIDER_OK;
}

/* ---- fetching messages */

struct imap_slot {
	struct provider_message m;
	int got_body;
	int big;
};

struct imap_batch {
	struct imap_slot *slots;	/* by UID, descending */
	size_t n;
	int dropping;			/* a batch nobody wants any more */
};

static char **
imap_flags_dup(const struct imap_resp *r, int list)
{
	const struct imap_node *l = imap_node(r, list), *f;
	size_t n = 0, i = 0;
	char **v;

	for (f = imap_node(r, l != NULL ? l->child : -1); f != NULL; f = imap_node(r, f->next))
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	/* \Recent is not a flag of the message but of this session (gone in IMAP4rev2). */
	for (f = imap_node(r, l != NULL ? l->child : -1); f != NULL; f = imap_node(r, f->next)) {
		if (!imap_node_is(f, "\\Recent"))
			v[i++] = xstrndup(f->s, f->len);
	}
	return v;
}

static void
imap_flags_free(char **v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static struct imap_slot *
imap_batch_find(struct imap_batch *b, uint32_t uid)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (b->slots[mid].m.uid == uid)
			return &b->slots[mid];
		if (b->slots[mid].m.uid > uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static enum provider_status
imap_fetch_fn(struct imap *ip, const struct imap_resp *r, void *arg)
{
	struct imap_batch *b = arg;
	struct imap_fetch f;
	struct imap_slot *s;

	if (!imap_str_is(r->name.s, r->name.len, "FETCH") || b->dropping)
		return PROVIDER_OK;
	if (imap_fetch_parse(r, &f) == -1)
		return imap_err(ip, PROVIDER_PROTOCOL, "%s sent a FETCH response we cannot read",
		    ip->s.host);
	/* Flag updates of other messages may come along: not ours. */
	if ((s = imap_batch_find(b, f.uid)) == NULL)
		return PROVIDER_OK;
	if (f.has_flags) {
		imap_flags_free(s->m.flags);
		s->m.flags = imap_flags_dup(r, f.flags);
	}
	if (f.has_date)
		s->m.internal_date = f.internal_date;
	if (f.modseq != 0)
		s->m.modseq = f.modseq;
	if (f.body_big) {
		s->big = 1;
	} else if (f.body.s != NULL && !s->got_body) {
		s->m.raw = xmalloc(f.body.len + 1);
		memcpy(s->m.raw, f.body.s, f.body.len);
		s->m.raw[f.body.len] = '\0';
		s->m.raw_len = f.body.len;
		s->got_body = 1;
	} else if (f.header.s != NULL && s->big && !s->got_body) {
		s->m.raw = xstrndup(f.header.s, f.header.len);
		s->m.raw_len = strlen(s->m.raw);
		s->got_body = 1;
	}
	return PROVIDER_OK;
}

static void
imap_batch_free(struct imap_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->slots[i].m.raw);
		imap_flags_free(b->slots[i].m.flags);
	}
	free(b->slots);
	b->slots = NULL;
	b->n = 0;
}

/* The UID set of the batch (its UIDs are descending). */
static void
imap_batch_set(const struct imap_batch *b, char *out, size_t outlen)
{
	uint32_t *asc = xcalloc(b->n, sizeof(*asc));

	for (size_t i = 0; i < b->n; i++)
		asc[i] = b->slots[b->n - 1 - i].m.uid;
	imap_uidset_format(asc, b->n, out, outlen);
	free(asc);
}

static enum provider_status
imap_fetch_send(struct imap *ip, const struct imap_batch *b, char *tag)
{
	char set[IMAP_BATCH_MAX * 12];

	imap_batch_set(b, set, sizeof(set));
	return imap_command(ip, tag, "UID FETCH %s (UID FLAGS INTERNALDATE RFC822.SIZE "
	    "BODY.PEEK[]%s)", set, (ip->caps & IMAP_CAP_CONDSTORE) ? " MODSEQ" : "");
}

/* Messages over IMAP_LITERAL_MAX: their header section instead (see imap.h). */
static enum provider_status
imap_fetch_big(struct imap *ip, struct imap_batch *b)
{
	enum provider_status st;

	for (size_t i = 0; i < b->n; i++) {
		if (!b->slots[i].big || b->slots[i].got_body)
			continue;
		log_warn("%s: message UID %u is larger than %zu bytes: only its header is kept",
		    ip->s.host, b->slots[i].m.uid, IMAP_LITERAL_MAX);
		st = imap_run(ip, "UID FETCH", imap_fetch_fn, b, "UID FETCH %u (UID "
		    "BODY.PEEK[HEADER])", b->slots[i].m.uid);
		if (st != PROVIDER_OK)
			return st;
	}
	return PROVIDER_OK;
}

static void
imap_batch_fill(struct imap_batch *b, const uint32_t *desc, size_t n)
{
	b->slots = xcalloc(n, sizeof(*b->slots));
	b->n = n;
	b->dropping = 0;
	for (size_t i = 0; i < n; i++)
		b->slots[i].m.uid = desc[i];
}

static enum provider_status
imap_fetch(struct provider *p, uint32_t from_uid, uint32_t to_uid, size_t max,
    int (*each)(void *arg, const struct provider_message *m), void *arg)
{
	struct imap *ip = p->impl;
	struct imap_batch cur = { NULL, 0, 0 }, next = { NULL, 0, 0 };
	struct imap_uids u;
	enum provider_status st;
	uint32_t *desc;
	size_t total, batch, done = 0;
	char tag[16], next_tag[16];
	int stopped = 0;

	if ((st = imap_need_folder(ip)) != PROVIDER_OK)
		return st;
	if (from_uid == 0)
		from_uid = 1;
	if (from_uid > to_uid)
		return PROVIDER_OK;
	if ((st = imap_list_uids(ip, from_uid, to_uid, &u)) != PROVIDER_OK)
		return st;
	total = max != 0 && u.n > max ? max : u.n;
	desc = xcalloc(total + 1, sizeof(*desc));
	for (size_t i = 0; i < total; i++)
		desc[i] = u.v[u.n - 1 - i];
	free(u.v);
	batch = ip->s.batch > 0 ? (size_t)ip->s.batch : IMAP_DEFAULT_BATCH;
	if (batch > IMAP_BATCH_MAX)
		batch = IMAP_BATCH_MAX;
	if (total == 0) {
		free(desc);
		return PROVIDER_OK;
	}

	/* One batch is on the wire while the caller stores the one before. */
	imap_batch_fill(&cur, desc, total < batch ? total : batch);
	done = cur.n;
	if ((st = imap_fetch_send(ip, &cur, tag)) != PROVIDER_OK)
		goto out;
	for (;;) {
		if ((st = imap_wait(ip, tag, "UID FETCH", imap_fetch_fn, &cur, 0)) != PROVIDER_OK)
			goto out;
		if ((st = imap_fetch_big(ip, &cur)) != PROVIDER_OK)
			goto out;
		if (done < total) {
			size_t k = total - done < batch ? total - done : batch;

			imap_batch_fill(&next, desc + done, k);
			done += k;
			if ((st = imap_fetch_send(ip, &next, next_tag)) != PROVIDER_OK)
				goto out;
		}
		for (size_t i = 0; i < cur.n && !stopped; i++) {
			if (!cur.slots[i].got_body)
				continue;	/* expunged since the SEARCH */
			if (cur.slots[i].m.flags == NULL)
				cur.slots[i].m.flags = xcalloc(1, sizeof(char *));
			if (each(arg, &cur.slots[i].m) != 0)
				stopped = 1;
		}
		imap_batch_free(&cur);
		if (next.slots == NULL)
			break;
		cur = next;
		next = (struct imap_batch){ NULL, 0, 0 };
		memcpy(tag, next_tag, sizeof(tag));
		if (stopped) {
			/* The batch already asked for is read and dropped. */
			cur.dropping = 1;
			st = imap_wait(ip, tag, "UID FETCH", imap_fetch_fn, &cur, 0);
			goto out;
		}
	}
out:
	imap_batch_free(&cur);
	imap_batch_free(&next);
	free(desc);
	return st;
}

/* ---- changes */

struct imap_changes_ctx {
	uint32_t n;			/* the highest UID asked about */
	int (*each)(void *arg, const struct provider_change *c);
	void *arg;
	int stopped;
	enum provider_change_kind kind;	/* for imap_changes_uid */
};

static int
imap_changes_uid(void *arg, uint32_t uid)
{
	struct imap_changes_ctx *x = arg;
	struct provider_change c = { uid, x->kind, NULL, 0 };

	if (x->stopped)
		return 1;
	if (x->each(x->arg, &c) != 0)
		x->stopped = 1;
	return x->stopped;
}

static enum provider_status
imap_changes_fn(struct imap *ip, const struct imap_resp *r, void *arg)
{
	struct imap_changes_ctx *x = arg;

	if (x->stopped)
		return PROVIDER_OK;
	if (imap_str_is(r->name.s, r->name.len, "FETCH")) {
		struct imap_fetch f;
		struct provider_change c;

		if (imap_fetch_parse(r, &f) == -1)
			return imap_err(ip, PROVIDER_PROTOCOL,
			    "%s sent a FETCH response we cannot read", ip->s.host);
		if (f.uid == 0 || f.uid > x->n || !f.has_flags)
			return PROVIDER_OK;
		c = (struct provider_change){ f.uid, CHANGE_FLAGS, imap_flags_dup(r, f.flags),
		    f.modseq };
		if (x->each(x->arg, &c) != 0)
			x->stopped = 1;
		imap_flags_free(c.flags);
	} else if (imap_str_is(r->name.s, r->name.len, "VANISHED")) {
		struct imap_str set;
		int earlier;

		/* VANISHED (EARLIER) answers the command; a plain VANISHED reports an
		 * expunge of now: both are gone from the folder. */
		if (imap_vanished(r, &set, &earlier) == -1)
			return imap_err(ip, PROVIDER_PROTOCOL, "%s sent an invalid VANISHED",
			    ip->s.host);
		x->kind = CHANGE_EXPUNGED;
		if (imap_uidset_each(set.s, set.len, 1, x->n, IMAP_EXPAND_MAX,
		    imap_changes_uid, x) == -1)
			return imap_err(ip, PROVIDER_PROTOCOL, "%s sent an invalid VANISHED",
			    ip->s.host);
	}
	return PROVIDER_OK;
}

static enum provider_status
imap_changes(struct provider *p, const struct provider_cursor *since,
    int (*each)(void *arg, const struct provider_change *c), void *arg, int *complete)
{
	struct imap *ip = p->impl;
	struct imap_changes_ctx x = { 0, each, arg, 0, CHANGE_FLAGS };
	enum provider_status st;

	*complete = 1;
	if ((st = imap_need_folder(ip)) != PROVIDER_OK)
		return st;
	if (since->uidvalidity != ip->uidvalidity)
		return imap_err(ip, PROVIDER_RESYNC,
		    "the UIDVALIDITY of %s changed (%u, was %u): the folder must be synced again",
		    ip->folder, ip->uidvalidity, since->uidvalidity);
	if (since->uidnext <= 1)
		return PROVIDER_OK;
	x.n = since->uidnext - 1;
	if ((ip->caps & IMAP_CAP_CONDSTORE) && !ip->nomodseq && since->modseq != 0) {
		if ((ip->caps & IMAP_CAP_QRESYNC) && ip->missed_expunge) {
			/* An expunge reported earlier to this session would be missing from
			 * VANISHED (EARLIER): select again, the server then reports it. */
			struct provider_cursor now;
			char *folder = xstrdup(ip->folder);

			st = imap_open_folder(p, folder, &now);
			free(folder);
			if (st != PROVIDER_OK)
				return st;
			if (now.uidvalidity != since->uidvalidity)
				return imap_err(ip, PROVIDER_RESYNC,
				    "the UIDVALIDITY of %s changed: the folder must be synced again",
				    ip->folder);
		}
		if (ip->caps & IMAP_CAP_QRESYNC) {
			*complete = 0;
			st = imap_run(ip, "UID FETCH", imap_changes_fn, &x,
			    "UID FETCH 1:%u (FLAGS) (CHANGEDSINCE %llu VANISHED)", x.n,
			    (unsigned long long)since->modseq);
			if (st == PROVIDER_OK)
				ip->missed_expunge = 0;
			return st;
		}
		st = imap_run(ip, "UID FETCH", imap_changes_fn, &x,
		    "UID FETCH 1:%u (FLAGS) (CHANGEDSINCE %llu)", x.n,
		    (unsigned long long)since->modseq);
		if (st != PROVIDER_OK || x.stopped)
			return st;
		{
			struct imap_uids u;

			if ((st = imap_list_uids(ip, 1, x.n, &u)) != PROVIDER_OK)
				return st;
			x.kind = CHANGE_PRESENT;
			for (size_t i = 0; i < u.n && !x.stopped; i++)
				imap_changes_uid(&x, u.v[i]);
			free(u.v);
		}
		return PROVIDER_OK;
	}
	return imap_run(ip, "UID FETCH", imap_changes_fn, &x, "UID FETCH 1:%u (FLAGS)", x.n);
}

/* ---- changing the mailbox */

/* "(\Seen $label)" for flags, or NULL with an error when one is not a valid flag. */
static char *
imap_flag_list(struct imap *ip, const char *const *flags)
{
	size_t len = 3;
	char *out;

	for (size_t i = 0; flags != NULL && flags[i] != NULL; i++) {
		if (!imap_flag_valid(flags[i])) {
			char shown[64];

			imap_clean(shown, sizeof(shown), flags[i], strlen(flags[i]));
			imap_err(ip, PROVIDER_REFUSED, "\"%s\" is not a valid IMAP flag", shown);
			return NULL;
		}
		len += strlen(flags[i]) + 1;
	}
	out = xmalloc(len);
	strcpy(out, "(");
	for (size_t i = 0; flags != NULL && flags[i] != NULL; i++) {
		if (i > 0)
			strcat(out, " ");
		strcat(out, flags[i]);
	}
	strcat(out, ")");
	return out;
}

static enum provider_status
imap_append(struct provider *p, const char *folder, const char *raw, size_t len,
    const char *const *flags, uint32_t *new_uid)
{
	struct imap *ip = p->impl;
	enum provider_status st;
	char tag[16], *q, *fl;
	int plus;

	if (new_uid != NULL)
		*new_uid = 0;
	if ((st = imap_ready(ip)) != PROVIDER_OK)
		return st;
	if (len == 0 || len > UINT32_MAX)
		return imap_err(ip, PROVIDER_REFUSED, "the message is empty or too large");
	if (memchr(raw, '\0', len) != NULL)
		return imap_err(ip, PROVIDER_REFUSED, "the message contains a NUL byte");
	if ((fl = imap_flag_list(ip, flags)) == NULL)
		return PROVIDER_REFUSED;
	if ((q = imap_quote_mailbox(folder)) == NULL) {
		free(fl);
		return imap_err(ip, PROVIDER_REFUSED, "the folder name is not valid");
	}
	plus = (ip->caps & IMAP_CAP_LITERAL_PLUS) != 0;
	st = imap_command(ip, tag, "APPEND %s %s {%zu%s}", q, fl, len, plus ? "+" : "");
	free(q);
	free(fl);
	if (st != PROVIDER_OK)
		return st;
	if (!plus) {
		/* The server says "+" when it takes the literal, or refuses at once. */
		if ((st = imap_wait(ip, tag, "APPEND", NULL, NULL, 1)) != PROVIDER_OK)
			return st;
	}
	if ((st = imap_send(ip, raw, len)) != PROVIDER_OK ||
	    (st = imap_send(ip, "\r\n", 2)) != PROVIDER_OK)
		return st;
	if ((st = imap_wait(ip, tag, "APPEND", NULL, NULL, 0)) != PROVIDER_OK)
		return st;
	if (new_uid != NULL && imap_str_is(ip->resp.code.s, ip->resp.code.len, "APPENDUID")) {
		const char *a = ip->resp.code_args.s, *sp;
		size_t n = ip->resp.code_args.len;
		uint32_t uid;

		if ((sp = memchr(a, ' ', n)) != NULL &&
		    imap_parse_u32(sp + 1, n - (size_t)(sp + 1 - a), &uid) == 0)
			*new_uid = uid;
	}
	return PROVIDER_OK;
}

/* Runs "UID <verb> <set> <tail>" over uids in as many commands as the set needs. */
static enum provider_status
imap_uid_cmd(struct imap *ip, const uint32_t *uids, size_t n, const char *verb,
    const char *tail)
{
	enum provider_status st = PROVIDER_OK;
	uint32_t *v = xcalloc(n + 1, sizeof(*v));
	char set[IMAP_SET_MAX + 32];
	size_t done = 0;

	memcpy(v, uids, n * sizeof(*v));
	n = imap_uids_sort(v, n);
	while (done < n) {
		size_t k = imap_uidset_format(v + done, n - done, set, sizeof(set));

		st = imap_run(ip, verb, NULL, NULL, "UID %s %s %s", verb, set, tail);
		if (st != PROVIDER_OK)
			break;
		done += k;
	}
	free(v);
	return st;
}

static enum provider_status
imap_set_flags(struct provider *p, const uint32_t *uids, size_t n, const char *const *flags,
    int add)
{
	struct imap *ip = p->impl;
	enum provider_status st;
	char *fl, *tail;

	if ((st = imap_need_folder(ip)) != PROVIDER_OK)
		return st;
	if ((fl = imap_flag_list(ip, flags)) == NULL)
		return PROVIDER_REFUSED;
	if (n == 0 || flags == NULL || flags[0] == NULL) {
		free(fl);
		return PROVIDER_OK;
	}
	tail = xasprintf("%sFLAGS.SILENT %s", add ? "+" : "-", fl);
	st = imap_uid_cmd(ip, uids, n, "STORE", tail);
	free(tail);
	free(fl);
	return st;
}

/* The open folder, and to_folder quoted into *q (free it) for COPY and MOVE. */
static enum provider_status
imap_transfer_begin(struct imap *ip, const char *to_folder, char **q)
{
	enum provider_status st;

	*q = NULL;
	if ((st = imap_need_folder(ip)) != PROVIDER_OK)
		return st;
	if ((*q = imap_quote_mailbox(to_folder)) == NULL)
		return imap_err(ip, PROVIDER_REFUSED, "the folder name is not valid");
	return PROVIDER_OK;
}

static enum provider_status
imap_move(struct provider *p, const uint32_t *uids, size_t n, const char *to_folder)
{
	struct imap *ip = p->impl;
	enum provider_status st;
	char *q;

	if ((st = imap_transfer_begin(ip, to_folder, &q)) != PROVIDER_OK)
		return st;
	if (n == 0) {
		free(q);
		return PROVIDER_OK;
	}
	if (ip->caps & IMAP_CAP_MOVE) {
		st = imap_uid_cmd(ip, uids, n, "MOVE", q);
	} else {
		/* RFC 6851's fallback; without UIDPLUS only the \Deleted flag can be set,
		 * since EXPUNGE would take other messages marked \Deleted too. */
		st = imap_uid_cmd(ip, uids, n, "COPY", q);
		if (st == PROVIDER_OK)
			st = imap_uid_cmd(ip, uids, n, "STORE", "+FLAGS.SILENT (\\Deleted)");
		if (st == PROVIDER_OK && (ip->caps & IMAP_CAP_UIDPLUS))
			st = imap_uid_cmd(ip, uids, n, "EXPUNGE", "");
	}
	free(q);
	return st;
}

static enum provider_status
imap_copy(struct provider *p, const uint32_t *uids, size_t n, const char *to_folder)
{
	struct imap *ip = p->impl;
	enum provider_status st;
	char *q;

	if ((st = imap_transfer_begin(ip, to_folder, &q)) != PROVIDER_OK)
		return st;
	if (n > 0)
		st = imap_uid_cmd(ip, uids, n, "COPY", q);
	free(q);
	return st;
}

static enum provider_status
imap_create_folder(struct provider *p, const char *folder)
{
	struct imap *ip = p->impl;
	enum provider_status st;
	char *q;

	if ((st = imap_ready(ip)) != PROVIDER_OK)
		return st;
	if ((q = imap_quote_mailbox(folder)) == NULL)
		return imap_err(ip, PROVIDER_REFUSED, "the folder name is not valid");
	st = imap_run(ip, "CREATE", NULL, NULL, "CREATE %s", q);
	free(q);
	if (st == PROVIDER_REFUSED &&
	    imap_str_is(ip->resp.code.s, ip->resp.code.len, "ALREADYEXISTS"))
		st = PROVIDER_OK;	/* RFC 5530 */
	return st;
}

static void
imap_close(struct provider *p)
{
	struct imap *ip = p->impl;

	if (ip == NULL)
		return;
	if (ip->connected && !ip->broken) {
		char buf[sizeof(p->error)];

		/* Best effort: an error here changes nothing, but keep the last one. */
		memcpy(buf, p->error, sizeof(buf));
		ip->s.timeout = ip->s.timeout > 0 && ip->s.timeout < IMAP_LOGOUT_TIMEOUT ?
		    ip->s.timeout : IMAP_LOGOUT_TIMEOUT;
		imap_run(ip, "LOGOUT", NULL, NULL, "LOGOUT");
		snprintf(p->error, sizeof(p->error), "%s", buf);
	}
	imap_disconnect(ip);
	imap_reader_free(&ip->rd);
	imap_resp_free(&ip->resp);
	free(ip);
	p->impl = NULL;
}

static const struct provider_ops imap_ops = {
	.name = "imap",
	.connect = imap_connect,
	.list_folders = imap_list_folders,
	.open_folder = imap_open_folder,
	.fetch = imap_fetch,
	.changes = imap_changes,
	.append = imap_append,
	.set_flags = imap_set_flags,
	.move = imap_move,
	.copy = imap_copy,
	.create_folder = imap_create_folder,
	.close = imap_close,
};

static void
imap_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal("curl_global_init failed");
}

int
imap_provider_init(struct provider *p, const struct imap_settings *s)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct imap *ip;

	pthread_once(&once, imap_global_init);
	memset(p, 0, sizeof(*p));
	ip = xcalloc(1, sizeof(*ip));
	ip->p = p;
	ip->s = *s;
	ip->sock = CURL_SOCKET_BAD;
	imap_reader_init(&ip->rd);
	p->ops = &imap_ops;
	p->impl = ip;
	return 0;
}

/* ---- settings and the connection test */

int
imap_settings_parse(struct imap_settings *s, const char *host, const char *port,
    const char *security, const char *username, const char *auth, char *err, size_t errlen)
{
	static const char *const secs[] = { "tls", "starttls", "none" };
	static const char *const auths[] = { "auto", "login", "plain", "xoauth2" };
	int64_t pv = 0;
	int sec = -1, au = -1;

	if (host == NULL || !imap_host_valid(host)) {
		snprintf(err, errlen, "server: enter a host name or an IP address");
		return -1;
	}
	if (port != NULL && port[0] != '\0' && util_parse_int64(port, 1, 65535, &pv) == -1) {
		snprintf(err, errlen, "port: enter a number from 1 to 65535, or nothing");
		return -1;
	}
	for (size_t i = 0; security != NULL && i < MR_ARRAY_LEN(secs); i++) {
		if (strcmp(security, secs[i]) == 0)
			sec = (int)i;
	}
	if (sec == -1) {
		snprintf(err, errlen, "security: choose tls, starttls or none");
		return -1;
	}
	if (username == NULL || username[0] == '\0' || strlen(username) > 320 ||
	    util_text_chars(username) < 0) {
		snprintf(err, errlen, "username: enter the account's user name, on one line");
		return -1;
	}
	for (size_t i = 0; auth != NULL && i < MR_ARRAY_LEN(auths); i++) {
		if (strcmp(auth, auths[i]) == 0)
			au = (int)i;
	}
	if (auth == NULL || auth[0] == '\0')
		au = IMAP_AUTH_AUTO;
	if (au == -1) {
		snprintf(err, errlen, "authentication: choose auto, login, plain or xoauth2");
		return -1;
	}
	s->host = host;
	s->port = (int)pv;
	s->security = (enum imap_security)sec;
	s->username = username;
	s->auth = (enum imap_auth)au;
	return 0;
}

enum provider_status
imap_test_connection(const struct imap_settings *s, size_t *nfolders, char *err,
    size_t errlen)
{
	struct provider p;
	struct provider_folder *f = NULL;
	enum provider_status st;
	size_t n = 0;

	imap_provider_init(&p, s);
	st = p.ops->connect(&p);
	if (st == PROVIDER_OK)
		st = p.ops->list_folders(&p, &f, &n);
	for (size_t i = 0; i < n; i++)
		free(f[i].name);
	free(f);
	if (nfolders != NULL)
		*nfolders = st == PROVIDER_OK ? n : 0;
	snprintf(err, errlen, "%s", st == PROVIDER_OK ? "" : p.error[0] != '\0' ? p.error :
	    "the connection failed");
	p.ops->close(&p);
	return st;
}
