/* smtp-sink.c: a local SMTP server for development and tests. It accepts every message,
 * unless told to simulate a provider's failures, and writes each one Maildir-like (into
 * DIR/tmp, then renamed into DIR/new/<time>.<pid>.<n>.eml) after a first header line naming
 * the envelope's recipients. No TLS and no relaying; one process, a poll loop. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define SINK_IN_MAX 16384          /* a connection's input buffer */
#define SINK_CMD_MAX 2048          /* a command line (AUTH PLAIN lines are long) */
#define SINK_OUT_MAX 65536         /* replies a client has not read: beyond, it is dropped */
#define SINK_CONNS_MAX 64
#define SINK_RCPTS_MAX 100
#define SINK_PATH_MAX 256
#define SINK_ERRORS_MAX 10         /* bad commands before 421 */
#define SINK_IDLE_SECONDS 300
#define SINK_RULES_MAX 16

struct sink_rule {
	char addr[SINK_PATH_MAX + 1];  /* --fail-rcpt's address; empty for --fail-data */
	int code;
	long left;                     /* failures still to give; -1: always */
};

enum sink_state { SINK_CMD, SINK_DATA, SINK_AUTH };

struct sink_conn {
	int fd;
	enum sink_state state;
	char in[SINK_IN_MAX];
	size_t inlen;
	int skipping;                  /* discarding the rest of a line that was too long */
	int helo, authed, in_mail, errors, closing;
	time_t last;
	char from[SINK_PATH_MAX + 1];
	char (*rcpts)[SINK_PATH_MAX + 1];
	size_t nrcpt;
	char *msg;                     /* the message received so far, dot-unstuffed */
	size_t msglen, msgcap;
	int too_big;
	int data_mid;                  /* in DATA, the last chunk ended inside a line */
	char *out;
	size_t outlen;
};

static struct {
	const char *dir;
	const char *auth_user, *auth_pass;
	size_t max_size;
	long fail_first;
	struct sink_rule rcpt_rules[SINK_RULES_MAX];
	int nrcpt_rules;
	struct sink_rule data_rule;
	int verbose;
	unsigned long counter;
} sink = { .max_size = 10 << 20, .data_rule = { .left = 0 } };

static volatile sig_atomic_t sink_stop;

#define SINK_PRINTF(f, a) __attribute__((format(printf, f, a)))

static void sink_log(const char *fmt, ...) SINK_PRINTF(1, 2);
static void sink_die(const char *fmt, ...) SINK_PRINTF(1, 2) __attribute__((noreturn));
struct sink_conn;
static void sink_reply(struct sink_conn *c, const char *fmt, ...) SINK_PRINTF(2, 3);
static void sink_bad(struct sink_conn *c, const char *fmt, ...) SINK_PRINTF(2, 3);

static void
sink_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: several sinks may share a log file. */
	if (write(STDERR_FILENO, "smtp-sink: ", 11) < 0 || write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

static void
sink_die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "smtp-sink: %s\n", msg);
	exit(1);
}

static void *
sink_alloc(void *p, size_t n)
{
	void *q = realloc(p, n > 0 ? n : 1);

	if (q == NULL)
		sink_die("out of memory");
	return q;
}

static void
sink_usage(void)
{
	fprintf(stderr,
	    "usage: smtp-sink --dir DIR [--port N] [--listen ADDR] [--port-file FILE]\n"
	    "                 [--pid-file FILE] [--max-size BYTES] [--auth USER:PASSWORD]\n"
	    "                 [--fail-first N] [--fail-rcpt ADDR=CODE[:COUNT]]...\n"
	    "                 [--fail-data CODE[:COUNT]] [--verbose]\n"
	    "  Accepts mail on ADDR:N (default 127.0.0.1:8025; --port 0 picks a free port)\n"
	    "  and writes each message to DIR/new/<time>.<pid>.<n>.eml. The port is printed\n"
	    "  on standard output once listening.\n"
	    "  --fail-first N    answers 421 to the first N connections\n"
	    "  --fail-rcpt A=C:K answers C to the first K RCPT TO:<A> (every one without :K)\n"
	    "  --fail-data C:K   answers C to the first K ends of DATA\n"
	    "  --auth U:P        requires AUTH PLAIN with these credentials\n"
	    "  --verbose         logs every command (not AUTH's payload) and reply code\n");
	exit(2);
}

