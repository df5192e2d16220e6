/* mailgen.c: the synthetic mailbox of the benchmarks (mailgen.h). Real English words make
 * the head of the vocabulary and made-up words of three syllables its tail; ranks are
 * drawn from a Zipf-Mandelbrot law, so "the" is in nearly every message and a tail word in
 * a handful. Nothing here is random in the security sense: a seeded splitmix64. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mailgen.h"
#include "util.h"

#define MAILGEN_WORDS 100000
#define MAILGEN_CONTACTS 3000
#define MAILGEN_OPEN_THREADS 64
#define MAILGEN_REFS 10

/* By frequency, roughly as in English mail. */
static const char *const mailgen_common[] = {
	"the", "to", "and", "of", "a", "in", "is", "for", "that", "you", "it", "on", "with",
	"this", "be", "are", "we", "have", "as", "at", "i", "will", "your", "or", "from", "not",
	"by", "can", "if", "all", "an", "our", "please", "but", "was", "so", "they", "would",
	"there", "which", "do", "about", "more", "has", "one", "been", "us", "any", "me",
	"what", "new", "some", "time", "when", "out", "also", "just", "like", "up", "get",
	"know", "thanks", "should", "need", "could", "other", "these", "let", "my", "team",
	"meeting", "next", "week", "work", "here", "see", "make", "only", "then", "than",
	"its", "into", "them", "well", "first", "may", "over", "after", "back", "use", "two",
	"how", "now", "good", "people", "because", "update", "project", "today", "attached",
	"review", "call", "still", "thank", "best", "regards", "hi", "hello", "sure",
	"tomorrow", "monday", "friday", "report", "plan", "question", "send", "sent",
	"check", "issue", "change", "changes", "customer", "client", "data", "release",
	"version", "draft", "document", "budget", "quarter", "deadline", "schedule",
	"available", "agenda", "notes", "feedback", "proposal", "contract", "invoice",
	"payment", "order", "account", "price", "cost", "design", "product", "service",
	"support", "ticket", "bug", "fix", "test", "build", "deploy", "server", "access",
	"office", "travel", "flight", "hotel", "lunch", "dinner", "coffee", "weekend",
	"morning", "afternoon", "evening", "month", "year", "yesterday", "soon", "later",
	"early", "late", "great", "happy", "sorry", "problem", "help", "team's", "manager",
	"board", "sales", "marketing", "finance", "legal", "hiring", "interview", "candidate",
	"offer", "training", "workshop", "conference", "presentation", "slides", "summary",
	"minutes", "action", "items", "status", "progress", "risk", "decision", "approval",
	"approved", "signed", "confirm", "confirmed", "reminder", "invitation", "calendar",
	"room", "link", "password", "login", "security", "policy", "compliance", "audit",
	"vendor", "supplier", "shipment", "delivery", "warehouse", "inventory", "forecast",
	"revenue", "growth", "target", "goal", "metrics", "dashboard", "analysis", "research",
	"survey", "results", "launch", "campaign", "newsletter", "website", "mobile", "app",
	"feature", "request", "priority", "urgent", "important", "asap", "eod", "fyi",
};

/* Consonant-vowel syllables of the made-up tail words. */
static const char *const mailgen_syll[] = {
	"ba", "be", "bo", "da", "de", "di", "do", "fa", "fe", "fi", "ga", "go", "ka", "ke",
	"ki", "ko", "la", "le", "li", "lo", "lu", "ma", "me", "mi", "mo", "na", "ne", "ni",
	"no", "pa", "pe", "pi", "po", "ra", "re", "ri", "ro", "ru", "sa", "se", "si", "so",
	"ta", "te", "ti", "to", "tu", "va", "ve", "vi", "vo", "za", "ze", "zo", "nor", "tan",
	"ber", "lin", "mar", "sol",
};

