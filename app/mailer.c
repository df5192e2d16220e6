/* mailer.c: outgoing mail (mailer.h). A message is built with GMime into one buffer with
 * CRLF line ends, then uploaded with libcurl's SMTP. The queue's one sender thread per
 * process sends what request handlers enqueue, so that no answer waits on a mail server,
 * and retries transient failures with backoff without holding up the messages behind. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include <gmime/gmime.h>
#include <sodium.h>

#include "mailer.h"
#include "mime.h"
#include "util.h"

#define MAILER_ADDR_MAX 254        /* RFC 5321's path limit, less the angle brackets */
#define MAILER_NAME_MAX 200        /* bytes of a display name */
#define MAILER_SUBJECT_MAX 500     /* bytes of a subject */
#define MAILER_BODY_MAX (1 << 20)  /* bytes of each body */
#define MAILER_REPLY_MAX 200       /* bytes of the server's reply kept for messages */

static const char mailer_not_configured[] =
    "outgoing mail is not configured (MAILROOM_SMTP_URL is not set)";

/* One message on its way: the whole text and its envelope. */
struct mailer_item {
	struct mailer_item *next;
	char *data;                 /* zeroed when freed: it may carry a reset link */
	size_t len;
	char from[MAILER_ADDR_MAX + 1];
	char rcpt[MAILER_ADDR_MAX + 1];
	char msgid[160];
	int attempts;               /* made so far */
	int64_t next_us;            /* monotonic time of the next attempt */
};

static pthread_once_t mailer_once = PTHREAD_ONCE_INIT;

/* The settings given by mailer_configure (owned copies), if any. */
static pthread_mutex_t mailer_opts_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mailer_opts mailer_custom;
static char *mailer_custom_strs[4];   /* the copies it points to: url, user, password, from */
static int mailer_custom_set;

/* The queue and its thread. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t tid;
	int running;
	int stopping;
	int64_t deadline_us;        /* mailer_stop's: the thread gives up at this time */
	struct mailer_item *head, *tail;
	struct mailer_opts opts;    /* those in force when the thread started */
	struct mailer_stats stats;
} mq = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
/* Non-zero while mailer_stop waits: a transfer still running at this time is aborted. */
static int64_t mailer_abort_at;

static void
mailer_init_libs(void)
{
	mime_init();            /* GMime, once per process (app/mime.c) */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal("curl_global_init failed");
}

void
mailer_opts_from_config(struct mailer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->smtp_url = mr_config.smtp_url;
	o->tls = mr_config.smtp_tls;
	o->user = mr_config.smtp_user;
	o->password = mr_config.smtp_password;
	o->from = mr_config.mail_from;
	o->connect_timeout_ms = 10000;
	o->timeout_ms = 30000;
	o->retries = 3;
	o->backoff_ms = 2000;
	o->queue_max = 1000;
}