/* CODE[:COUNT], CODE a 4xx or 5xx reply. */
static void
sink_parse_rule(const char *opt, const char *s, struct sink_rule *r)
{
	char *end;
	long code, count = -1;

	errno = 0;
	code = strtol(s, &end, 10);
	if (errno != 0 || end == s || code < 400 || code > 599)
		sink_die("%s: expected a 4xx or 5xx code, got '%s'", opt, s);
	if (*end == ':') {
		s = end + 1;
		count = strtol(s, &end, 10);
		if (errno != 0 || end == s || count < 1)
			sink_die("%s: expected CODE:COUNT with COUNT >= 1", opt);
	}
	if (*end != '\0')
		sink_die("%s: unexpected '%s'", opt, end);
	r->code = (int)code;
	r->left = count;
}

/* ---- replies */

static void
sink_reply(struct sink_conn *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	if (sink.verbose)
		sink_log("fd %d < %.*s", c->fd, n, line);
	line[n++] = '\r';
	line[n++] = '\n';
	if (c->outlen + (size_t)n > SINK_OUT_MAX) {
		/* A client that sends without reading what we answer. */
		c->closing = 2;
		return;
	}
	c->out = sink_alloc(c->out, c->outlen + (size_t)n);
	memcpy(c->out + c->outlen, line, (size_t)n);
	c->outlen += (size_t)n;
}

static void
sink_flush(struct sink_conn *c)
{
	while (c->outlen > 0) {
		ssize_t w = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->closing = 2;
			return;
		}
		memmove(c->out, c->out + w, c->outlen - (size_t)w);
		c->outlen -= (size_t)w;
	}
}

/* A syntax error: too many of them and the client is shown the door. */
static void
sink_bad(struct sink_conn *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sink_reply(c, "%s", line);
	if (++c->errors >= SINK_ERRORS_MAX) {
		sink_reply(c, "421 4.7.0 Too many errors, closing");
		c->closing = 1;
	}
}

/* ---- transactions */

static void
sink_reset(struct sink_conn *c)
{
	c->in_mail = 0;
	c->from[0] = '\0';
	c->nrcpt = 0;
	c->msglen = 0;
	c->too_big = 0;
	c->data_mid = 0;
}

static void
sink_append(struct sink_conn *c, const char *p, size_t n)
{
	if (c->too_big || c->msglen + n > sink.max_size) {
		c->too_big = 1;
		return;
	}
	if (c->msglen + n > c->msgcap) {
		c->msgcap = (c->msglen + n) * 2;
		c->msg = sink_alloc(c->msg, c->msgcap);
	}
	memcpy(c->msg + c->msglen, p, n);
	c->msglen += n;
}

static int
sink_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes the message into tmp/, then renames it into new/: a reader never sees half. */
static int
sink_store(struct sink_conn *c, char *name, size_t namelen)
{
	char tmp[PATH_MAX], dst[PATH_MAX], *hdr;
	size_t hlen = 0, cap = 64;
	int fd, rc = -1;

	snprintf(name, namelen, "%lld.%ld.%lu.eml", (long long)time(NULL), (long)getpid(),
	    ++sink.counter);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", sink.dir, name);
	snprintf(dst, sizeof(dst), "%s/new/%s", sink.dir, name);
	for (size_t i = 0; i < c->nrcpt; i++)
		cap += strlen(c->rcpts[i]) + 2;
	cap += strlen(c->from) + 64;
	hdr = sink_alloc(NULL, cap);
	hlen += (size_t)snprintf(hdr + hlen, cap - hlen, "X-Mailroom-Sink-Rcpt: ");
	for (size_t i = 0; i < c->nrcpt; i++)
		hlen += (size_t)snprintf(hdr + hlen, cap - hlen, "%s%s", i > 0 ? ", " : "",
		    c->rcpts[i]);
	hlen += (size_t)snprintf(hdr + hlen, cap - hlen, "\r\nX-Mailroom-Sink-From: <%s>\r\n",
	    c->from);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		goto out;
	if (sink_write_all(fd, hdr, hlen) == -1 || sink_write_all(fd, c->msg, c->msglen) == -1 ||
	    fsync(fd) == -1) {
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) == -1 || rename(tmp, dst) == -1) {
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(hdr);
	return rc;
}