static const char *const mailgen_phrase_list[] = {
	"quarterly report", "action items", "next steps", "project timeline",
	"budget approval", "customer feedback", "release notes", "sales pipeline",
	"design review", "board meeting", "offsite agenda", "security incident",
	"hiring plan", "product roadmap", "invoice overdue", "contract renewal",
	"performance review", "travel booking", "launch checklist", "weekly sync",
};

static const char *const mailgen_first[] = {
	"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
	"David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
	"Thomas", "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony",
	"Betty", "Mark", "Sandra", "Paul", "Ashley", "Steven", "Emily", "Andrew", "Donna",
	"Kenji", "Priya", "Wei", "Fatima", "Olga", "Lars", "Chloé", "José", "Zoë", "Björn",
};

static const char *const mailgen_last[] = {
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
	"Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
	"Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
	"Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
	"Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
	"Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter",
	"Roberts", "Tanaka", "Sharma", "Zhang", "Müller", "Novak", "Dubois", "Larsen",
};

static const char *const mailgen_domains[] = {
	"acme.example", "globex.example", "initech.example", "umbrella.example",
	"hooli.example", "stark.example", "wayne.example", "wonka.example", "tyrell.example",
	"cyberdyne.example", "gmail.example", "outlook.example", "fastmail.example",
};

/* Automated senders: name, address, List-Id. */
static const char *const mailgen_robots[][3] = {
	{ "GitHub", "notifications@github.example", "mailroom.github.example" },
	{ "Jira", "jira@acme.example", "jira.acme.example" },
	{ "The Weekly Digest", "digest@news.example", "weekly.news.example" },
	{ "Calendar", "calendar-noreply@acme.example", "" },
	{ "Billing", "billing@saas.example", "billing.saas.example" },
	{ "Shop", "orders@shop.example", "" },
};