static char *
mailer_strdup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
mailer_free_secret(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

void
mailer_configure(const struct mailer_opts *o)
{
	char **own = mailer_custom_strs;

	pthread_mutex_lock(&mailer_opts_mu);
	free(own[0]);
	free(own[1]);
	mailer_free_secret(own[2]);
	free(own[3]);
	memset(own, 0, sizeof(mailer_custom_strs));
	memset(&mailer_custom, 0, sizeof(mailer_custom));
	mailer_custom_set = o != NULL;
	if (o != NULL) {
		mailer_custom = *o;
		mailer_custom.smtp_url = own[0] = mailer_strdup_or_null(o->smtp_url);
		mailer_custom.user = own[1] = mailer_strdup_or_null(o->user);
		mailer_custom.password = own[2] = mailer_strdup_or_null(o->password);
		mailer_custom.from = own[3] = mailer_strdup_or_null(o->from);
	}
	pthread_mutex_unlock(&mailer_opts_mu);
}

/* The settings in force: mailer_configure's, else mr_config's. The strings stay valid
 * until the next mailer_configure. */
static void
mailer_current(struct mailer_opts *o)
{
	pthread_mutex_lock(&mailer_opts_mu);
	if (mailer_custom_set)
		*o = mailer_custom;
	else
		mailer_opts_from_config(o);
	pthread_mutex_unlock(&mailer_opts_mu);
	if (o->smtp_url != NULL && *o->smtp_url == '\0')
		o->smtp_url = NULL;
}

int
mailer_enabled(void)
{
	struct mailer_opts o;

	mailer_current(&o);
	return o.smtp_url != NULL;
}

/* ---- addresses and header values */

static int
mailer_atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

/* A host name: dot-separated labels of letters, digits and inner hyphens. */
static int
mailer_domain_valid(const char *d)
{
	size_t label = 0, n = strlen(d);

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		char c = d[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || d[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-'))
			return 0;
		if (label == 0 && c == '-')
			return 0;
		label++;
	}
	return 1;
}

int
mailer_address_valid(const char *addr)
{
	const char *at;
	size_t local;

	if (addr == NULL || strlen(addr) > MAILER_ADDR_MAX || (at = strrchr(addr, '@')) == NULL)
		return 0;
	local = (size_t)(at - addr);
	if (local == 0 || local > 64 || addr[0] == '.' || at[-1] == '.')
		return 0;
	for (size_t i = 0; i < local; i++) {
		if (addr[i] == '.') {
			if (addr[i + 1] == '.')
				return 0;
		} else if (!mailer_atext((unsigned char)addr[i])) {
			return 0;
		}
	}
	return mailer_domain_valid(at + 1);
}

/* Text of the message: valid UTF-8 of at most max bytes; a header value (header 1) also
 * without control characters, so that no CR or LF can start a header of its own. NULL
 * when it is acceptable, else the reason. */
static const char *
mailer_text_invalid(const char *s, size_t max, int header)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	if (n > max)
		return "too long";
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = util_utf8_decode(p + i, n - i, &cp);

		if (len == 0)
			return "not valid UTF-8";
		if (header && (cp == '\r' || cp == '\n'))
			return "line breaks are not allowed in a header";
		if (header && (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)))
			return "control characters are not allowed in a header";
		i += len;
	}
	return NULL;
}

static void
mailer_trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

int
mailer_mailbox_parse(const char *s, char *name, size_t namelen, char *addr, size_t addrlen,
    const char **why)
{
	const char *a = s, *nm = "", *lt;
	size_t alen, nlen = 0, o = 0;

	if (s == NULL || *s == '\0') {
		*why = "empty";
		return -1;
	}
	if ((*why = mailer_text_invalid(s, MAILER_NAME_MAX + MAILER_ADDR_MAX + 8, 1)) != NULL)
		return -1;
	alen = strlen(s);
	mailer_trim(&a, &alen);
	if (alen > 0 && a[alen - 1] == '>') {
		lt = NULL;
		for (size_t i = alen - 1; i-- > 0;) {
			if (a[i] == '<') {
				lt = a + i;
				break;
			}
		}
		if (lt == NULL) {
			*why = "'>' without '<'";
			return -1;
		}
		nm = a;
		nlen = (size_t)(lt - a);
		alen = (size_t)(a + alen - 1 - (lt + 1));
		a = lt + 1;
		mailer_trim(&nm, &nlen);
	}
	if (alen == 0 || alen >= addrlen || alen > MAILER_ADDR_MAX) {
		*why = alen == 0 ? "no address" : "address too long";
		return -1;
	}
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	if (!mailer_address_valid(addr)) {
		*why = "not a valid address (expected name@example.org)";
		return -1;
	}
	/* A quoted display name loses its quotes and backslash escapes. */
	if (nlen >= 2 && nm[0] == '"' && nm[nlen - 1] == '"') {
		nm++;
		nlen -= 2;
		for (size_t i = 0; i < nlen; i++) {
			char c = nm[i];

			if (c == '\\' && i + 1 < nlen)
				c = nm[++i];
			else if (c == '"' || c == '\\') {
				*why = "unbalanced quotes in the display name";
				return -1;
			}
			if (o + 1 >= namelen || o >= MAILER_NAME_MAX) {
				*why = "display name too long";
				return -1;
			}
			name[o++] = c;
		}
	} else {
		if (nlen + 1 > namelen || nlen > MAILER_NAME_MAX) {
			*why = "display name too long";
			return -1;
		}
		memcpy(name, nm, nlen);
		o = nlen;
	}
	name[o] = '\0';
	return 0;
}

/* ---- building */

/* A text part whose content is a copy of body with line ends made LF (the serializer
 * writes CRLF), quoted-printable encoded. The copy is handed back to be zeroed. */