static void
sink_data_end(struct sink_conn *c)
{
	char name[128];

	c->state = SINK_CMD;
	if (c->too_big) {
		sink_reply(c, "552 5.3.4 Message too big (over %zu bytes)", sink.max_size);
	} else if (sink.data_rule.left != 0) {
		if (sink.data_rule.left > 0)
			sink.data_rule.left--;
		sink_reply(c, "%d %d.0.0 Simulated %s failure after DATA", sink.data_rule.code,
		    sink.data_rule.code / 100, sink.data_rule.code < 500 ? "temporary" : "permanent");
	} else if (sink_store(c, name, sizeof(name)) == -1) {
		sink_log("cannot store a message in %s: %s", sink.dir, strerror(errno));
		sink_reply(c, "451 4.3.0 Cannot store the message: %s", strerror(errno));
	} else {
		sink_log("stored new/%s (%zu bytes) from <%s> to %zu recipient%s, first <%s>", name,
		    c->msglen, c->from, c->nrcpt, c->nrcpt > 1 ? "s" : "", c->rcpts[0]);
		sink_reply(c, "250 2.0.0 Ok: queued as %s", name);
	}
	sink_reset(c);
}

/* One line of DATA (without its line end), or a chunk of a line too long for the buffer
 * (whole == 0). Dot-unstuffing applies at the start of a line only. */
static void
sink_data_line(struct sink_conn *c, const char *p, size_t n, int whole)
{
	if (!c->data_mid) {
		if (whole && n == 1 && p[0] == '.') {
			sink_data_end(c);
			return;
		}
		if (n > 0 && p[0] == '.') {
			p++;
			n--;
		}
	}
	sink_append(c, p, n);
	if (whole) {
		sink_append(c, "\r\n", 2);
		c->data_mid = 0;
	} else {
		c->data_mid = 1;
	}
}

/* "FROM:<path> params" or "TO:<path> params": the path in out (may be empty). */
static int
sink_path(const char *arg, const char *prefix, char *out, const char **params)
{
	size_t plen = strlen(prefix), n;
	const char *gt;

	if (strncasecmp(arg, prefix, plen) != 0)
		return -1;
	arg += plen;
	while (*arg == ' ')
		arg++;
	if (*arg != '<' || (gt = strchr(arg, '>')) == NULL)
		return -1;
	n = (size_t)(gt - arg - 1);
	if (n > SINK_PATH_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)arg[1 + i];

		if (ch <= ' ' || ch >= 0x7f || ch == '<')
			return -1;
	}
	memcpy(out, arg + 1, n);
	out[n] = '\0';
	*params = gt + 1;
	return 0;
}

