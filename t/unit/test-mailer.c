/* test-mailer.c: outgoing mail. Messages as built (headers, encoded words, the bodies'
 * encoding, refusal of header injection and bad addresses), then real sends through
 * libcurl to t/tools/smtp-sink started by each test: delivery, retries of 4xx replies and
 * of a refused first connection, permanent failures, timeouts, AUTH, the queue and its
 * draining stop, and the sink's own robustness against garbage. */
#include "config.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <gmime/gmime.h>

#include "mailer.h"
#include "util.h"
#include "unit.h"

#define FROM "Mailroom Test <noreply@mailroom.test>"

/* ---- the sink, run as a child process */

struct sink {
	pid_t pid;
	int port;
	char dir[64];
	char maildir[96];
	char log[96];
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Starts the sink with extra arguments (NULL-terminated); fails the test when it does not
 * come up. */
static void
sink_start(struct sink *s, const char *const *extra)
{
	const char *builddir = getenv("BUILDDIR");
	char bin[1024], line[32];
	char *argv[32];
	int pfd[2], argc = 0;
	ssize_t n;
	size_t got = 0;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/mailroom-t-mailer-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(s->dir));
	snprintf(s->maildir, sizeof(s->maildir), "%s/mail", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/sink.log", s->dir);
	snprintf(bin, sizeof(bin), "%s/t/tools/smtp-sink", builddir != NULL ? builddir : ".");
	CU_ASSERT_FATAL(pipe(pfd) == 0);
	s->pid = fork();
	CU_ASSERT_FATAL(s->pid >= 0);
	if (s->pid == 0) {
		int lfd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		argv[argc++] = bin;
		argv[argc++] = xstrdup("--dir");
		argv[argc++] = s->maildir;
		argv[argc++] = xstrdup("--port");
		argv[argc++] = xstrdup("0");
		argv[argc++] = xstrdup("--verbose");
		for (; extra != NULL && *extra != NULL && argc < 30; extra++)
			argv[argc++] = xstrdup(*extra);
		argv[argc] = NULL;

		dup2(pfd[1], STDOUT_FILENO);
		if (lfd >= 0)
			dup2(lfd, STDERR_FILENO);
		close(pfd[0]);
		execv(bin, argv);
		fprintf(stderr, "cannot run %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	/* The sink prints its port once it listens. */
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };

		if (poll(&p, 1, 5000) != 1)
			break;
		n = read(pfd[0], line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(line, '\n', got) != NULL || got == sizeof(line) - 1)
			break;
	}
	close(pfd[0]);
	line[got] = '\0';
	s->port = atoi(line);
	if (s->port <= 0)
		fprintf(stderr, "smtp-sink (%s) did not start: see %s\n", bin, s->log);
	CU_ASSERT_FATAL(s->port > 0);
}

/* Stops the sink; it must end by the signal, cleanly (no crash, no sanitizer report). */
static void
sink_stop(struct sink *s)
{
	int status = 0;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		CU_ASSERT_EQUAL(waitpid(s->pid, &status, 0), s->pid);
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			fprintf(stderr, "smtp-sink ended badly (status %d): see %s\n", status, s->log);
		else
			nftw(s->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	}
	s->pid = 0;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = xmalloc((size_t)n + 1);
	if (fread(p, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	p[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return p;
}

/* The messages in new/: how many, and the text of the last one listed. */
static int
sink_messages(const struct sink *s, char **last)
{
	char path[1024];
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (last != NULL)
		*last = NULL;
	snprintf(path, sizeof(path), "%s/new", s->maildir);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		n++;
		if (last != NULL) {
			free(*last);
			snprintf(path, sizeof(path), "%s/new/%s", s->maildir, e->d_name);
			*last = read_file(path, NULL);
		}
	}
	closedir(d);
	return n;
}

/* How many lines of the sink's log contain needle. */
static int
sink_log_count(const struct sink *s, const char *needle)
{
	char *log = read_file(s->log, NULL), *p;
	int n = 0;

	if (log == NULL)
		return 0;
	for (p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(log);
	return n;
}

static int
wait_messages(const struct sink *s, int want, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (sink_messages(s, NULL) >= want)
			return 1;
		usleep(10000);
	}
	return sink_messages(s, NULL) >= want;
}

/* Settings for the sink s (NULL: a port nobody listens on), quick retries; in force. */
static void
use_sink(const struct sink *s, struct mailer_opts *o)
{
	static char url[64];

	mailer_opts_from_config(o);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", s != NULL ? s->port : 1);
	o->smtp_url = url;
	o->tls = SMTP_TLS_NONE;
	o->from = FROM;
	o->connect_timeout_ms = 2000;
	o->timeout_ms = 5000;
	o->backoff_ms = 20;
	mailer_configure(o);
}

static const struct mailer_message reset_mail = {
	.to = "alice@example.org",
	.to_name = "Alice Example",
	.subject = "Reset your password",
	.text = "Hello Alice,\n\nOpen this link to choose a new password:\n"
	    "https://mail.example.org/reset?token=mr_rst_SECRETTOKEN\n\n.signature line\n",
};

/* A free port of 127.0.0.1 nobody listens on. */
static int
closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* A socket that listens and never accepts: connections complete, no greeting comes. */
static int
silent_listener(int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CU_ASSERT_FATAL(listen(fd, 8) == 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* ---- building */

static GMimeMessage *
parse_message(const char *data, size_t len)
{
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeMessage *m = g_mime_parser_construct_message(p, NULL);

	g_object_unref(p);
	g_object_unref(st);
	return m;
}

/* The parser hands bodies back with the CRLF line ends of the wire. */
static void
strip_cr(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (*s != '\r')
			*o++ = *s;
	}
	*o = '\0';
}

/* The raw value of a header (up to its line end, unfolded not). */
static int
has_header_line(const char *msg, const char *line)
{
	size_t n = strlen(line);
	const char *p = msg;

	while (p != NULL) {
		if (strncmp(p, line, n) == 0 && strncmp(p + n, "\r\n", 2) == 0)
			return 1;
		p = strstr(p, "\r\n");
		if (p != NULL)
			p += 2;
	}
	return 0;
}

static void
test_addresses(void)
{
	char name[256], addr[256];
	const char *why;

	CU_ASSERT(mailer_address_valid("alice@example.org"));
	CU_ASSERT(mailer_address_valid("o'brien+tag@mail.example.co.uk"));
	CU_ASSERT(mailer_address_valid("a.b-c@localhost"));
	CU_ASSERT(!mailer_address_valid(""));
	CU_ASSERT(!mailer_address_valid("alice"));
	CU_ASSERT(!mailer_address_valid("@example.org"));
	CU_ASSERT(!mailer_address_valid("alice@"));
	CU_ASSERT(!mailer_address_valid("al ice@example.org"));
	CU_ASSERT(!mailer_address_valid("alice@exa mple.org"));
	CU_ASSERT(!mailer_address_valid(".alice@example.org"));
	CU_ASSERT(!mailer_address_valid("al..ice@example.org"));
	CU_ASSERT(!mailer_address_valid("alice@-example.org"));
	CU_ASSERT(!mailer_address_valid("alice@example..org"));
	CU_ASSERT(!mailer_address_valid("alice@example.org."));
	CU_ASSERT(!mailer_address_valid("a@b@example.org"));
	CU_ASSERT(!mailer_address_valid("alice@example.org>"));
	CU_ASSERT(!mailer_address_valid("alice@example.org\r\nRCPT TO:<x@y>"));
	CU_ASSERT(!mailer_address_valid("\"quoted\"@example.org"));
	CU_ASSERT(!mailer_address_valid("zoë@example.org"));

	CU_ASSERT_EQUAL(mailer_mailbox_parse("alice@example.org", name, sizeof(name), addr,
	    sizeof(addr), &why), 0);
	CU_ASSERT_STRING_EQUAL(name, "");
	CU_ASSERT_STRING_EQUAL(addr, "alice@example.org");
	CU_ASSERT_EQUAL(mailer_mailbox_parse("  Mailroom <noreply@example.org> ", name,
	    sizeof(name), addr, sizeof(addr), &why), 0);
	CU_ASSERT_STRING_EQUAL(name, "Mailroom");
	CU_ASSERT_STRING_EQUAL(addr, "noreply@example.org");
	CU_ASSERT_EQUAL(mailer_mailbox_parse("\"Doe, \\\"J\\\"\" <j@example.org>", name,
	    sizeof(name), addr, sizeof(addr), &why), 0);
	CU_ASSERT_STRING_EQUAL(name, "Doe, \"J\"");
	CU_ASSERT_EQUAL(mailer_mailbox_parse("Zoë Ärger <z@example.org>", name, sizeof(name),
	    addr, sizeof(addr), &why), 0);
	CU_ASSERT_STRING_EQUAL(name, "Zoë Ärger");
	CU_ASSERT_EQUAL(mailer_mailbox_parse("<z@example.org>", name, sizeof(name), addr,
	    sizeof(addr), &why), 0);
	CU_ASSERT_STRING_EQUAL(name, "");

	CU_ASSERT_EQUAL(mailer_mailbox_parse("", name, sizeof(name), addr, sizeof(addr), &why), -1);
	CU_ASSERT_EQUAL(mailer_mailbox_parse("Name <>", name, sizeof(name), addr, sizeof(addr),
	    &why), -1);
	CU_ASSERT_EQUAL(mailer_mailbox_parse("Name <not an address>", name, sizeof(name), addr,
	    sizeof(addr), &why), -1);
	CU_ASSERT_EQUAL(mailer_mailbox_parse("Name x@example.org>", name, sizeof(name), addr,
	    sizeof(addr), &why), -1);
	CU_ASSERT_EQUAL(mailer_mailbox_parse("Name\r\nBcc: x@y.org <x@example.org>", name,
	    sizeof(name), addr, sizeof(addr), &why), -1);
	CU_ASSERT_EQUAL(mailer_mailbox_parse("\"Unbalanced \" quote\" <x@example.org>", name,
	    sizeof(name), addr, sizeof(addr), &why), -1);
	CU_ASSERT_EQUAL(mailer_mailbox_parse("a@example.org, b@example.org", name, sizeof(name),
	    addr, sizeof(addr), &why), -1);
}

static void
test_build_headers(void)
{
	struct mailer_opts o;
	GMimeMessage *gm;
	GMimeObject *body;
	InternetAddressMailbox *mb;
	char *msg, *text, err[256];
	const char *id, *ct;
	size_t len;

	use_sink(NULL, &o);
	CU_ASSERT_EQUAL_FATAL(mailer_build(&reset_mail, &msg, &len, err, sizeof(err)), MAILER_SENT);
	CU_ASSERT_EQUAL(strlen(msg), len);
	/* CRLF everywhere, and nothing but ASCII on the wire. */
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\n')
			CU_ASSERT(i > 0 && msg[i - 1] == '\r');
		if (msg[i] == '\r')
			CU_ASSERT(msg[i + 1] == '\n');
		CU_ASSERT((unsigned char)msg[i] < 0x80);
	}
	CU_ASSERT(len >= 2 && strcmp(msg + len - 2, "\r\n") == 0);
	CU_ASSERT(has_header_line(msg, "From: Mailroom Test <noreply@mailroom.test>"));
	CU_ASSERT(has_header_line(msg, "To: Alice Example <alice@example.org>"));
	CU_ASSERT(has_header_line(msg, "Subject: Reset your password"));
	CU_ASSERT(has_header_line(msg, "MIME-Version: 1.0"));
	CU_ASSERT(has_header_line(msg, "Content-Type: text/plain; charset=utf-8"));
	CU_ASSERT(has_header_line(msg, "Content-Transfer-Encoding: quoted-printable"));
	CU_ASSERT(strncmp(msg, "Date: ", 6) == 0 || strstr(msg, "\r\nDate: ") != NULL);

	gm = parse_message(msg, len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(gm);
	id = g_mime_message_get_message_id(gm);
	CU_ASSERT_PTR_NOT_NULL_FATAL(id);
	CU_ASSERT(strlen(id) > 20);
	CU_ASSERT_PTR_NOT_NULL(strstr(id, "@mailroom.test"));
	CU_ASSERT_PTR_NOT_NULL(g_mime_message_get_date(gm));
	body = g_mime_message_get_body(gm);
	CU_ASSERT_FATAL(GMIME_IS_TEXT_PART(body));
	ct = g_mime_object_get_content_type_parameter(body, "charset");
	CU_ASSERT(ct != NULL && util_strcaseeq(ct, "utf-8"));
	text = g_mime_text_part_get_text(GMIME_TEXT_PART(body));
	strip_cr(text);
	CU_ASSERT_STRING_EQUAL(text, reset_mail.text);
	g_free(text);
	mb = INTERNET_ADDRESS_MAILBOX(internet_address_list_get_address(g_mime_message_get_to(gm),
	    0));
	CU_ASSERT_STRING_EQUAL(internet_address_mailbox_get_addr(mb), "alice@example.org");
	g_object_unref(gm);
	mailer_buffer_free(msg, len);

	/* Two builds, two Message-IDs. */
	{
		char *a, *b;
		size_t alen, blen;
		GMimeMessage *ga, *gb;

		CU_ASSERT_EQUAL_FATAL(mailer_build(&reset_mail, &a, &alen, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL_FATAL(mailer_build(&reset_mail, &b, &blen, err, sizeof(err)), 0);
		ga = parse_message(a, alen);
		gb = parse_message(b, blen);
		CU_ASSERT_STRING_NOT_EQUAL(g_mime_message_get_message_id(ga),
		    g_mime_message_get_message_id(gb));
		g_object_unref(ga);
		g_object_unref(gb);
		mailer_buffer_free(a, alen);
		mailer_buffer_free(b, blen);
	}
	mailer_configure(NULL);
}

static void
test_build_encoded_words(void)
{
	static const char subject[] = "Réinitialisez votre mot de passe ✓ — ça prend 1 minute";
	static const char text[] = "Bonjour Zoë,\r\nvoici le lien : https://example.org/r?t=x\r\n";
	struct mailer_message m = { "zoe@example.org", "Zoë Ärger, \"la\" patronne", subject,
	    text, NULL };
	struct mailer_opts o;
	InternetAddressMailbox *mb;
	GMimeMessage *gm;
	char *msg, *body, err[256];
	size_t len;

	use_sink(NULL, &o);
	o.from = "Équipe Mailroom <noreply@mailroom.test>";
	mailer_configure(&o);
	CU_ASSERT_EQUAL_FATAL(mailer_build(&m, &msg, &len, err, sizeof(err)), MAILER_SENT);
	for (size_t i = 0; i < len; i++)
		CU_ASSERT((unsigned char)msg[i] < 0x80);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "Subject: =?"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "From: =?"));
	CU_ASSERT_PTR_NULL(strstr(msg, "=0D"));   /* CRLF of the body came out as line ends */
	gm = parse_message(msg, len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(gm);
	CU_ASSERT_STRING_EQUAL(g_mime_message_get_subject(gm), subject);
	mb = INTERNET_ADDRESS_MAILBOX(internet_address_list_get_address(g_mime_message_get_to(gm),
	    0));
	CU_ASSERT_STRING_EQUAL(internet_address_get_name(INTERNET_ADDRESS(mb)),
	    "Zoë Ärger, \"la\" patronne");
	CU_ASSERT_STRING_EQUAL(internet_address_mailbox_get_addr(mb), "zoe@example.org");
	mb = INTERNET_ADDRESS_MAILBOX(internet_address_list_get_address(
	    g_mime_message_get_from(gm), 0));
	CU_ASSERT_STRING_EQUAL(internet_address_get_name(INTERNET_ADDRESS(mb)), "Équipe Mailroom");
	body = g_mime_text_part_get_text(GMIME_TEXT_PART(g_mime_message_get_body(gm)));
	strip_cr(body);
	CU_ASSERT_STRING_EQUAL(body, "Bonjour Zoë,\nvoici le lien : https://example.org/r?t=x\n");
	g_free(body);
	g_object_unref(gm);
	mailer_buffer_free(msg, len);
	mailer_configure(NULL);
}

static void
test_build_html(void)
{
	struct mailer_message m = reset_mail;
	struct mailer_opts o;
	GMimeMessage *gm;
	GMimeObject *body;
	GMimeMultipart *mp;
	char *msg, *t, err[256];
	size_t len;

	m.html = "<p>Open <a href=\"https://mail.example.org/reset?token=x\">this link</a>.</p>";
	use_sink(NULL, &o);
	CU_ASSERT_EQUAL_FATAL(mailer_build(&m, &msg, &len, err, sizeof(err)), MAILER_SENT);
	gm = parse_message(msg, len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(gm);
	body = g_mime_message_get_mime_part(gm);
	CU_ASSERT_FATAL(GMIME_IS_MULTIPART(body));
	CU_ASSERT(g_mime_content_type_is_type(g_mime_object_get_content_type(body), "multipart",
	    "alternative"));
	mp = GMIME_MULTIPART(body);
	CU_ASSERT_EQUAL_FATAL(g_mime_multipart_get_count(mp), 2);
	CU_ASSERT(g_mime_content_type_is_type(g_mime_object_get_content_type(
	    g_mime_multipart_get_part(mp, 0)), "text", "plain"));
	CU_ASSERT(g_mime_content_type_is_type(g_mime_object_get_content_type(
	    g_mime_multipart_get_part(mp, 1)), "text", "html"));
	t = g_mime_text_part_get_text(GMIME_TEXT_PART(g_mime_multipart_get_part(mp, 1)));
	CU_ASSERT_STRING_EQUAL(t, m.html);
	g_free(t);
	g_object_unref(gm);
	mailer_buffer_free(msg, len);
	mailer_configure(NULL);
}

/* Request threads build messages concurrently (mailer_enqueue builds in the caller). */
static void *
build_many(void *arg)
{
	struct mailer_message m = reset_mail;
	int *failures = arg;

	m.html = "<p>caf\xc3\xa9</p>";
	m.to_name = "Zo\xc3\xab";
	for (int i = 0; i < 200; i++) {
		char *msg, err[256];
		size_t len;

		if (mailer_build(&m, &msg, &len, err, sizeof(err)) != MAILER_SENT ||
		    strstr(msg, "Subject: Reset your password\r\n") == NULL)
			__atomic_add_fetch(failures, 1, __ATOMIC_SEQ_CST);
		else
			mailer_buffer_free(msg, len);
	}
	return NULL;
}

static void
test_build_threads(void)
{
	struct mailer_opts o;
	pthread_t t[8];
	int failures = 0;

	use_sink(NULL, &o);
	for (size_t i = 0; i < MR_ARRAY_LEN(t); i++)
		CU_ASSERT_FATAL(pthread_create(&t[i], NULL, build_many, &failures) == 0);
	for (size_t i = 0; i < MR_ARRAY_LEN(t); i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(failures, 0);
	mailer_configure(NULL);
}

static void
expect_refused(const struct mailer_message *m, const char *why)
{
	char *msg = NULL, err[256] = "";
	size_t len = 0;

	CU_ASSERT_EQUAL(mailer_build(m, &msg, &len, err, sizeof(err)), MAILER_INVALID);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, why));
	if (strstr(err, why) == NULL)
		fprintf(stderr, "expected \"%s\" in \"%s\"\n", why, err);
	CU_ASSERT_EQUAL(mailer_send(m, err, sizeof(err)), MAILER_INVALID);
}

static void
test_build_refusals(void)
{
	struct mailer_message m;
	struct mailer_opts o;

	use_sink(NULL, &o);
	m = reset_mail;
	m.subject = "Reset\r\nBcc: everyone@example.org";
	expect_refused(&m, "subject: line breaks");
	m.subject = "Reset\nBcc: everyone@example.org";
	expect_refused(&m, "subject: line breaks");
	m.subject = "Reset\rX";
	expect_refused(&m, "subject: line breaks");
	m.subject = "bell\a";
	expect_refused(&m, "subject: control characters");
	m.subject = "bad \xc3\x28 UTF-8";
	expect_refused(&m, "subject: not valid UTF-8");
	m.subject = "";
	expect_refused(&m, "subject: empty");
	m = reset_mail;
	m.to_name = "Alice\r\nBcc: everyone@example.org";
	expect_refused(&m, "recipient's name: line breaks");
	m = reset_mail;
	m.to = "alice@example.org\r\nRCPT TO:<victim@example.org>";
	expect_refused(&m, "recipient: not a valid address");
	m.to = "Alice <alice@example.org>";
	expect_refused(&m, "recipient: not a valid address");
	m.to = "alice@example.org, bob@example.org";
	expect_refused(&m, "recipient: not a valid address");
	m.to = NULL;
	expect_refused(&m, "recipient: not a valid address");
	/* Internationalised domains GMime would rewrite into other, more or 8-bit
	 * recipients (found by t/fuzz/fuzz-mailer). */
	m.to = "a@xn--xevilexamplenet-e42nh9710aoka.example";
	expect_refused(&m, "an address cannot be written into the message");
	m.to = "a@xn--prg.example";
	expect_refused(&m, "an address cannot be written into the message");
	m.to = "a@xn--pvg.example";
	expect_refused(&m, "an address cannot be written into the message");
	m = reset_mail;
	m.text = NULL;
	expect_refused(&m, "text body: missing");
	m.text = "\xff\xfe";
	expect_refused(&m, "text body: not valid UTF-8");
	m = reset_mail;
	m.html = "\xed\xa0\x80"; /* a surrogate */
	expect_refused(&m, "HTML body: not valid UTF-8");

	o.smtp_url = "smtp://127.0.0.1:1";
	o.from = "Mailroom\r\nBcc: x@example.org <noreply@mailroom.test>";
	mailer_configure(&o);
	expect_refused(&reset_mail, "MAILROOM_MAIL_FROM");
	mailer_configure(NULL);
}

static void
test_not_configured(void)
{
	struct mailer_opts o;
	char err[256];

	mailer_opts_from_config(&o);
	o.smtp_url = NULL;
	o.from = FROM;
	mailer_configure(&o);
	CU_ASSERT_FALSE(mailer_enabled());
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_INVALID);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "outgoing mail is not configured"));
	CU_ASSERT_EQUAL(mailer_enqueue(&reset_mail, err, sizeof(err)), MAILER_INVALID);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "outgoing mail is not configured"));
	/* Starting without a server is not an error: nothing is sent. */
	CU_ASSERT_EQUAL(mailer_start(err, sizeof(err)), 0);
	mailer_stop(100);
	mailer_configure(NULL);
}

