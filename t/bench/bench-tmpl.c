/* bench-tmpl.c: time to render an inbox page of 50 rows with the template engine, against
 * the same page built by hand with buffer concatenation and hand escaping. Prints
 * tmpl_render_us, concat_render_us and their ratio on stdout; conditions go to stderr. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "arena.h"
#include "tmpl.h"

#define BENCH_ROWS 50
#define BENCH_WARMUP 2000
#define BENCH_BATCHES 31
#define BENCH_PER_BATCH 400

static const char bench_layout[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\">\n"
	"<head>\n"
	"<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<title m-slot=\"title\">mailroom</title>\n"
	"<link rel=\"stylesheet\" href=\"/static/css/app.css\">\n"
	"</head>\n"
	"<body>\n"
	"<header><nav aria-label=\"Main\"><a href=\"/\">mailroom</a>\n"
	"<span class=\"user\" m-text=\"user.name\">Ann</span></nav></header>\n"
	"<main id=\"main\" m-slot=\"content\"></main>\n"
	"</body>\n"
	"</html>\n";

static const char bench_page[] =
	"<!DOCTYPE html>\n"
	"<html m-layout=\"layout.html\">\n"
	"<head><title m-fill=\"title\" m-text=\"'Inbox (' ~ unread ~ ')'\">Inbox</title>"
	"</head>\n"
	"<body>\n"
	"<div m-fill=\"content\">\n"
	"<h1>Inbox</h1>\n"
	"<table class=\"inbox\">\n"
	"<tbody m-fragment=\"rows\">\n"
	"<tr m-each=\"m in messages\" m-include=\"partials/row.html\" m-with=\"m\"></tr>\n"
	"</tbody>\n"
	"</table>\n"
	"</div>\n"
	"</body>\n"
	"</html>\n";

static const char bench_row[] =
	"<tr class=\"row\" m-class-unread=\"unread\" m-attr-data-id=\"id\">\n"
	"<td class=\"sender\" m-attr-title=\"sender.email\" m-text=\"sender.name\">Ann</td>\n"
	"<td class=\"subject\"><a m-attr-href=\"'/messages/' ~ id\" "
	"m-text=\"subject\">Subject</a>\n"
	"<span class=\"snippet\" m-text=\"snippet\">Snippet</span></td>\n"
	"<td><span class=\"chip\" m-class=\"'chip-' ~ category.slug\" "
	"m-text=\"category.label\">To respond</span></td>\n"
	"<td><time m-attr-datetime=\"date_iso\" m-text=\"date\">09:30</time>"
	"<b class=\"dot\" m-if=\"unread\">new</b></td>\n"
	"</tr>\n";

/* What a handler has after its query: the rows of the page. */
struct bench_row {
	int id;
	int unread;
	const char *sender_name, *sender_email, *subject, *snippet, *date, *date_iso;
	const char *cat_slug, *cat_label;
};

static struct bench_row bench_rows[BENCH_ROWS];

static void
bench_make_rows(void)
{
	static const char *const names[] = {
		"Ann O'Neil", "Bob & Co <sales>", "Chloé Durand", "\"Dev\" Team", "Eve"
	};
	static const char *const subjects[] = {
		"Re: Q3 numbers & the plan for <next> week",
		"Lunch on Thursday?",
		"Your invoice #4411 is ready",
		"Meeting moved to 15:00 — new room",
		"Weekly digest: 12 updates"
	};
	static const char *const cats[][2] = {
		{ "to-respond", "To respond" }, { "fyi", "FYI" }, { "comment", "Comment" },
		{ "notification", "Notification" }, { "meeting-update", "Meeting update" },
		{ "awaiting-reply", "Awaiting reply" }, { "actioned", "Actioned" },
		{ "marketing", "Marketing" }
	};

	for (int i = 0; i < BENCH_ROWS; i++) {
		struct bench_row *r = &bench_rows[i];

		r->id = 100000 + i * 7;
		r->unread = i % 3 == 0;
		r->sender_name = names[i % 5];
		r->sender_email = i % 2 ? "ann.oneil@example.org" : "billing@shop.example";
		r->subject = subjects[i % 5];
		r->snippet = "Hi, following up on what we said yesterday: could you send the "
		    "figures & the draft before Friday? Thanks <3";
		r->date = i < 10 ? "09:30" : "Mon 12";
		r->date_iso = "2024-05-01T09:30:00Z";
		r->cat_slug = cats[i % 8][0];
		r->cat_label = cats[i % 8][1];
	}
}