static int
sink_b64_value(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Decodes base64 into out; -1 on bad input. */
static long
sink_b64_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0, pad = 0;

	for (size_t i = 0; i < n; i++) {
		int v;

		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (v = sink_b64_value((unsigned char)s[i])) < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	return pad > 2 ? -1 : (long)o;
}

/* AUTH PLAIN's response: authzid NUL user NUL password. */
static void
sink_auth_check(struct sink_conn *c, const char *b64, size_t n)
{
	char buf[1024];
	long len = sink_b64_decode(b64, n, buf, sizeof(buf) - 1);
	const char *user, *pass;

	c->state = SINK_CMD;
	if (len < 0) {
		sink_bad(c, "501 5.5.2 Cannot decode the response");
		return;
	}
	buf[len] = '\0';
	user = memchr(buf, '\0', (size_t)len);
	if (user == NULL || (size_t)(++user - buf) >= (size_t)len ||
	    (pass = memchr(user, '\0', (size_t)(buf + len - user))) == NULL) {
		sink_bad(c, "501 5.5.2 Malformed PLAIN response");
		return;
	}
	pass++;
	if (strlen(user) == strlen(sink.auth_user) && strcmp(user, sink.auth_user) == 0 &&
	    (size_t)(buf + len - pass) == strlen(sink.auth_pass) &&
	    memcmp(pass, sink.auth_pass, strlen(sink.auth_pass)) == 0) {
		c->authed = 1;
		sink_reply(c, "235 2.7.0 Authentication successful");
	} else {
		sink_reply(c, "535 5.7.8 Authentication credentials invalid");
	}
}

static void
sink_command(struct sink_conn *c, char *line, size_t n)
{
	char verb[16], path[SINK_PATH_MAX + 1];
	const char *arg, *params;
	size_t vlen;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)line[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			sink_bad(c, "500 5.5.2 Invalid character in command");
			return;
		}
	}
	if (n > SINK_CMD_MAX) {
		sink_bad(c, "500 5.5.2 Line too long");
		return;
	}
	line[n] = '\0';
	if (c->state == SINK_AUTH) {
		if (strcmp(line, "*") == 0) {
			c->state = SINK_CMD;
			sink_reply(c, "501 5.7.0 Authentication cancelled");
		} else {
			sink_auth_check(c, line, n);
		}
		return;
	}
	vlen = strcspn(line, " ");
	if (vlen == 0 || vlen >= sizeof(verb)) {
		sink_bad(c, "500 5.5.2 Command not recognized");
		return;
	}
	memcpy(verb, line, vlen);
	verb[vlen] = '\0';
	arg = line + vlen;
	while (*arg == ' ')
		arg++;
	if (sink.verbose)
		sink_log("fd %d > %s", c->fd, strcasecmp(verb, "AUTH") == 0 ? "AUTH ..." : line);

	if (strcasecmp(verb, "EHLO") == 0 || strcasecmp(verb, "HELO") == 0) {
		if (*arg == '\0') {
			sink_bad(c, "501 5.5.4 Syntax: %s hostname", verb);
			return;
		}
		sink_reset(c);
		c->helo = 1;
		if (toupper((unsigned char)verb[0]) == 'H') {
			sink_reply(c, "250 mailroom-smtp-sink");
			return;
		}
		sink_reply(c, "250-mailroom-smtp-sink greets %.64s", arg);
		sink_reply(c, "250-8BITMIME");
		sink_reply(c, "250-SIZE %zu", sink.max_size);
		if (sink.auth_user != NULL)
			sink_reply(c, "250-AUTH PLAIN");
		sink_reply(c, "250 ENHANCEDSTATUSCODES");
	} else if (strcasecmp(verb, "AUTH") == 0) {
		const char *resp;

		if (sink.auth_user == NULL) {
			sink_bad(c, "502 5.5.1 AUTH not available");
		} else if (!c->helo) {
			sink_bad(c, "503 5.5.1 EHLO first");
		} else if (c->authed) {
			sink_bad(c, "503 5.5.1 Already authenticated");
		} else if (strncasecmp(arg, "PLAIN", 5) != 0 || (arg[5] != '\0' && arg[5] != ' ')) {
			sink_bad(c, "504 5.5.4 Unrecognized authentication type");
		} else {
			resp = arg + 5;
			while (*resp == ' ')
				resp++;
			if (*resp == '\0') {
				c->state = SINK_AUTH;
				sink_reply(c, "334 ");
			} else {
				sink_auth_check(c, resp, strlen(resp));
			}
		}
	} else if (strcasecmp(verb, "MAIL") == 0) {
		if (!c->helo) {
			sink_bad(c, "503 5.5.1 EHLO first");
		} else if (sink.auth_user != NULL && !c->authed) {
			sink_reply(c, "530 5.7.0 Authentication required");
		} else if (c->in_mail) {
			sink_bad(c, "503 5.5.1 Nested MAIL command");
		} else if (sink_path(arg, "FROM:", path, &params) == -1) {
			sink_bad(c, "501 5.5.4 Syntax: MAIL FROM:<address>");
		} else {
			const char *size = strcasestr(params, "SIZE=");

			if (size != NULL && strtoull(size + 5, NULL, 10) > sink.max_size) {
				sink_reply(c, "552 5.3.4 Message too big (over %zu bytes)", sink.max_size);
				return;
			}
			sink_reset(c);
			c->in_mail = 1;
			snprintf(c->from, sizeof(c->from), "%s", path);
			sink_reply(c, "250 2.1.0 Ok");
		}
	} else if (strcasecmp(verb, "RCPT") == 0) {
		if (!c->in_mail) {
			sink_bad(c, "503 5.5.1 MAIL first");
		} else if (sink_path(arg, "TO:", path, &params) == -1 || path[0] == '\0') {
			sink_bad(c, "501 5.5.4 Syntax: RCPT TO:<address>");
		} else if (c->nrcpt >= SINK_RCPTS_MAX) {
			sink_reply(c, "452 4.5.3 Too many recipients");
		} else {
			for (int i = 0; i < sink.nrcpt_rules; i++) {
				struct sink_rule *r = &sink.rcpt_rules[i];

				if (r->left == 0 || strcasecmp(r->addr, path) != 0)
					continue;
				if (r->left > 0)
					r->left--;
				sink_reply(c, "%d %d.0.0 Simulated %s failure for <%s>", r->code,
				    r->code / 100, r->code < 500 ? "temporary" : "permanent", path);
				return;
			}
			c->rcpts = sink_alloc(c->rcpts, (c->nrcpt + 1) * sizeof(*c->rcpts));
			snprintf(c->rcpts[c->nrcpt++], sizeof(*c->rcpts), "%s", path);
			sink_reply(c, "250 2.1.5 Ok");
		}
	} else if (strcasecmp(verb, "DATA") == 0) {
		if (*arg != '\0') {
			sink_bad(c, "501 5.5.4 Syntax: DATA");
		} else if (!c->in_mail) {
			sink_bad(c, "503 5.5.1 MAIL first");
		} else if (c->nrcpt == 0) {
			sink_bad(c, "554 5.5.1 No valid recipients");
		} else {
			c->state = SINK_DATA;
			c->msglen = 0;
			c->data_mid = 0;
			sink_reply(c, "354 End data with <CR><LF>.<CR><LF>");
		}
	} else if (strcasecmp(verb, "RSET") == 0) {
		sink_reset(c);
		sink_reply(c, "250 2.0.0 Ok");
	} else if (strcasecmp(verb, "NOOP") == 0) {
		sink_reply(c, "250 2.0.0 Ok");
	} else if (strcasecmp(verb, "QUIT") == 0) {
		sink_reply(c, "221 2.0.0 Bye");
		c->closing = 1;
	} else if (strcasecmp(verb, "VRFY") == 0) {
		sink_reply(c, "252 2.5.2 Cannot verify, will accept");
	} else if (strcasecmp(verb, "HELP") == 0) {
		sink_reply(c, "214 2.0.0 EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
	} else if (strcasecmp(verb, "STARTTLS") == 0) {
		sink_bad(c, "502 5.5.1 STARTTLS not available");
	} else {
		sink_bad(c, "500 5.5.2 Command not recognized");
	}
}