static GMimeObject *
mailer_text_part(const char *subtype, const char *body, GByteArray **copy)
{
	GMimeTextPart *part = g_mime_text_part_new_with_subtype(subtype);
	size_t n = strlen(body);
	GByteArray *raw = g_byte_array_sized_new((guint)n + 2);
	GMimeStream *st;
	GMimeDataWrapper *w;

	for (size_t i = 0; i < n; i++) {
		guint8 c = (guint8)body[i];

		if (c == '\r') {
			if (i + 1 < n && body[i + 1] == '\n')
				continue;
			c = '\n';
		}
		g_byte_array_append(raw, &c, 1);
	}
	st = g_mime_stream_mem_new_with_byte_array(raw);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(st), FALSE);
	w = g_mime_data_wrapper_new_with_stream(st, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(GMIME_PART(part), w);
	g_object_unref(w);
	g_object_unref(st);
	g_mime_text_part_set_charset(part, "utf-8");
	g_mime_part_set_content_encoding(GMIME_PART(part), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	*copy = raw;
	return GMIME_OBJECT(part);
}

static void
mailer_byte_array_free(GByteArray *a)
{
	if (a != NULL) {
		sodium_memzero(a->data, a->len);
		g_byte_array_free(a, TRUE);
	}
}

static void
mailer_item_free(struct mailer_item *it)
{
	if (it == NULL)
		return;
	mailer_buffer_free(it->data, it->len);
	free(it);
}

void
mailer_buffer_free(char *p, size_t len)
{
	if (p != NULL) {
		sodium_memzero(p, len);
		free(p);
	}
}

/* Whether the unfolded value of header name in the header section [data, end) names
 * exactly addr: "addr", or "display name <addr>" with no unquoted comma before it. */
static int
mailer_header_names(const char *data, const char *end, const char *name, const char *addr)
{
	size_t nlen = strlen(name), alen = strlen(addr), n = 0;
	const char *p = data, *lt;
	char value[2048];
	int quoted = 0, found = 0;

	while (p < end) {
		const char *eol = p;

		while (eol < end && *eol != '\r')
			eol++;
		if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			if (found++)
				return 0;   /* twice */
			p += nlen + 1;
			for (;;) {
				for (; p < eol && n + 1 < sizeof(value); p++)
					value[n++] = *p;
				/* Continuation lines start with white space. */
				if (eol + 2 < end && (eol[2] == ' ' || eol[2] == '\t')) {
					p = eol + 2;
					eol = p;
					while (eol < end && *eol != '\r')
						eol++;
					continue;
				}
				break;
			}
			value[n] = '\0';
		}
		p = eol + 2;
	}
	if (!found)
		return 0;
	while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
		value[--n] = '\0';
	lt = strrchr(value, '<');
	if (lt == NULL) {
		const char *v = value;

		while (*v == ' ' || *v == '\t')
			v++;
		return strcmp(v, addr) == 0;
	}
	for (const char *q = value; q < lt; q++) {
		if (*q == '"')
			quoted = !quoted;
		else if (*q == '\\' && quoted && q + 1 < lt)
			q++;
		else if (!quoted && (*q == ',' || *q == '@' || *q == ';'))
			return 0;
	}
	return strlen(lt + 1) == alen + 1 && strncmp(lt + 1, addr, alen) == 0 &&
	    lt[1 + alen] == '>';
}

/* The rendered message's header section is 7-bit and its From and To name exactly the
 * envelope's addresses. GMime re-encodes internationalised (xn--) domains on its own, and
 * what it writes must never claim other or more recipients than the envelope has. */
static int
mailer_rendered_ok(const char *data, size_t len, const char *from, const char *rcpt)
{
	const char *end = NULL;

	for (size_t i = 0; i + 3 < len; i++) {
		if (memcmp(data + i, "\r\n\r\n", 4) == 0) {
			end = data + i + 2;
			break;
		}
	}
	if (end == NULL)
		return 0;
	for (const char *p = data; p < end; p++) {
		if ((unsigned char)*p >= 0x80 || *p == '\0')
			return 0;
	}
	/* Every line is a field ("Name:") or the continuation of one (leading white space):
	 * a long subject folded badly must not turn into a line of its own. */
	for (const char *p = data; p < end;) {
		const char *eol = strstr(p, "\r\n");
		const char *q = p;

		if (eol == NULL || eol > end)
			return 0;
		if (*p != ' ' && *p != '\t') {
			while (q < eol && *q > ' ' && *q < 0x7f && *q != ':')
				q++;
			if (q == p || q == eol || *q != ':')
				return 0;
		}
		p = eol + 2;
	}
	return mailer_header_names(data, end, "From", from) &&
	    mailer_header_names(data, end, "To", rcpt);
}