/* ---- the settings (config.c) */

static const char *mail_vars[] = {
	"MAILROOM_CONFIG", "MAILROOM_ENV", "DATABASE_URL", "MAILROOM_BASE_URL",
	"MAILROOM_SMTP_URL", "MAILROOM_SMTP_TLS", "MAILROOM_SMTP_USER", "MAILROOM_SMTP_PASSWORD",
	"MAILROOM_MAIL_FROM", NULL,
};

static void
mail_env_clear(void)
{
	for (const char **v = mail_vars; *v != NULL; v++)
		unsetenv(*v);
}

/* config_load with NAME=value pairs set (NULL-terminated); the error in err. */
static int
load_with(char *err, size_t errlen, ...)
{
	struct mr_config c;
	const char *name;
	va_list ap;
	int rc;

	mail_env_clear();
	va_start(ap, errlen);
	while ((name = va_arg(ap, const char *)) != NULL)
		setenv(name, va_arg(ap, const char *), 1);
	va_end(ap);
	err[0] = '\0';
	rc = config_load(&c, err, errlen);
	if (rc == 0)
		mr_config = c;
	return rc;
}

static void
test_settings(void)
{
	char err[512];

	/* Development: no server, TLS optional, a sender by default. */
	CU_ASSERT_EQUAL_FATAL(load_with(err, sizeof(err), NULL), 0);
	CU_ASSERT_PTR_NULL(mr_config.smtp_url);
	CU_ASSERT_EQUAL(mr_config.smtp_tls, SMTP_TLS_OPTIONAL);
	CU_ASSERT_PTR_NOT_NULL(mr_config.mail_from);
	CU_ASSERT_FALSE(mailer_enabled());
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_SMTP_URL", "smtp://127.0.0.1:8025",
	    "MAILROOM_SMTP_TLS", "none", NULL), 0);
	CU_ASSERT_STRING_EQUAL(mr_config.smtp_url, "smtp://127.0.0.1:8025");
	CU_ASSERT_EQUAL(mr_config.smtp_tls, SMTP_TLS_NONE);
	CU_ASSERT_TRUE(mailer_enabled());
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_SMTP_URL",
	    "smtps://smtp.example.org:465/mail.example.org", NULL), 0);
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_SMTP_URL", "smtp://[::1]:25", NULL),
	    0);

	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_SMTP_URL", "http://example.org",
	    NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "MAILROOM_SMTP_URL"));
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_SMTP_URL",
	    "smtp://me:hunter2@smtp.example.org", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "MAILROOM_SMTP_PASSWORD"));
	CU_ASSERT_PTR_NULL(strstr(err, "hunter2"));
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_SMTP_URL", "smtp://", NULL), -1);
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_SMTP_URL", "smtp://h:0", NULL), -1);
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_SMTP_URL", "smtp://h:65536", NULL),
	    -1);
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_SMTP_URL", "smtp://h x", NULL), -1);
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_SMTP_URL", "smtp://h/a?b", NULL), -1);
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_SMTP_URL", "smtps://h",
	    "MAILROOM_SMTP_TLS", "none", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "MAILROOM_SMTP_TLS"));
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_SMTP_TLS", "maybe", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "MAILROOM_SMTP_TLS"));
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_MAIL_FROM",
	    "Mailroom <not an address>", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "MAILROOM_MAIL_FROM"));
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_MAIL_FROM",
	    "Mailroom\nBcc: x@example.org <a@example.org>", NULL), -1);
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), "MAILROOM_SMTP_URL", "smtp://h",
	    "MAILROOM_SMTP_USER", "me", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "MAILROOM_SMTP_PASSWORD"));

	/* Production: TLS required by default, a sender required, a password only over TLS. */