static const char *const mailgen_attach[][2] = {
	{ "report.pdf", "application/pdf" },
	{ "slides.pptx",
	  "application/vnd.openxmlformats-officedocument.presentationml.presentation" },
	{ "budget.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
	{ "photo.jpg", "image/jpeg" },
	{ "scan.png", "image/png" },
	{ "contract.docx",
	  "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
	{ "invoice.pdf", "application/pdf" },
	{ "notes.txt", "text/plain" },
};

static const char *const mailgen_zones[] = { "-0800", "-0500", "+0000", "+0100", "+0200",
	"+0530", "+0900" };

/* The shared tables: built once. */
static char *mailgen_vocab[MAILGEN_WORDS];
static double *mailgen_cdf_words, *mailgen_cdf_contacts;
static char *mailgen_cname[MAILGEN_CONTACTS], *mailgen_cfull[MAILGEN_CONTACTS],
    *mailgen_caddr[MAILGEN_CONTACTS];

struct mailgen_thread {
	size_t no;
	char *subject;
	char *refs[MAILGEN_REFS];
	size_t nrefs;
	size_t contact;
	int robot;	/* index + 1 in mailgen_robots, 0 for a person */
};

struct mailgen_buf {
	char *s;
	size_t len, cap;
};

struct mailgen {
	uint64_t rng;
	size_t count, next, threads;
	int64_t first, last;
	char *self_name, *self_address, *tag;
	struct mailgen_thread open[MAILGEN_OPEN_THREADS];
	size_t nopen;
	struct mailgen_buf out, body, html;
	struct mailgen_msg msg;
};

static uint64_t
mailgen_rand(struct mailgen *g)
{
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double
mailgen_unit(struct mailgen *g)
{
	return (double)(mailgen_rand(g) >> 11) / 9007199254740992.0;
}

static size_t
mailgen_below(struct mailgen *g, size_t n)
{
	return (size_t)(mailgen_unit(g) * (double)n);
}

static int
mailgen_chance(struct mailgen *g, double p)
{
	return mailgen_unit(g) < p;
}

/* A cumulative Zipf-Mandelbrot distribution over n ranks: weight 1 / (rank + q)^s. */
static double *
mailgen_zipf(size_t n, double q, double s)
{
	double *cdf = xcalloc(n, sizeof(*cdf)), sum = 0;

	for (size_t i = 0; i < n; i++) {
		sum += 1.0 / pow((double)i + q, s);
		cdf[i] = sum;
	}
	for (size_t i = 0; i < n; i++)
		cdf[i] /= sum;
	return cdf;
}

static size_t
mailgen_draw(struct mailgen *g, const double *cdf, size_t n)
{
	double u = mailgen_unit(g);
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
mailgen_tables(void)
{
	size_t nc = MR_ARRAY_LEN(mailgen_common), ns = MR_ARRAY_LEN(mailgen_syll);
	struct mailgen seedonly = { .rng = 42 };

	if (mailgen_cdf_words != NULL)
		return;
	for (size_t i = 0; i < MAILGEN_WORDS; i++) {
		size_t k = i - nc;

		if (i < nc) {
			mailgen_vocab[i] = xstrdup(mailgen_common[i]);
			continue;
		}
		/* Distinct by construction: k written in base ns, three digits. */
		mailgen_vocab[i] = xasprintf("%s%s%s", mailgen_syll[k % ns],
		    mailgen_syll[(k / ns) % ns], mailgen_syll[(k / ns / ns) % ns]);
	}
	mailgen_cdf_words = mailgen_zipf(MAILGEN_WORDS, 2.7, 1.1);
	mailgen_cdf_contacts = mailgen_zipf(MAILGEN_CONTACTS, 1.0, 1.1);
	for (size_t i = 0; i < MAILGEN_CONTACTS; i++) {
		const char *f = mailgen_first[mailgen_below(&seedonly, MR_ARRAY_LEN(mailgen_first))];
		const char *l = mailgen_last[mailgen_below(&seedonly, MR_ARRAY_LEN(mailgen_last))];
		const char *d = mailgen_domains[mailgen_below(&seedonly,
		    MR_ARRAY_LEN(mailgen_domains))];
		char local[128], *p;

		/* Addresses are ASCII: the name's letters, lower case, a number for unicity. */
		snprintf(local, sizeof local, "%s.%s%zu", f, l, i);
		for (p = local; *p != '\0'; p++) {
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
			else if ((unsigned char)*p >= 0x80)
				*p = 'x';
		}
		mailgen_cname[i] = xstrdup(l);
		mailgen_cfull[i] = xasprintf("%s %s", f, l);
		mailgen_caddr[i] = xasprintf("%s@%s", local, d);
	}
}

size_t
mailgen_words(void)
{
	return MAILGEN_WORDS;
}

const char *
mailgen_word(size_t rank)
{
	mailgen_tables();
	return mailgen_vocab[rank % MAILGEN_WORDS];
}

size_t
mailgen_phrases(void)
{
	return MR_ARRAY_LEN(mailgen_phrase_list);
}

const char *
mailgen_phrase(size_t i)
{
	return mailgen_phrase_list[i % MR_ARRAY_LEN(mailgen_phrase_list)];
}

size_t
mailgen_contacts(void)
{
	return MAILGEN_CONTACTS;
}

const char *
mailgen_contact_name(size_t rank)
{
	mailgen_tables();
	return mailgen_cname[rank % MAILGEN_CONTACTS];
}

const char *
mailgen_contact_address(size_t rank)
{
	mailgen_tables();
	return mailgen_caddr[rank % MAILGEN_CONTACTS];
}

/* --- Output ------------------------------------------------------------------------- */

static void
mailgen_add(struct mailgen_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap != 0 ? b->cap : 4096;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->s = xreallocarray(b->s, cap, 1);
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
mailgen_puts(struct mailgen_buf *b, const char *s)
{
	mailgen_add(b, s, strlen(s));
}

static void mailgen_printf(struct mailgen_buf *b, const char *fmt, ...) MR_PRINTF(2, 3);
static void
mailgen_printf(struct mailgen_buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	mailgen_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void
mailgen_base64(struct mailgen_buf *b, const unsigned char *p, size_t n, int wrap)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	size_t col = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		mailgen_add(b, q, 4);
		col += 4;
		if (wrap && col >= 76) {
			mailgen_puts(b, "\r\n");
			col = 0;
		}
	}
	if (wrap && col > 0)
		mailgen_puts(b, "\r\n");
}

/* A display name as a header phrase: quoted, or an encoded word when not ASCII. */
static void
mailgen_name(struct mailgen_buf *b, const char *name)
{
	for (const char *p = name; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80) {
			mailgen_puts(b, "=?UTF-8?B?");
			mailgen_base64(b, (const unsigned char *)name, strlen(name), 0);
			mailgen_puts(b, "?=");
			return;
		}
	}
	mailgen_printf(b, "\"%s\"", name);
}

static void
mailgen_mailbox(struct mailgen_buf *b, const char *name, const char *addr)
{
	mailgen_name(b, name);
	mailgen_printf(b, " <%s>", addr);
}

/* --- Text ----------------------------------------------------------------------------- */

/* A paragraph of words wrapped at 76 columns into t (and as <p> into h when not NULL). */
static void
mailgen_paragraph(struct mailgen *g, struct mailgen_buf *t, struct mailgen_buf *h,
    size_t words)
{
	size_t col = 0, in_sentence = 0, sentence = 6 + mailgen_below(g, 13);

	if (h != NULL)
		mailgen_puts(h, "<p>");
	for (size_t i = 0; i < words; i++) {
		char w[64];
		const char *src;
		size_t n;

		if (mailgen_chance(g, 0.01)) {
			src = mailgen_phrase(mailgen_below(g, mailgen_phrases()));
		} else {
			src = mailgen_vocab[mailgen_draw(g, mailgen_cdf_words, MAILGEN_WORDS)];
		}
		snprintf(w, sizeof w, "%s", src);
		if (in_sentence == 0 && w[0] >= 'a' && w[0] <= 'z')
			w[0] = (char)(w[0] - 'a' + 'A');
		if (++in_sentence >= sentence || i + 1 == words) {
			strncat(w, ".", sizeof w - strlen(w) - 1);
			in_sentence = 0;
			sentence = 6 + mailgen_below(g, 13);
		} else if (mailgen_chance(g, 0.05)) {
			strncat(w, ",", sizeof w - strlen(w) - 1);
		}
		n = strlen(w);
		if (col > 0 && col + 1 + n > 76) {
			mailgen_puts(t, "\r\n");
			col = 0;
		} else if (col > 0) {
			mailgen_puts(t, " ");
			col++;
		}
		mailgen_add(t, w, n);
		col += n;
		if (h != NULL) {
			if (i > 0)
				mailgen_puts(h, " ");
			mailgen_add(h, w, n);
		}
	}
	mailgen_puts(t, "\r\n\r\n");
	if (h != NULL)
		mailgen_puts(h, "</p>\r\n");
}

static void
mailgen_rfc_date(struct mailgen_buf *b, int64_t when, const char *zone)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
		"Aug", "Sep", "Oct", "Nov", "Dec" };
	int sign = zone[0] == '-' ? -1 : 1;
	int off = sign * (((zone[1] - '0') * 10 + (zone[2] - '0')) * 3600 +
	    ((zone[3] - '0') * 10 + (zone[4] - '0')) * 60);
	time_t t = (time_t)(when + off);
	struct tm tm;

	gmtime_r(&t, &tm);
	mailgen_printf(b, "%s, %d %s %d %02d:%02d:%02d %s", days[tm.tm_wday], tm.tm_mday,
	    months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, zone);
}

/* --- Messages --------------------------------------------------------------------------- */

struct mailgen *
mailgen_new(uint64_t seed, size_t count, int64_t first, int64_t last,
    const char *self_name, const char *self_address, const char *tag)
{
	struct mailgen *g = xcalloc(1, sizeof(*g));

	mailgen_tables();
	g->rng = seed;
	g->count = count;
	g->first = first;
	g->last = last > first ? last : first + 1;
	g->self_name = xstrdup(self_name);
	g->self_address = xstrdup(self_address);
	g->tag = xstrdup(tag);
	return g;
}

static void
mailgen_thread_free(struct mailgen_thread *t)
{
	free(t->subject);
	for (size_t i = 0; i < t->nrefs; i++)
		free(t->refs[i]);
	memset(t, 0, sizeof(*t));
}

void
mailgen_free(struct mailgen *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->nopen; i++)
		mailgen_thread_free(&g->open[i]);
	free(g->self_name);
	free(g->self_address);
	free(g->tag);
	free(g->out.s);
	free(g->body.s);
	free(g->html.s);
	free(g);
}