/* Checks the message and the sender, then renders it: NULL with err on a refusal. */
static struct mailer_item *
mailer_item_new(const struct mailer_opts *o, const struct mailer_message *m, char *err,
    size_t errlen)
{
	char from_name[MAILER_NAME_MAX + 1], hex[33], *msgid;
	const char *why, *domain;
	struct mailer_item *it;
	GByteArray *text_copy = NULL, *html_copy = NULL, *out;
	GMimeMessage *msg;
	GMimeObject *body;
	GMimeStream *os;
	GMimeFormatOptions *fo;
	GDateTime *now;
	size_t est;
	int rc;

	pthread_once(&mailer_once, mailer_init_libs);
	it = xcalloc(1, sizeof(*it));
	if (o->from == NULL || mailer_mailbox_parse(o->from, from_name, sizeof(from_name),
	    it->from, sizeof(it->from), &why) == -1) {
		snprintf(err, errlen, "MAILROOM_MAIL_FROM: %s", o->from == NULL ? "not set" : why);
		goto fail;
	}
	if (m->to == NULL || !mailer_address_valid(m->to)) {
		snprintf(err, errlen, "recipient: not a valid address");
		goto fail;
	}
	snprintf(it->rcpt, sizeof(it->rcpt), "%s", m->to);
	if (m->to_name != NULL &&
	    (why = mailer_text_invalid(m->to_name, MAILER_NAME_MAX, 1)) != NULL) {
		snprintf(err, errlen, "recipient's name: %s", why);
		goto fail;
	}
	if (m->subject == NULL || *m->subject == '\0') {
		snprintf(err, errlen, "subject: empty");
		goto fail;
	}
	if ((why = mailer_text_invalid(m->subject, MAILER_SUBJECT_MAX, 1)) != NULL) {
		snprintf(err, errlen, "subject: %s", why);
		goto fail;
	}
	if (m->text == NULL ||
	    (why = mailer_text_invalid(m->text, MAILER_BODY_MAX, 0)) != NULL) {
		snprintf(err, errlen, "text body: %s", m->text == NULL ? "missing" : why);
		goto fail;
	}
	if (m->html != NULL &&
	    (why = mailer_text_invalid(m->html, MAILER_BODY_MAX, 0)) != NULL) {
		snprintf(err, errlen, "HTML body: %s", why);
		goto fail;
	}

	domain = strrchr(it->from, '@') + 1;
	util_random_hex(hex, 16);
	msgid = xasprintf("%s@%s", hex, domain);
	snprintf(it->msgid, sizeof(it->msgid), "<%s>", msgid);

	msg = g_mime_message_new(TRUE);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM,
	    *from_name != '\0' ? from_name : NULL, it->from);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO,
	    m->to_name != NULL && *m->to_name != '\0' ? m->to_name : NULL, it->rcpt);
	g_mime_message_set_subject(msg, m->subject, "utf-8");
	now = g_date_time_new_now_local();
	g_mime_message_set_date(msg, now);
	g_date_time_unref(now);
	g_mime_message_set_message_id(msg, msgid);
	free(msgid);
	g_mime_object_set_header(GMIME_OBJECT(msg), "MIME-Version", "1.0", NULL);

	body = mailer_text_part("plain", m->text, &text_copy);
	if (m->html != NULL) {
		GMimeMultipart *alt = g_mime_multipart_new_with_subtype("alternative");
		GMimeObject *html = mailer_text_part("html", m->html, &html_copy);

		g_mime_multipart_add(alt, body);
		g_mime_multipart_add(alt, html);
		g_object_unref(body);
		g_object_unref(html);
		body = GMIME_OBJECT(alt);
	}
	g_mime_message_set_mime_part(msg, body);
	g_object_unref(body);

	/* Sized for the worst quoted-printable growth, so that the buffer holding the
	 * rendered message is not reallocated (which would leave copies behind unzeroed). */
	est = 4 * (strlen(m->text) + (m->html != NULL ? strlen(m->html) : 0)) + 8192;
	out = g_byte_array_sized_new((guint)est);
	os = g_mime_stream_mem_new_with_byte_array(out);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(os), FALSE);
	fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	rc = (int)g_mime_object_write_to_stream(GMIME_OBJECT(msg), fo, os);
	g_mime_stream_flush(os);
	g_mime_format_options_free(fo);
	g_object_unref(os);
	g_object_unref(msg);
	mailer_byte_array_free(text_copy);
	mailer_byte_array_free(html_copy);
	if (rc < 0) {
		mailer_byte_array_free(out);
		snprintf(err, errlen, "the message could not be rendered");
		goto fail;
	}
	it->len = out->len;
	it->data = xmalloc(out->len + 3);
	memcpy(it->data, out->data, out->len);
	if (it->len < 2 || memcmp(it->data + it->len - 2, "\r\n", 2) != 0) {
		memcpy(it->data + it->len, "\r\n", 2);
		it->len += 2;
	}
	it->data[it->len] = '\0';
	mailer_byte_array_free(out);
	if (!mailer_rendered_ok(it->data, it->len, it->from, it->rcpt)) {
		snprintf(err, errlen, "an address cannot be written into the message as it is "
		    "(an internationalised domain that does not survive encoding?)");
		goto fail;
	}
	return it;