#define PROD "MAILROOM_ENV", "production", "DATABASE_URL", "postgresql://db/mailroom", \
	"MAILROOM_BASE_URL", "https://mail.example.org"
	CU_ASSERT_EQUAL_FATAL(load_with(err, sizeof(err), PROD, NULL), 0);
	CU_ASSERT_EQUAL(mr_config.smtp_tls, SMTP_TLS_REQUIRED);
	CU_ASSERT_PTR_NULL(mr_config.mail_from);
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), PROD, "MAILROOM_SMTP_URL",
	    "smtp://smtp.example.org:587", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "MAILROOM_MAIL_FROM"));
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), PROD, "MAILROOM_SMTP_URL",
	    "smtp://smtp.example.org:587", "MAILROOM_MAIL_FROM", "Mailroom <noreply@example.org>",
	    "MAILROOM_SMTP_USER", "me", "MAILROOM_SMTP_PASSWORD", "hunter2", NULL), 0);
	CU_ASSERT_STRING_EQUAL(mr_config.smtp_password, "hunter2");
	CU_ASSERT_EQUAL(load_with(err, sizeof(err), PROD, "MAILROOM_SMTP_URL",
	    "smtp://smtp.example.org:587", "MAILROOM_MAIL_FROM", "noreply@example.org",
	    "MAILROOM_SMTP_USER", "me", "MAILROOM_SMTP_PASSWORD", "hunter2", "MAILROOM_SMTP_TLS",
	    "optional", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "MAILROOM_SMTP_TLS"));
	CU_ASSERT_PTR_NULL(strstr(err, "hunter2"));