/* Splits the input into lines (CRLF or bare LF) and handles each. */
static void
sink_input(struct sink_conn *c)
{
	size_t start = 0;

	while (!c->closing) {
		char *p = c->in + start, *nl = memchr(p, '\n', c->inlen - start);
		size_t n;

		if (nl == NULL)
			break;
		n = (size_t)(nl - p);
		start += n + 1;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (c->skipping) {
			c->skipping = 0;
			continue;
		}
		if (c->state == SINK_DATA)
			sink_data_line(c, p, n, 1);
		else
			sink_command(c, p, n);
	}
	memmove(c->in, c->in + start, c->inlen - start);
	c->inlen -= start;
	if (c->inlen < sizeof(c->in) || c->closing)
		return;
	/* A full buffer without a line end. */
	if (c->state == SINK_DATA) {
		/* A long line of the message: keep it, except a CR that may start its end. */
		size_t keep = c->in[c->inlen - 1] == '\r' ? 1 : 0;

		sink_data_line(c, c->in, c->inlen - keep, 0);
		memmove(c->in, c->in + c->inlen - keep, keep);
		c->inlen = keep;
	} else {
		if (!c->skipping)
			sink_bad(c, "500 5.5.2 Line too long");
		c->skipping = 1;
		c->inlen = 0;
	}
}