/* The thread of the next message: a reply in a recent one (35%), else a new one. */
static struct mailgen_thread *
mailgen_pick_thread(struct mailgen *g, int *reply)
{
	struct mailgen_thread *t;

	if (g->nopen > 0 && mailgen_chance(g, 0.35)) {
		/* Recent threads are likelier: the square of a uniform leans to the end. */
		double u = mailgen_unit(g);
		size_t i = g->nopen - 1 - (size_t)(u * u * (double)g->nopen);

		*reply = 1;
		return &g->open[i];
	}
	*reply = 0;
	if (g->nopen == MAILGEN_OPEN_THREADS) {
		mailgen_thread_free(&g->open[0]);
		memmove(&g->open[0], &g->open[1], (MAILGEN_OPEN_THREADS - 1) * sizeof(g->open[0]));
		memset(&g->open[MAILGEN_OPEN_THREADS - 1], 0, sizeof(g->open[0]));
		g->nopen--;
	}
	t = &g->open[g->nopen++];
	t->no = g->threads++;
	t->robot = mailgen_chance(g, 0.15) ? 1 + (int)mailgen_below(g,
	    MR_ARRAY_LEN(mailgen_robots)) : 0;
	t->contact = mailgen_draw(g, mailgen_cdf_contacts, MAILGEN_CONTACTS);
	{
		struct mailgen_buf s = { 0 };
		size_t n = 2 + mailgen_below(g, 6);

		if (t->robot != 0)
			mailgen_printf(&s, "[%s] ", mailgen_robots[t->robot - 1][0]);
		for (size_t i = 0; i < n; i++) {
			const char *w = mailgen_vocab[mailgen_draw(g, mailgen_cdf_words,
			    MAILGEN_WORDS)];

			if (i > 0)
				mailgen_puts(&s, " ");
			if (i == 0 && w[0] >= 'a' && w[0] <= 'z') {
				char c = (char)(w[0] - 'a' + 'A');

				mailgen_add(&s, &c, 1);
				mailgen_puts(&s, w + 1);
			} else {
				mailgen_puts(&s, w);
			}
		}
		t->subject = s.s;
	}
	return t;
}