/* The template's context: what a handler builds from the rows. */
static json_t *
bench_context(void)
{
	json_t *msgs = json_array();
	int unread = 0;

	for (int i = 0; i < BENCH_ROWS; i++) {
		const struct bench_row *r = &bench_rows[i];

		unread += r->unread;
		json_array_append_new(msgs, json_pack("{si sb s{ss ss} ss ss ss ss s{ss ss}}",
		    "id", r->id, "unread", r->unread,
		    "sender", "name", r->sender_name, "email", r->sender_email,
		    "subject", r->subject, "snippet", r->snippet,
		    "date", r->date, "date_iso", r->date_iso,
		    "category", "slug", r->cat_slug, "label", r->cat_label));
	}
	return json_pack("{s{ss}si so}", "user", "name", "Ann", "unread", unread,
	    "messages", msgs);
}

/* Hand escaping, as such code is usually written: no UTF-8 validation. */
static void
bench_escape(struct buf *b, const char *s, int attr)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *rep;

		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = attr ? "&quot;" : NULL; break;
		case '\'': rep = attr ? "&#39;" : NULL; break;
		default: rep = NULL; break;
		}
		if (rep == NULL)
			continue;
		buf_append(b, run, (size_t)(s - run));
		buf_puts(b, rep);
		run = s + 1;
	}
	buf_puts(b, run);
}

static void
bench_concat(struct buf *b)
{
	int unread = 0;

	for (int i = 0; i < BENCH_ROWS; i++)
		unread += bench_rows[i].unread;
	buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
	buf_printf(b, "<title>Inbox (%d)</title>\n", unread);
	buf_puts(b, "<link rel=\"stylesheet\" href=\"/static/css/app.css\">\n</head>\n<body>\n"
	    "<header><nav aria-label=\"Main\"><a href=\"/\">mailroom</a>\n"
	    "<span class=\"user\">");
	bench_escape(b, "Ann", 0);
	buf_puts(b, "</span></nav></header>\n<main id=\"main\">\n<h1>Inbox</h1>\n"
	    "<table class=\"inbox\">\n<tbody>\n");
	for (int i = 0; i < BENCH_ROWS; i++) {
		const struct bench_row *r = &bench_rows[i];

		buf_printf(b, "<tr class=\"row%s\" data-id=\"%d\">\n"
		    "<td class=\"sender\" title=\"", r->unread ? " unread" : "", r->id);
		bench_escape(b, r->sender_email, 1);
		buf_puts(b, "\">");
		bench_escape(b, r->sender_name, 0);
		buf_printf(b, "</td>\n<td class=\"subject\"><a href=\"/messages/%d\">", r->id);
		bench_escape(b, r->subject, 0);
		buf_puts(b, "</a>\n<span class=\"snippet\">");
		bench_escape(b, r->snippet, 0);
		buf_puts(b, "</span></td>\n<td><span class=\"chip chip-");
		bench_escape(b, r->cat_slug, 1);
		buf_puts(b, "\">");
		bench_escape(b, r->cat_label, 0);
		buf_puts(b, "</span></td>\n<td><time datetime=\"");
		bench_escape(b, r->date_iso, 1);
		buf_puts(b, "\">");
		bench_escape(b, r->date, 0);
		buf_puts(b, "</time>");
		if (r->unread)
			buf_puts(b, "<b class=\"dot\">new</b>");
		buf_puts(b, "</td>\n</tr>\n");
	}
	buf_puts(b, "</tbody>\n</table>\n</main>\n</body>\n</html>\n");
}

/* Whitespace runs between tags removed, the others made one space. */
static char *
bench_squeeze(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (out == NULL)
		abort();
	while (*s != '\0') {
		if (strchr(" \t\r\n", *s) == NULL) {
			*o++ = *s++;
			continue;
		}
		while (*s != '\0' && strchr(" \t\r\n", *s) != NULL)
			s++;
		if (o > out && o[-1] != '>' && *s != '<' && *s != '\0')
			*o++ = ' ';
	}
	*o = '\0';
	return out;
}