#undef PROD
	mail_env_clear();
	memset(&mr_config, 0, sizeof(mr_config));
	log_set_level(LOG_LEVEL_ERROR);
}

/* ---- sending */

static void
test_send_delivers(void)
{
	struct mailer_stats before, after;
	struct mailer_opts o;
	struct sink s;
	char *file = NULL, err[512];

	sink_start(&s, NULL);
	use_sink(&s, &o);
	mailer_get_stats(&before);
	CU_ASSERT_TRUE(mailer_enabled());
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_SENT);
	CU_ASSERT_EQUAL(sink_messages(&s, &file), 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(file);
	CU_ASSERT(strncmp(file, "X-Mailroom-Sink-Rcpt: alice@example.org\r\n", 41) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(file, "\r\nX-Mailroom-Sink-From: <noreply@mailroom.test>\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(file, "\r\nSubject: Reset your password\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(file, "\r\nTo: Alice Example <alice@example.org>\r\n"));
	/* The link survived quoted-printable ('=' is =3D), and the dot-stuffing of a line
	 * that starts with a dot was undone by the sink. */
	CU_ASSERT_PTR_NOT_NULL(strstr(file, "https://mail.example.org/reset?token=3Dmr_rst_SECRETTOKEN"));
	CU_ASSERT_PTR_NOT_NULL(strstr(file, "\r\n.signature line\r\n"));
	free(file);
	/* EHLO with the sender's domain, not "localhost". */
	CU_ASSERT_EQUAL(sink_log_count(&s, "> EHLO mailroom.test"), 1);
	/* The body never reaches a log line of the mailer: the sink's verbose log shows the
	 * commands only. */
	CU_ASSERT_EQUAL(sink_log_count(&s, "SECRETTOKEN"), 0);
	mailer_get_stats(&after);
	CU_ASSERT_EQUAL(after.sent, before.sent + 1);

	/* TLS "optional" goes on in the clear with a server that offers no STARTTLS
	 * ("required" refuses to: test_send_tls_required). */
	{
		char url[64];

		mailer_opts_from_config(&o);
		snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", s.port);
		o.smtp_url = url;
		o.from = FROM;
		o.tls = SMTP_TLS_OPTIONAL;
		mailer_configure(&o);
	}
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_SENT);
	CU_ASSERT_EQUAL(sink_messages(&s, NULL), 2);
	sink_stop(&s);
	mailer_configure(NULL);
}