fail:
	mailer_item_free(it);
	return NULL;
}

int
mailer_build(const struct mailer_message *m, char **out, size_t *outlen, char *err,
    size_t errlen)
{
	struct mailer_opts o;
	struct mailer_item *it;

	mailer_current(&o);
	if ((it = mailer_item_new(&o, m, err, errlen)) == NULL)
		return MAILER_INVALID;
	*out = it->data;
	*outlen = it->len;
	free(it);
	return MAILER_SENT;
}

/* ---- sending */

struct mailer_xfer {
	const char *data;
	size_t len, off;
	char reply[MAILER_REPLY_MAX + 1];   /* the server's last reply line before QUIT */
	int quitting;
	int watch_abort;                    /* a queue transfer: mailer_stop may abort it */
};

static size_t
mailer_read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct mailer_xfer *x = arg;
	size_t n = size * nitems, left = x->len - x->off;

	if (n > left)
		n = left;
	memcpy(buf, x->data + x->off, n);
	x->off += n;
	return n;
}

/* Keeps the server's replies (never what we send: that has the AUTH exchange and the
 * body), up to the QUIT that follows a failure and would hide its reason. */
static int
mailer_debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	struct mailer_xfer *x = arg;
	size_t n = 0;

	(void)h;
	if (type == CURLINFO_HEADER_OUT && size >= 4 && strncasecmp(data, "QUIT", 4) == 0)
		x->quitting = 1;
	if (type != CURLINFO_HEADER_IN || x->quitting)
		return 0;
	for (size_t i = 0; i < size && n < MAILER_REPLY_MAX; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c == '\r' || c == '\n')
			break;
		x->reply[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	x->reply[n] = '\0';
	return 0;
}

static int
mailer_progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct mailer_xfer *x = arg;
	int64_t at;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (!x->watch_abort)
		return 0;
	at = __atomic_load_n(&mailer_abort_at, __ATOMIC_SEQ_CST);
	return at != 0 && util_now_us() >= at;
}

/* scheme://host[:port] of the URL, for messages (whatever userinfo it has is left out). */
static void
mailer_describe_url(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url, "://"), *end, *at;

	if (p == NULL) {
		snprintf(out, outlen, "the SMTP server");
		return;
	}
	p += 3;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at != NULL)
		p = at + 1;
	snprintf(out, outlen, "%.*s%.*s", (int)(strstr(url, "://") + 3 - url), url,
	    (int)(end - p), p);
}

static int
mailer_classify(CURLcode rc, long code)
{
	if (rc == CURLE_OK)
		return MAILER_SENT;
	if (code >= 400 && code < 500)
		return MAILER_TEMPORARY;
	if (code >= 500 && code < 600)
		return MAILER_PERMANENT;
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_PARTIAL_FILE:
	case CURLE_ABORTED_BY_CALLBACK:
		return MAILER_TEMPORARY;
	default:
		return MAILER_PERMANENT;
	}
}