/* The body parts, after the header section's end. */
static void
mailgen_write_body(struct mailgen *g, struct mailgen_msg *m, int reply, const char *quoted)
{
	struct mailgen_buf *o = &g->out;
	size_t words = 15 + (size_t)(-log(1.0 - mailgen_unit(g)) * 110.0);
	int html_only = 0, alternative = 0;
	char boundary[64], inner[64];

	if (words > 2000)
		words = 2000;
	g->body.len = 0;
	g->html.len = 0;
	if (g->body.s != NULL)
		g->body.s[0] = '\0';
	if (mailgen_chance(g, 0.1))
		html_only = 1;
	else if (mailgen_chance(g, 0.25))
		alternative = 1;
	while (words > 0) {
		size_t n = 10 + mailgen_below(g, 70);

		if (n > words)
			n = words;
		mailgen_paragraph(g, &g->body, html_only || alternative ? &g->html : NULL, n);
		words -= n;
	}
	if (reply && quoted != NULL) {
		mailgen_printf(&g->body, "On an earlier day, %s wrote:\r\n> ", quoted);
		mailgen_paragraph(g, &g->body, NULL, 10 + mailgen_below(g, 30));
	}
	if (!m->sent)
		mailgen_puts(&g->body, "-- \r\nSent from my desk\r\n");
	else
		mailgen_printf(&g->body, "-- \r\n%s\r\n", g->self_name);

	snprintf(boundary, sizeof boundary, "=_mix_%zu_%s", m->index, g->tag);
	snprintf(inner, sizeof inner, "=_alt_%zu_%s", m->index, g->tag);
	mailgen_puts(o, "MIME-Version: 1.0\r\n");
	if (m->has_attachment) {
		mailgen_printf(o, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
		    "This is a multi-part message in MIME format.\r\n--%s\r\n", boundary, boundary);
	}
	if (alternative) {
		mailgen_printf(o, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n"
		    "--%s\r\n", inner, inner);
	}
	if (html_only) {
		mailgen_puts(o, "Content-Type: text/html; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n\r\n<html><body>\r\n");
		mailgen_add(o, g->html.s, g->html.len);
		mailgen_puts(o, "</body></html>\r\n");
	} else {
		mailgen_puts(o, "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n\r\n");
		mailgen_add(o, g->body.s, g->body.len);
	}
	if (alternative) {
		mailgen_printf(o, "--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n\r\n<html><body>\r\n", inner);
		mailgen_add(o, g->html.s, g->html.len);
		mailgen_printf(o, "</body></html>\r\n--%s--\r\n", inner);
	}
	if (m->has_attachment) {
		size_t natt = 1 + (mailgen_chance(g, 0.3) ? 1 : 0);

		for (size_t k = 0; k < natt; k++) {
			size_t a = mailgen_below(g, MR_ARRAY_LEN(mailgen_attach));
			/* Sizes spread over 1 to ~60 KB, most of them small. */
			size_t size = 1000 + (size_t)(-log(1.0 - mailgen_unit(g)) * 9000.0);
			unsigned char *data;

			if (size > 60000)
				size = 60000;
			data = xmalloc(size);
			for (size_t i = 0; i < size; i += 8) {
				uint64_t r = mailgen_rand(g);

				memcpy(data + i, &r, size - i < 8 ? size - i : 8);
			}
			mailgen_printf(o, "--%s\r\nContent-Type: %s; name=\"%zu-%s\"\r\n"
			    "Content-Disposition: attachment; filename=\"%zu-%s\"\r\n"
			    "Content-Transfer-Encoding: base64\r\n\r\n", boundary,
			    mailgen_attach[a][1], m->index, mailgen_attach[a][0], m->index,
			    mailgen_attach[a][0]);
			mailgen_base64(o, data, size, 1);
			free(data);
		}
		mailgen_printf(o, "--%s--\r\n", boundary);
	}
}