static double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One request's work: a fresh arena region, a buffer, the page. */
static size_t
bench_once(int tmpl, const struct tmpl_set *set, const json_t *ctx, struct arena *a)
{
	struct buf out;
	char err[128];

	arena_reset(a);
	buf_init(&out, a);
	if (!tmpl)
		bench_concat(&out);
	else if (tmpl_render(set, "pages/inbox.html", NULL, ctx, &out, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "bench-tmpl: %s\n", err);
		exit(1);
	}
	return out.len;
}

int
main(void)
{
	const struct tmpl_source src[] = {
		{ "layout.html", bench_layout, sizeof(bench_layout) - 1 },
		{ "pages/inbox.html", bench_page, sizeof(bench_page) - 1 },
		{ "partials/row.html", bench_row, sizeof(bench_row) - 1 },
	};
	struct arena *a = arena_new(64 * 1024);
	double t[2][BENCH_BATCHES], ctx_us, start;
	struct tmpl_set *set;
	struct buf page, hand;
	char err[512], *sq1, *sq2;
	size_t bytes = 0;
	json_t *ctx;
	FILE *f;
	double load[3] = { 0, 0, 0 };

	if (tmpl_set_load_mem(src, MR_ARRAY_LEN(src), &set, err, sizeof(err)) == -1) {
		fprintf(stderr, "bench-tmpl: %s\n", err);
		return 1;
	}
	bench_make_rows();
	start = bench_now();
	for (int i = 0; i < 1000; i++)
		json_decref(bench_context());
	ctx_us = (bench_now() - start) / 1000;
	ctx = bench_context();

	/* Both pages must say the same thing before their times mean anything. */
	buf_init(&page, a);
	buf_init(&hand, a);
	if (tmpl_render(set, "pages/inbox.html", NULL, ctx, &page, err, sizeof(err)) == -1) {
		fprintf(stderr, "bench-tmpl: %s\n", err);
		return 1;
	}
	bench_concat(&hand);
	sq1 = bench_squeeze(page.data);
	sq2 = bench_squeeze(hand.data);
	if (strcmp(sq1, sq2) != 0) {
		fprintf(stderr, "bench-tmpl: the two pages differ\n--- template ---\n%s\n"
		    "--- by hand ---\n%s\n", sq1, sq2);
		return 1;
	}
	free(sq1);
	free(sq2);

	for (int i = 0; i < BENCH_WARMUP; i++) {
		bytes = bench_once(1, set, ctx, a);
		bench_once(0, set, ctx, a);
	}
	/* Interleaved batches, so that both see the same machine load; medians. */
	for (int b = 0; b < BENCH_BATCHES; b++) {
		for (int k = 0; k < 2; k++) {
			start = bench_now();
			for (int i = 0; i < BENCH_PER_BATCH; i++)
				bench_once(k == 0, set, ctx, a);
			t[k][b] = (bench_now() - start) / BENCH_PER_BATCH;
		}
	}
	qsort(t[0], BENCH_BATCHES, sizeof(double), bench_cmp);
	qsort(t[1], BENCH_BATCHES, sizeof(double), bench_cmp);

	printf("tmpl_render_us %.2f\n", t[0][BENCH_BATCHES / 2]);
	printf("concat_render_us %.2f\n", t[1][BENCH_BATCHES / 2]);
	printf("ratio %.2f\n", t[0][BENCH_BATCHES / 2] / t[1][BENCH_BATCHES / 2]);
	if ((f = fopen("/proc/loadavg", "r")) != NULL) {
		if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
			load[0] = 0;
		fclose(f);
	}
	fprintf(stderr, "bench-tmpl: %d rows, %zu bytes per page, median of %d batches of %d "
	    "renders after %d warm-up (tmpl min %.2f max %.2f us, "
	    "concat min %.2f max %.2f us); "
	    "pages equal but for whitespace between tags; building the context from the rows "
	    "takes %.2f us more; load average %.2f\n", BENCH_ROWS, bytes, BENCH_BATCHES,
	    BENCH_PER_BATCH, BENCH_WARMUP, t[0][0], t[0][BENCH_BATCHES - 1], t[1][0],
	    t[1][BENCH_BATCHES - 1], ctx_us, load[0]);
	json_decref(ctx);
	tmpl_set_free(set);
	arena_free(a);
	return 0;
}