/* One attempt: connect, (STARTTLS, AUTH,) MAIL, RCPT, DATA. */
static int
mailer_transfer(const struct mailer_opts *o, const struct mailer_item *it, int watch_abort,
    char *err, size_t errlen)
{
	struct mailer_xfer x;
	struct curl_slist *rcpt = NULL;
	char path[MAILER_ADDR_MAX + 3], cerr[CURL_ERROR_SIZE], where[256];
	char *url;
	const char *host, *slash;
	long code = 0, ssl, server_timeout;
	CURLcode rc;
	CURL *h;
	int result;

	memset(&x, 0, sizeof(x));
	x.data = it->data;
	x.len = it->len;
	x.watch_abort = watch_abort;
	cerr[0] = '\0';
	mailer_describe_url(o->smtp_url, where, sizeof(where));
	/* Without a path, libcurl greets with EHLO localhost: greet with the sender's domain. */
	host = strstr(o->smtp_url, "://");
	slash = host != NULL ? strchr(host + 3, '/') : NULL;
	if (host != NULL && (slash == NULL || slash[1] == '\0'))
		url = xasprintf("%s%s%s", o->smtp_url, slash == NULL ? "/" : "",
		    strrchr(it->from, '@') + 1);
	else
		url = xstrdup(o->smtp_url);
	if ((h = curl_easy_init()) == NULL) {
		free(url);
		snprintf(err, errlen, "%s: curl_easy_init failed", where);
		return MAILER_TEMPORARY;
	}
	snprintf(path, sizeof(path), "<%s>", it->rcpt);
	rcpt = curl_slist_append(rcpt, path);
	snprintf(path, sizeof(path), "<%s>", it->from);
	switch (o->tls) {
	case SMTP_TLS_NONE: ssl = CURLUSESSL_NONE; break;
	case SMTP_TLS_OPTIONAL: ssl = CURLUSESSL_TRY; break;
	default: ssl = CURLUSESSL_ALL; break;
	}
	/* Bounds every wait for a reply, the QUIT of curl_easy_cleanup's included. */
	server_timeout = o->timeout_ms > 1000 ? o->timeout_ms / 1000 : 1;

	curl_easy_setopt(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, path);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, mailer_read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &x);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)it->len);
	curl_easy_setopt(h, CURLOPT_USE_SSL, ssl);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
#if LIBCURL_VERSION_NUM >= 0x080600
	curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT_MS, server_timeout * 1000);
#else
	curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, server_timeout);
#endif
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, mailer_debug_cb);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, &x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, mailer_progress_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
	if (o->user != NULL && *o->user != '\0') {
		curl_easy_setopt(h, CURLOPT_USERNAME, o->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, o->password != NULL ? o->password : "");
	}

	rc = curl_easy_perform(h);
	/* The reply line is the one that went wrong; curl's code may be a later one. */
	if (x.reply[0] >= '1' && x.reply[0] <= '5' && x.reply[1] >= '0' && x.reply[1] <= '9' &&
	    x.reply[2] >= '0' && x.reply[2] <= '9')
		code = (x.reply[0] - '0') * 100 + (x.reply[1] - '0') * 10 + (x.reply[2] - '0');
	else
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	result = mailer_classify(rc, code);
	if (result != MAILER_SENT) {
		const char *what = cerr[0] != '\0' ? cerr : curl_easy_strerror(rc);

		if (rc == CURLE_ABORTED_BY_CALLBACK)
			what = "aborted: the process is stopping";
		else if (rc == CURLE_USE_SSL_FAILED)
			what = "the server does not offer STARTTLS (MAILROOM_SMTP_TLS is required)";
		if (code >= 400 && x.reply[0] != '\0')
			snprintf(err, errlen, "%s: %s (server replied: %s)", where, what, x.reply);
		else if (code >= 400)
			snprintf(err, errlen, "%s: %s (server replied %ld)", where, what, code);
		else
			snprintf(err, errlen, "%s: %s", where, what);
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(rcpt);
	free(url);
	return result;
}

/* The wait before retry number n (1, 2, ...): backoff, then four times longer each time. */
static int64_t
mailer_backoff_us(const struct mailer_opts *o, int n)
{
	int64_t us = (int64_t)o->backoff_ms * 1000;

	for (int i = 1; i < n && us < 3600 * 1000000LL; i++)
		us *= 4;
	return us;
}