static void
test_send_tls_required(void)
{
	struct mailer_opts o;
	struct sink s;
	char url[64], err[512];

	sink_start(&s, NULL);
	mailer_opts_from_config(&o);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", s.port);
	o.smtp_url = url;
	o.from = FROM;
	o.tls = SMTP_TLS_REQUIRED;
	o.backoff_ms = 20;
	mailer_configure(&o);
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_PERMANENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, url));
	CU_ASSERT_EQUAL(sink_messages(&s, NULL), 0);
	CU_ASSERT_EQUAL(sink_log_count(&s, "> MAIL"), 0);
	sink_stop(&s);
	mailer_configure(NULL);
}

static void
test_send_rcpt_451_retried(void)
{
	static const char *const args[] = { "--fail-rcpt", "alice@example.org=451:2", NULL };
	struct mailer_stats before, after;
	struct mailer_opts o;
	struct sink s;
	char err[512];

	sink_start(&s, args);
	use_sink(&s, &o);
	mailer_get_stats(&before);
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_SENT);
	CU_ASSERT_EQUAL(sink_log_count(&s, "< 451 "), 2);
	CU_ASSERT_EQUAL(sink_messages(&s, NULL), 1);
	mailer_get_stats(&after);
	CU_ASSERT_EQUAL(after.retried, before.retried + 2);
	sink_stop(&s);
	mailer_configure(NULL);
}