static void
sink_close(struct sink_conn *c)
{
	close(c->fd);
	free(c->rcpts);
	free(c->msg);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void
sink_on_signal(int sig)
{
	(void)sig;
	sink_stop = 1;
}

static void
sink_mkdir(const char *path)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		sink_die("cannot create %s: %s", path, strerror(errno));
}

static void
sink_write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL || fputs(text, f) == EOF || fclose(f) == EOF ||
	    rename(tmp, path) == -1)
		sink_die("cannot write %s: %s", path, strerror(errno));
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port-file", required_argument, NULL, 'P' },
		{ "pid-file", required_argument, NULL, 'i' },
		{ "max-size", required_argument, NULL, 's' },
		{ "auth", required_argument, NULL, 'a' },
		{ "fail-first", required_argument, NULL, 'f' },
		{ "fail-rcpt", required_argument, NULL, 'r' },
		{ "fail-data", required_argument, NULL, 'D' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct sink_conn conns[SINK_CONNS_MAX];
	struct pollfd pfds[SINK_CONNS_MAX + 1];
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	const char *listen_addr = "127.0.0.1", *port_file = NULL, *pid_file = NULL;
	char path[PATH_MAX], num[32], *end, *colon;
	struct sigaction act;
	long port = 8025, accepted = 0;
	int ch, lfd, one = 1;

	while ((ch = getopt_long(argc, argv, "d:p:v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': sink.dir = optarg; break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || port < 0 || port > 65535)
				sink_die("--port: expected 0 to 65535");
			break;
		case 'l': listen_addr = optarg; break;
		case 'P': port_file = optarg; break;
		case 'i': pid_file = optarg; break;
		case 's':
			sink.max_size = (size_t)strtoull(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || sink.max_size == 0)
				sink_die("--max-size: expected a number of bytes");
			break;
		case 'a':
			if ((colon = strchr(optarg, ':')) == NULL)
				sink_die("--auth: expected USER:PASSWORD");
			*colon = '\0';
			sink.auth_user = optarg;
			sink.auth_pass = colon + 1;
			break;
		case 'f':
			sink.fail_first = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || sink.fail_first < 0)
				sink_die("--fail-first: expected a count");
			break;
		case 'r': {
			struct sink_rule *r;
			char *eq = strrchr(optarg, '=');

			if (eq == NULL || eq == optarg || sink.nrcpt_rules >= SINK_RULES_MAX ||
			    (size_t)(eq - optarg) > SINK_PATH_MAX)
				sink_die("--fail-rcpt: expected ADDR=CODE[:COUNT] (at most %d)",
				    SINK_RULES_MAX);
			r = &sink.rcpt_rules[sink.nrcpt_rules++];
			memcpy(r->addr, optarg, (size_t)(eq - optarg));
			r->addr[eq - optarg] = '\0';
			sink_parse_rule("--fail-rcpt", eq + 1, r);
			break;
		}
		case 'D': sink_parse_rule("--fail-data", optarg, &sink.data_rule); break;
		case 'v': sink.verbose = 1; break;
		default: sink_usage();
		}
	}
	if (optind != argc || sink.dir == NULL)
		sink_usage();

	umask(077);
	sink_mkdir(sink.dir);
	snprintf(path, sizeof(path), "%s/tmp", sink.dir);
	sink_mkdir(path);
	snprintf(path, sizeof(path), "%s/new", sink.dir);
	sink_mkdir(path);
	snprintf(path, sizeof(path), "%s/cur", sink.dir);
	sink_mkdir(path);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, listen_addr, &sa.sin_addr) != 1)
		sink_die("--listen: expected an IPv4 address, got '%s'", listen_addr);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		sink_die("socket: %s", strerror(errno));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		sink_die("cannot listen on %s:%ld: %s", listen_addr, port, strerror(errno));
	if (listen(lfd, 64) == -1 || getsockname(lfd, (struct sockaddr *)&sa, &salen) == -1)
		sink_die("listen: %s", strerror(errno));
	port = ntohs(sa.sin_port);

	memset(&act, 0, sizeof(act));
	act.sa_handler = sink_on_signal;
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	act.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &act, NULL);

	if (pid_file != NULL) {
		snprintf(num, sizeof(num), "%ld\n", (long)getpid());
		sink_write_file(pid_file, num);
	}
	if (port_file != NULL) {
		snprintf(num, sizeof(num), "%ld\n", port);
		sink_write_file(port_file, num);
	}
	printf("%ld\n", port);
	fflush(stdout);
	sink_log("listening on %s:%ld, mailbox %s/new", listen_addr, port, sink.dir);

	for (int i = 0; i < SINK_CONNS_MAX; i++)
		conns[i].fd = -1;
	while (!sink_stop) {
		int nfds = 0, slot[SINK_CONNS_MAX];
		time_t now = time(NULL);

		pfds[nfds].fd = lfd;
		pfds[nfds++].events = POLLIN;
		for (int i = 0; i < SINK_CONNS_MAX; i++) {
			struct sink_conn *c = &conns[i];

			if (c->fd < 0)
				continue;
			if (now - c->last > SINK_IDLE_SECONDS) {
				/* Silent for too long, or not reading our last words. */
				if (c->closing == 0)
					sink_reply(c, "421 4.4.2 Idle for too long, closing");
				c->closing = c->closing == 0 ? 1 : 2;
				c->last = now;
			}
			slot[nfds - 1] = i;
			pfds[nfds].fd = c->fd;
			pfds[nfds++].events = (short)((c->closing ? 0 : POLLIN) |
			    (c->outlen > 0 ? POLLOUT : 0));
		}
		if (poll(pfds, (nfds_t)nfds, 1000) == -1) {
			if (errno == EINTR)
				continue;
			sink_die("poll: %s", strerror(errno));
		}
		for (int k = 1; k < nfds; k++) {
			struct sink_conn *c = &conns[slot[k - 1]];

			if (pfds[k].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = c->closing ? 0 : recv(c->fd, c->in + c->inlen,
				    sizeof(c->in) - c->inlen, 0);

				if (r > 0) {
					c->inlen += (size_t)r;
					c->last = now;
					sink_input(c);
				} else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
					if (!c->closing)
						c->closing = 2;
				}
			}
			sink_flush(c);
			if (c->closing == 2 || (c->closing == 1 && c->outlen == 0))
				sink_close(c);
		}
		if (pfds[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			struct sink_conn *c = NULL;

			if (fd == -1)
				continue;
			for (int i = 0; i < SINK_CONNS_MAX && c == NULL; i++) {
				if (conns[i].fd < 0)
					c = &conns[i];
			}
			if (c == NULL) {
				static const char busy[] = "421 4.3.2 Too many connections\r\n";

				if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL) < 0)
					sink_log("accept: %s", strerror(errno));
				close(fd);
				continue;
			}
			memset(c, 0, sizeof(*c));
			c->fd = fd;
			c->last = now;
			if (accepted++ < sink.fail_first) {
				sink_reply(c, "421 4.3.2 Service not available (simulated), try later");
				c->closing = 1;
			} else {
				sink_reply(c, "220 mailroom-smtp-sink ESMTP ready");
			}
			sink_flush(c);
			if (c->closing == 2 || (c->closing == 1 && c->outlen == 0))
				sink_close(c);
		}
	}
	for (int i = 0; i < SINK_CONNS_MAX; i++) {
		if (conns[i].fd >= 0)
			sink_close(&conns[i]);
	}
	close(lfd);
	if (pid_file != NULL)
		unlink(pid_file);
	sink_log("stopped");
	return 0;
}