int
mailer_send(const struct mailer_message *m, char *err, size_t errlen)
{
	struct mailer_opts o;
	struct mailer_item *it;
	struct timespec ts;
	int64_t us;
	int rc;

	mailer_current(&o);
	if (o.smtp_url == NULL) {
		snprintf(err, errlen, "%s", mailer_not_configured);
		return MAILER_INVALID;
	}
	if ((it = mailer_item_new(&o, m, err, errlen)) == NULL)
		return MAILER_INVALID;
	for (;;) {
		rc = mailer_transfer(&o, it, 0, err, errlen);
		it->attempts++;
		if (rc != MAILER_TEMPORARY || it->attempts > o.retries)
			break;
		us = mailer_backoff_us(&o, it->attempts);
		ts.tv_sec = (time_t)(us / 1000000);
		ts.tv_nsec = (long)(us % 1000000) * 1000;
		log_info("message %s: attempt %d failed, next in %lld ms: %s", it->msgid,
		    it->attempts, (long long)(us / 1000), err);
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		pthread_mutex_lock(&mq.mu);
		mq.stats.retried++;
		pthread_mutex_unlock(&mq.mu);
	}
	pthread_mutex_lock(&mq.mu);
	if (rc == MAILER_SENT)
		mq.stats.sent++;
	else
		mq.stats.failed++;
	pthread_mutex_unlock(&mq.mu);
	mailer_item_free(it);
	return rc;
}

/* ---- the queue */

/* Waits on the queue's condition until the monotonic time `until` (INT64_MAX: no limit). */
static void
mailer_wait_until(int64_t until)
{
	struct timespec ts;

	if (until == INT64_MAX) {
		pthread_cond_wait(&mq.cv, &mq.mu);
		return;
	}
	ts.tv_sec = (time_t)(until / 1000000);
	ts.tv_nsec = (long)(until % 1000000) * 1000;
	pthread_cond_timedwait(&mq.cv, &mq.mu, &ts);
}

/* Unlinks the first message whose time has come (any, when stopping); otherwise NULL and
 * the earliest time in *wake. */
static struct mailer_item *
mailer_queue_take(int64_t now, int64_t *wake)
{
	struct mailer_item *prev = NULL;

	*wake = INT64_MAX;
	for (struct mailer_item *it = mq.head; it != NULL; prev = it, it = it->next) {
		if (mq.stopping || it->next_us <= now) {
			if (prev != NULL)
				prev->next = it->next;
			else
				mq.head = it->next;
			if (mq.tail == it)
				mq.tail = prev;
			it->next = NULL;
			return it;
		}
		if (it->next_us < *wake)
			*wake = it->next_us;
	}
	return NULL;
}

static void
mailer_queue_append(struct mailer_item *it)
{
	it->next = NULL;
	if (mq.tail != NULL)
		mq.tail->next = it;
	else
		mq.head = it;
	mq.tail = it;
}

static void *
mailer_thread(void *arg)
{
	char err[1024];
	int dropped = 0;

	(void)arg;
	pthread_mutex_lock(&mq.mu);
	for (;;) {
		struct mailer_item *it;
		int64_t now = util_now_us(), wake;
		int rc;

		if (mq.stopping && (mq.head == NULL || now >= mq.deadline_us))
			break;
		if ((it = mailer_queue_take(now, &wake)) == NULL) {
			if (mq.stopping && wake > mq.deadline_us)
				wake = mq.deadline_us;
			mailer_wait_until(wake);
			continue;
		}
		pthread_mutex_unlock(&mq.mu);
		rc = mailer_transfer(&mq.opts, it, 1, err, sizeof(err));
		it->attempts++;
		pthread_mutex_lock(&mq.mu);
		if (rc == MAILER_SENT) {
			mq.stats.sent++;
			mq.stats.queued--;
			log_info("message %s sent", it->msgid);
			mailer_item_free(it);
		} else if (rc == MAILER_TEMPORARY && it->attempts <= mq.opts.retries) {
			int64_t us = mailer_backoff_us(&mq.opts, it->attempts);

			mq.stats.retried++;
			it->next_us = util_now_us() + us;
			log_warn("message %s to %s: attempt %d failed, next in %lld ms: %s",
			    it->msgid, it->rcpt, it->attempts, (long long)(us / 1000), err);
			mailer_queue_append(it);
		} else {
			mq.stats.failed++;
			mq.stats.queued--;
			log_err("message %s to %s not sent (%s, %d attempt%s): %s", it->msgid,
			    it->rcpt, rc == MAILER_TEMPORARY ? "temporary failure" :
			    "permanent failure", it->attempts, it->attempts > 1 ? "s" : "", err);
			mailer_item_free(it);
		}
	}
	while (mq.head != NULL) {
		struct mailer_item *it = mq.head;

		mq.head = it->next;
		mailer_item_free(it);
		dropped++;
	}
	mq.tail = NULL;
	mq.stats.dropped += (uint64_t)dropped;
	mq.stats.queued -= dropped;
	pthread_mutex_unlock(&mq.mu);
	if (dropped > 0)
		log_err("stopping: %d message%s not sent", dropped, dropped > 1 ? "s" : "");
	return NULL;
}