static void
test_send_rcpt_451_gives_up(void)
{
	static const char *const args[] = { "--fail-rcpt", "alice@example.org=451", NULL };
	struct mailer_opts o;
	struct sink s;
	char err[512];

	sink_start(&s, args);
	use_sink(&s, &o);
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_TEMPORARY);
	/* The first attempt and three retries; the reason carries the server's reply. */
	CU_ASSERT_EQUAL(sink_log_count(&s, "< 451 "), 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "451 4.0.0 Simulated temporary failure"));
	CU_ASSERT_PTR_NULL(strstr(err, "SECRETTOKEN"));
	CU_ASSERT_EQUAL(sink_messages(&s, NULL), 0);

	/* retries = 0: one attempt only. */
	o.retries = 0;
	mailer_configure(&o);
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_TEMPORARY);
	CU_ASSERT_EQUAL(sink_log_count(&s, "< 451 "), 5);
	sink_stop(&s);
	mailer_configure(NULL);
}

static void
test_send_data_554_permanent(void)
{
	static const char *const args[] = { "--fail-data", "554", NULL };
	struct mailer_stats before, after;
	struct mailer_opts o;
	struct sink s;
	char err[512];

	sink_start(&s, args);
	use_sink(&s, &o);
	mailer_get_stats(&before);
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_PERMANENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "554"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Simulated permanent failure after DATA"));
	CU_ASSERT_PTR_NULL(strstr(err, "SECRETTOKEN"));
	CU_ASSERT_EQUAL(sink_log_count(&s, "< 554 "), 1);   /* not retried */
	CU_ASSERT_EQUAL(sink_messages(&s, NULL), 0);
	mailer_get_stats(&after);
	CU_ASSERT_EQUAL(after.failed, before.failed + 1);
	sink_stop(&s);
	mailer_configure(NULL);
}

static void
test_send_421_first_connection(void)
{
	static const char *const args[] = { "--fail-first", "1", NULL };
	struct mailer_opts o;
	struct sink s;
	char err[512];

	sink_start(&s, args);
	use_sink(&s, &o);
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_SENT);
	CU_ASSERT_EQUAL(sink_log_count(&s, "< 421 "), 1);
	CU_ASSERT_EQUAL(sink_messages(&s, NULL), 1);
	sink_stop(&s);

	/* Refused more often than retried: temporary, with the reply. */
	{
		static const char *const many[] = { "--fail-first", "10", NULL };

		sink_start(&s, many);
		use_sink(&s, &o);
		CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_TEMPORARY);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "421"));
		CU_ASSERT_EQUAL(sink_log_count(&s, "< 421 "), 4);
		sink_stop(&s);
	}
	mailer_configure(NULL);
}

static void
test_send_unreachable(void)
{
	struct mailer_opts o;
	char url[64], err[512];
	int64_t t0;
	int fd, port;

	/* Nobody listens: refused at once, temporary. */
	mailer_opts_from_config(&o);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", closed_port());
	o.smtp_url = url;
	o.from = FROM;
	o.tls = SMTP_TLS_NONE;
	o.backoff_ms = 10;
	mailer_configure(&o);
	t0 = util_now_us();
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_TEMPORARY);
	CU_ASSERT(util_now_us() - t0 < 3000000);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, url));

	/* Somebody listens and never answers: the whole-transfer timeout ends it. */
	fd = silent_listener(&port);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", port);
	o.timeout_ms = 1000;
	o.retries = 0;
	mailer_configure(&o);
	t0 = util_now_us();
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_TEMPORARY);
	CU_ASSERT(util_now_us() - t0 < 4000000);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "imed out"));
	close(fd);
	mailer_configure(NULL);
}