const struct mailgen_msg *
mailgen_next(struct mailgen *g)
{
	struct mailgen_msg *m = &g->msg;
	struct mailgen_buf *o = &g->out;
	struct mailgen_thread *t;
	const char *from_name, *from_addr, *zone;
	char msgid[128];
	int reply;
	int64_t span = g->last - g->first;

	if (g->next >= g->count)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->index = g->next++;
	o->len = 0;
	t = mailgen_pick_thread(g, &reply);
	m->thread = t->no;
	/* Evenly over the period, in order, with a little jitter. */
	m->date = g->first + (int64_t)((double)span * ((double)m->index + mailgen_unit(g)) /
	    (double)g->count);
	m->received = m->date + 5 + (int64_t)mailgen_below(g, 300);
	m->sent = t->robot == 0 && mailgen_chance(g, reply ? 0.3 : 0.08);
	m->seen = m->sent || mailgen_chance(g, 0.9);
	m->flagged = mailgen_chance(g, 0.03);
	m->has_attachment = t->robot == 0 && mailgen_chance(g, 0.1);
	zone = mailgen_zones[mailgen_below(g, MR_ARRAY_LEN(mailgen_zones))];
	snprintf(msgid, sizeof msgid, "%zu.%08llx.%s@mailgen.example", m->index,
	    (unsigned long long)(mailgen_rand(g) & 0xffffffffu), g->tag);

	if (t->robot != 0) {
		from_name = mailgen_robots[t->robot - 1][0];
		from_addr = mailgen_robots[t->robot - 1][1];
	} else if (m->sent) {
		from_name = g->self_name;
		from_addr = g->self_address;
	} else {
		from_name = mailgen_cfull[t->contact];
		from_addr = mailgen_caddr[t->contact];
	}

	mailgen_puts(o, "Return-Path: <");
	mailgen_puts(o, from_addr);
	mailgen_puts(o, ">\r\nReceived: from mx.example (mx.example [192.0.2.25])\r\n"
	    "\tby imap.example with ESMTPS; ");
	mailgen_rfc_date(o, m->received, "+0000");
	mailgen_puts(o, "\r\nFrom: ");
	mailgen_mailbox(o, from_name, from_addr);
	mailgen_puts(o, "\r\nTo: ");
	if (m->sent) {
		size_t n = 1 + mailgen_below(g, 3);

		mailgen_mailbox(o, mailgen_cfull[t->contact], mailgen_caddr[t->contact]);
		for (size_t i = 1; i < n; i++) {
			size_t c = mailgen_draw(g, mailgen_cdf_contacts, MAILGEN_CONTACTS);

			mailgen_puts(o, ",\r\n ");
			mailgen_mailbox(o, mailgen_cfull[c], mailgen_caddr[c]);
		}
	} else {
		mailgen_mailbox(o, g->self_name, g->self_address);
	}
	mailgen_puts(o, "\r\n");
	if (t->robot == 0 && mailgen_chance(g, 0.3)) {
		size_t n = 1 + mailgen_below(g, 4);

		mailgen_puts(o, "Cc: ");
		for (size_t i = 0; i < n; i++) {
			size_t c = mailgen_draw(g, mailgen_cdf_contacts, MAILGEN_CONTACTS);

			if (i > 0)
				mailgen_puts(o, ",\r\n ");
			mailgen_mailbox(o, mailgen_cfull[c], mailgen_caddr[c]);
		}
		mailgen_puts(o, "\r\n");
	}
	mailgen_printf(o, "Subject: %s%s\r\nDate: ", reply ? "Re: " : "", t->subject);
	mailgen_rfc_date(o, m->date, zone);
	mailgen_printf(o, "\r\nMessage-ID: <%s>\r\n", msgid);
	if (reply && t->nrefs > 0) {
		mailgen_printf(o, "In-Reply-To: <%s>\r\nReferences:", t->refs[t->nrefs - 1]);
		for (size_t i = 0; i < t->nrefs; i++)
			mailgen_printf(o, "%s<%s>", i > 0 ? "\r\n " : " ", t->refs[i]);
		mailgen_puts(o, "\r\n");
	}
	if (t->robot != 0 && mailgen_robots[t->robot - 1][2][0] != '\0') {
		mailgen_printf(o, "List-Id: <%s>\r\nList-Unsubscribe: <https://%s/u>\r\n",
		    mailgen_robots[t->robot - 1][2], mailgen_robots[t->robot - 1][2]);
	}
	mailgen_write_body(g, m, reply, reply ? mailgen_cfull[t->contact] : NULL);

	/* The thread remembers the last ids for the next reply's References. */
	if (t->nrefs == MAILGEN_REFS) {
		free(t->refs[1]);
		memmove(&t->refs[1], &t->refs[2], (MAILGEN_REFS - 2) * sizeof(t->refs[0]));
		t->nrefs--;
	}
	t->refs[t->nrefs++] = xstrdup(msgid);
	m->raw = o->s;
	m->len = o->len;
	return m;
}