int
mailer_start(char *err, size_t errlen)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	char where[256];
	int rc;

	pthread_once(&mailer_once, mailer_init_libs);
	pthread_mutex_lock(&mq.mu);
	if (mq.running) {
		pthread_mutex_unlock(&mq.mu);
		return 0;
	}
	mailer_current(&mq.opts);
	if (mq.opts.smtp_url == NULL) {
		pthread_mutex_unlock(&mq.mu);
		log_info("outgoing mail is not configured (MAILROOM_SMTP_URL): not sending any");
		return 0;
	}
	/* Timed waits on the monotonic clock, which util_now_us reads. */
	pthread_cond_destroy(&mq.cv);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&mq.cv, &ca);
	pthread_condattr_destroy(&ca);
	/* The thread blocks every signal: SIGTERM belongs to the thread in sigwait. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&mq.tid, NULL, mailer_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_mutex_unlock(&mq.mu);
		snprintf(err, errlen, "cannot start the mail sender thread: %s", strerror(rc));
		return -1;
	}
	mq.running = 1;
	mq.stopping = 0;
	mailer_describe_url(mq.opts.smtp_url, where, sizeof(where));
	pthread_mutex_unlock(&mq.mu);
	log_info("sending mail through %s", where);
	return 0;
}

int
mailer_enqueue(const struct mailer_message *m, char *err, size_t errlen)
{
	struct mailer_opts o;
	struct mailer_item *it;

	pthread_mutex_lock(&mq.mu);
	if (mq.running)
		o = mq.opts;
	else
		mailer_current(&o);
	pthread_mutex_unlock(&mq.mu);
	if (o.smtp_url == NULL) {
		snprintf(err, errlen, "%s", mailer_not_configured);
		return MAILER_INVALID;
	}
	if ((it = mailer_item_new(&o, m, err, errlen)) == NULL)
		return MAILER_INVALID;
	pthread_mutex_lock(&mq.mu);
	if (!mq.running || mq.stopping) {
		pthread_mutex_unlock(&mq.mu);
		snprintf(err, errlen, "the mail queue is not running");
		log_err("message %s to %s not queued: the mail queue is not running", it->msgid,
		    it->rcpt);
		mailer_item_free(it);
		return MAILER_QUEUE_FULL;
	}
	if (mq.stats.queued >= mq.opts.queue_max) {
		int n = mq.stats.queued;

		mq.stats.dropped++;
		pthread_mutex_unlock(&mq.mu);
		snprintf(err, errlen, "the mail queue is full (%d messages)", n);
		log_err("message %s to %s not queued: the mail queue is full (%d messages)",
		    it->msgid, it->rcpt, n);
		mailer_item_free(it);
		return MAILER_QUEUE_FULL;
	}
	it->next_us = 0;
	mailer_queue_append(it);
	mq.stats.queued++;
	pthread_cond_signal(&mq.cv);
	log_debug("message %s to %s queued", it->msgid, it->rcpt);
	pthread_mutex_unlock(&mq.mu);
	return MAILER_SENT;
}

void
mailer_stop(long wait_ms)
{
	pthread_mutex_lock(&mq.mu);
	if (!mq.running) {
		pthread_mutex_unlock(&mq.mu);
		return;
	}
	mq.stopping = 1;
	mq.deadline_us = util_now_us() + (int64_t)wait_ms * 1000;
	__atomic_store_n(&mailer_abort_at, mq.deadline_us, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&mq.cv);
	pthread_mutex_unlock(&mq.mu);
	pthread_join(mq.tid, NULL);
	pthread_mutex_lock(&mq.mu);
	mq.running = 0;
	mq.stopping = 0;
	__atomic_store_n(&mailer_abort_at, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&mq.mu);
}

void
mailer_get_stats(struct mailer_stats *s)
{
	pthread_mutex_lock(&mq.mu);
	*s = mq.stats;
	pthread_mutex_unlock(&mq.mu);
}