static void
test_send_auth(void)
{
	static const char *const args[] = { "--auth", "mailer:s3cret-Passw0rd", NULL };
	struct mailer_opts o;
	struct sink s;
	char err[512];

	sink_start(&s, args);
	use_sink(&s, &o);
	/* Without credentials: the server's 530, permanent. */
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_PERMANENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "530"));
	o.user = "mailer";
	o.password = "wrong-Passw0rd";
	mailer_configure(&o);
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_PERMANENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "535"));
	CU_ASSERT_PTR_NULL(strstr(err, "wrong-Passw0rd"));
	CU_ASSERT_EQUAL(sink_messages(&s, NULL), 0);
	o.user = "mailer";
	o.password = "s3cret-Passw0rd";
	mailer_configure(&o);
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_SENT);
	CU_ASSERT_EQUAL(sink_messages(&s, NULL), 1);
	CU_ASSERT_EQUAL(sink_log_count(&s, "s3cret"), 0);
	sink_stop(&s);
	mailer_configure(NULL);
}

/* ---- the queue */

static void
test_queue_delivers_and_drains(void)
{
	static const char *const args[] = { "--fail-rcpt", "bob@example.org=451:1", NULL };
	struct mailer_stats before, after;
	struct mailer_message bob = reset_mail;
	struct mailer_opts o;
	struct sink s;
	char err[512];
	int64_t t0;

	sink_start(&s, args);
	use_sink(&s, &o);
	bob.to = "bob@example.org";
	mailer_get_stats(&before);
	CU_ASSERT_EQUAL(mailer_enqueue(&reset_mail, err, sizeof(err)), MAILER_QUEUE_FULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not running"));
	CU_ASSERT_EQUAL_FATAL(mailer_start(err, sizeof(err)), 0);
	/* Bob's first attempt fails (451): it waits for its retry without holding up the
	 * others. Enqueueing returns at once. */
	t0 = util_now_us();
	CU_ASSERT_EQUAL(mailer_enqueue(&bob, err, sizeof(err)), MAILER_SENT);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(mailer_enqueue(&reset_mail, err, sizeof(err)), MAILER_SENT);
	CU_ASSERT(util_now_us() - t0 < 500000);
	CU_ASSERT(wait_messages(&s, 6, 10000));
	mailer_get_stats(&after);
	CU_ASSERT_EQUAL(after.sent, before.sent + 6);
	CU_ASSERT_EQUAL(after.retried, before.retried + 1);
	CU_ASSERT_EQUAL(after.queued, 0);

	/* A refused message is refused at enqueue time. */
	bob.subject = "x\r\nBcc: y@example.org";
	CU_ASSERT_EQUAL(mailer_enqueue(&bob, err, sizeof(err)), MAILER_INVALID);

	/* Stop drains what is queued. */
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(mailer_enqueue(&reset_mail, err, sizeof(err)), MAILER_SENT);
	mailer_stop(5000);
	CU_ASSERT_EQUAL(sink_messages(&s, NULL), 11);
	mailer_get_stats(&after);
	CU_ASSERT_EQUAL(after.sent, before.sent + 11);
	CU_ASSERT_EQUAL(after.dropped, before.dropped);
	CU_ASSERT_EQUAL(mailer_enqueue(&reset_mail, err, sizeof(err)), MAILER_QUEUE_FULL);
	sink_stop(&s);
	mailer_configure(NULL);
}

static void
test_queue_permanent_failure(void)
{
	static const char *const args[] = { "--fail-rcpt", "alice@example.org=550", NULL };
	struct mailer_stats before, after;
	struct mailer_opts o;
	struct sink s;
	char err[512];

	sink_start(&s, args);
	use_sink(&s, &o);
	mailer_get_stats(&before);
	CU_ASSERT_EQUAL_FATAL(mailer_start(err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(mailer_enqueue(&reset_mail, err, sizeof(err)), MAILER_SENT);
	mailer_stop(5000);
	mailer_get_stats(&after);
	CU_ASSERT_EQUAL(after.failed, before.failed + 1);
	CU_ASSERT_EQUAL(after.retried, before.retried);
	CU_ASSERT_EQUAL(sink_log_count(&s, "< 550 "), 1);
	sink_stop(&s);
	mailer_configure(NULL);
}

static void
test_queue_full_and_bounded_stop(void)
{
	struct mailer_stats before, after;
	struct mailer_opts o;
	char url[64], err[512];
	int64_t t0;
	int fd, port;

	/* A server that never answers holds the first message in its transfer. */
	fd = silent_listener(&port);
	mailer_opts_from_config(&o);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", port);
	o.smtp_url = url;
	o.from = FROM;
	o.tls = SMTP_TLS_NONE;
	o.queue_max = 3;
	o.timeout_ms = 20000;
	mailer_configure(&o);
	mailer_get_stats(&before);
	CU_ASSERT_EQUAL_FATAL(mailer_start(err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(mailer_enqueue(&reset_mail, err, sizeof(err)), MAILER_SENT);
	CU_ASSERT_EQUAL(mailer_enqueue(&reset_mail, err, sizeof(err)), MAILER_QUEUE_FULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "full"));
	/* Stop gives up at its deadline: the transfer in flight is aborted, the rest
	 * dropped and counted. */
	t0 = util_now_us();
	mailer_stop(300);
	CU_ASSERT(util_now_us() - t0 < 3000000);
	mailer_get_stats(&after);
	CU_ASSERT_EQUAL(after.queued, 0);
	CU_ASSERT_EQUAL(after.sent, before.sent);
	/* The full queue's refusal, and the messages left at the deadline. */
	CU_ASSERT(after.dropped >= before.dropped + 3);
	close(fd);
	mailer_configure(NULL);
}

/* ---- the sink itself */

/* What a raw connection has received and not yet looked at. */
static char raw_buf[65536];
static size_t raw_len;

static int
raw_connect(int port)
{
	struct sockaddr_in sa;
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	raw_len = 0;
	return fd;
}

static void
raw_send(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Reads replies until one that starts with want arrives: 1 when it did, 0 when another
 * reply came first (continuation lines "250-..." aside; any reply at all with skip). */
static int
raw_expect_skip(int fd, const char *want, int skip)
{
	char *buf = raw_buf, *line;
	size_t len = raw_len;

	for (;;) {
		char *nl;

		while ((nl = memchr(buf, '\n', len)) != NULL) {
			size_t n = (size_t)(nl - buf) + 1;

			line = xstrndup(buf, n);
			memmove(buf, buf + n, len - n);
			len -= n;
			raw_len = len;
			if (strncmp(line, want, strlen(want)) == 0) {
				free(line);
				return 1;
			}
			if (!skip && !(strlen(line) > 4 && line[3] == '-')) {
				fprintf(stderr, "expected %s, got %s", want, line);
				free(line);
				return 0;
			}
			free(line);
		}
		ssize_t r = recv(fd, buf + len, sizeof(raw_buf) - len, 0);

		if (r <= 0) {
			raw_len = 0;
			return 0;
		}
		len += (size_t)r;
		raw_len = len;
	}
}

static int
raw_expect(int fd, const char *want)
{
	return raw_expect_skip(fd, want, 0);
}

static void
test_sink_garbage(void)
{
	struct mailer_opts o;
	struct sink s;
	char *big, *file = NULL, err[512];
	int fd;

	sink_start(&s, NULL);
	fd = raw_connect(s.port);
	CU_ASSERT(raw_expect(fd, "220 "));
	raw_send(fd, "MAIL FROM:<a@example.org>\r\n", 27);
	CU_ASSERT(raw_expect(fd, "503 "));
	raw_send(fd, "\x01\x02\xff\r\n", 5);
	CU_ASSERT(raw_expect(fd, "500 "));
	raw_send(fd, "EHLO\r\n", 6);
	CU_ASSERT(raw_expect(fd, "501 "));
	raw_send(fd, "EHLO client.example\r\n", 21);
	CU_ASSERT(raw_expect(fd, "250 "));
	/* A line far longer than the buffer: one 500, then back in step. */
	big = xmalloc(40001);
	memset(big, 'A', 40000);
	big[40000] = '\0';
	raw_send(fd, big, 40000);
	raw_send(fd, "\r\nNOOP\r\n", 8);
	CU_ASSERT(raw_expect(fd, "500 "));
	CU_ASSERT(raw_expect(fd, "250 "));
	raw_send(fd, "RCPT TO:<b@example.org>\r\nDATA\r\nMAIL FROM:a@example.org\r\n", 56);
	CU_ASSERT(raw_expect(fd, "503 "));
	CU_ASSERT(raw_expect(fd, "503 "));
	CU_ASSERT(raw_expect(fd, "501 "));
	/* A pipelined transaction with a dot-stuffed line, a line longer than the buffer and
	 * bare LF line ends. */
	raw_send(fd, "mail from:<>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n", 45);
	CU_ASSERT(raw_expect(fd, "250 "));
	CU_ASSERT(raw_expect(fd, "250 "));
	CU_ASSERT(raw_expect(fd, "354 "));
	raw_send(fd, "Subject: raw\r\n\r\n..dotted\r\n", 26);
	raw_send(fd, big, 40000);
	raw_send(fd, "\nlast\n.\r\n", 9);
	CU_ASSERT(raw_expect(fd, "250 "));
	CU_ASSERT_EQUAL(sink_messages(&s, &file), 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(file);
	CU_ASSERT_PTR_NOT_NULL(strstr(file, "\r\n.dotted\r\nAAAA"));
	CU_ASSERT_PTR_NOT_NULL(strstr(file, "AAAA\r\nlast\r\n"));
	CU_ASSERT_EQUAL(strlen(file), strlen("X-Mailroom-Sink-Rcpt: b@example.org\r\n"
	    "X-Mailroom-Sink-From: <>\r\nSubject: raw\r\n\r\n.dotted\r\n") + 40000 + 8);
	free(file);
	/* Too many errors: 421 and the door. */
	for (int i = 0; i < 12; i++)
		raw_send(fd, "BOGUS\r\n", 7);
	CU_ASSERT(raw_expect_skip(fd, "421 ", 1));
	close(fd);

	/* Random bytes on another connection. */
	fd = raw_connect(s.port);
	CU_ASSERT(raw_expect(fd, "220 "));
	for (int i = 0; i < 40000; i++)
		big[i] = (char)(i * 7919 % 251);
	raw_send(fd, big, 40000);
	close(fd);
	free(big);

	/* Still serving. */
	use_sink(&s, &o);
	CU_ASSERT_EQUAL(mailer_send(&reset_mail, err, sizeof(err)), MAILER_SENT);
	CU_ASSERT_EQUAL(sink_messages(&s, NULL), 2);
	sink_stop(&s);
	mailer_configure(NULL);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "addresses", test_addresses },
		{ "building: headers and body", test_build_headers },
		{ "building: encoded words", test_build_encoded_words },
		{ "building: HTML alternative", test_build_html },
		{ "building: injection and bad input refused", test_build_refusals },
		{ "building: from several threads", test_build_threads },
		{ "not configured", test_not_configured },
		{ "settings", test_settings },
		{ "send: delivered to the sink", test_send_delivers },
		{ "send: TLS required, not offered", test_send_tls_required },
		{ "send: 451 on RCPT retried, then sent", test_send_rcpt_451_retried },
		{ "send: 451 on RCPT, retries exhausted", test_send_rcpt_451_gives_up },
		{ "send: 554 after DATA is permanent", test_send_data_554_permanent },
		{ "send: 421 on connection retried", test_send_421_first_connection },
		{ "send: unreachable and silent servers", test_send_unreachable },
		{ "send: AUTH PLAIN", test_send_auth },
		{ "queue: delivers, retries, drains", test_queue_delivers_and_drains },
		{ "queue: permanent failure", test_queue_permanent_failure },
		{ "queue: full, and a bounded stop", test_queue_full_and_bounded_stop },
		{ "sink: garbage and long lines", test_sink_garbage },
		{ NULL, NULL },
	};

	signal(SIGPIPE, SIG_IGN);
	/* config_load must not pick up a developer's ./.env. */
	if (chdir("/") != 0)
		return 1;
	/* The tests print their own diagnostics; the mailer's log lines stay quiet. */
	log_set_level(LOG_LEVEL_ERROR);
	g_mime_init();
	return unit_run("mailer", tests);
}
