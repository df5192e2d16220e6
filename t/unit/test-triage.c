/* test-triage.c: the embedded classifier (app/triage.c, triage-prior.c, triage-db.c).
 * Without a database: each signal fires on the message made for it and not on the same
 * message without what it looks for; thread state and calendar parts decide; content
 * signals in English, German, French and Spanish; quoted text is not read; reasons are
 * few, sorted and deterministic; models read back what they wrote; the user's model
 * moves a decision; every message of t/mime-corpus classifies. With
 * MAILROOM_TEST_DATABASE_URL (unit-db.h): a stored message's decision is stored, thread
 * state and history come from the store, the sender's category and rules decide, a
 * correction changes the next decision for a similar message of the same sender, and
 * nobody classifies or corrects another user's mail. */
#include "config.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ingest.h"
#include "mime.h"
#include "triage.h"
#include "unit.h"
#include "unit-db.h"
#include "util.h"

#define ME "you@example.org"

static struct triage_classifier *tc;
static const char *const self[] = { ME, NULL };
static int msgno;

/* A message: headers (each ending in "\r\n", may be ""), then the body. */
static char *
mk(const char *from, const char *to, const char *cc, const char *subject,
    const char *headers, const char *body)
{
	msgno++;
	return xasprintf("From: %s\r\nTo: %s\r\n%s%s%sSubject: %s\r\n"
	    "Date: Tue, 05 Mar 2024 10:%02d:00 +0000\r\nMessage-ID: <t%d@test.example>\r\n%s"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", from, to, cc != NULL ? "Cc: " : "",
	    cc != NULL ? cc : "", cc != NULL ? "\r\n" : "", subject, msgno % 60, msgno,
	    headers, body);
}

/* Classifies raw (freed) with ctx (NULL: the user ME, nothing else known). */
static void
run(char *raw, const struct triage_context *ctx, struct triage_decision *d)
{
	struct mime_message *m = NULL;
	struct triage_message tm;
	struct triage_context def;

	memset(&def, 0, sizeof def);
	def.self = self;
	CU_ASSERT_FATAL(mime_parse(raw, strlen(raw), &m) == 0);
	triage_message_from_mime(&tm, m, self);
	triage_classify(tc, &tm, ctx != NULL ? ctx : &def, d);
	mime_message_free(m);
	free(raw);
}

/* Whether the signal named fires for raw (freed) in ctx (NULL: as run's). */
static int
fires(char *raw, const struct triage_context *ctx, const char *signal)
{
	struct mime_message *m = NULL;
	struct triage_message tm;
	struct triage_context def;
	const char **f;
	char name[64];
	size_t n;
	int found = 0;

	memset(&def, 0, sizeof def);
	def.self = self;
	snprintf(name, sizeof name, "f:%s", signal);
	CU_ASSERT_FATAL(mime_parse(raw, strlen(raw), &m) == 0);
	triage_message_from_mime(&tm, m, self);
	n = triage_features(tc, &tm, ctx != NULL ? ctx : &def, &f);
	for (size_t i = 0; i < n; i++)
		found |= strcmp(f[i], name) == 0;
	mime_message_free(m);
	free(raw);
	return found;
}

static int
has_reason(const struct triage_decision *d, const char *signal)
{
	for (size_t i = 0; i < d->n_reasons; i++) {
		if (strcmp(d->reasons[i].signal, signal) == 0)
			return 1;
	}
	return 0;
}

#define CHECK_CAT(d, cat) do { \
	CU_ASSERT_STRING_EQUAL((d).category, cat); \
	if (strcmp((d).category, cat) != 0) \
		fprintf(stderr, "\n  line %d: got %s (%.2f: %s), expected %s\n", __LINE__, \
		    (d).category, (d).confidence, (d).n_reasons > 0 ? \
		    (d).reasons[0].text : "", cat); \
} while (0)

/* Both: the signal fires with what it looks for, and not without. */
#define CHECK_SIGNAL(signal, with, without) do { \
	CU_ASSERT_TRUE(fires(with, NULL, signal)); \
	CU_ASSERT_FALSE(fires(without, NULL, signal)); \
} while (0)

static const char *bob = "Bob Stone <bob@partner.example.net>";

static void
test_slugs(void)
{
	CU_ASSERT_EQUAL(triage_builtin_index("to-respond"), TRIAGE_TO_RESPOND);
	CU_ASSERT_EQUAL(triage_builtin_index("marketing"), TRIAGE_MARKETING);
	CU_ASSERT_EQUAL(triage_builtin_index("spam"), -1);
	CU_ASSERT_EQUAL(triage_builtin_index(NULL), -1);
	CU_ASSERT_TRUE(triage_slug_valid("my-category-2"));
	CU_ASSERT_FALSE(triage_slug_valid("-x"));
	CU_ASSERT_FALSE(triage_slug_valid("Bad"));
	CU_ASSERT_FALSE(triage_slug_valid(""));
	CU_ASSERT_FALSE(triage_slug_valid("a23456789012345678901234567890123456789012"));
}

/* A header signal's case: the message with what it looks for (from, subject, headers),
 * and without. NULL: bob, "News", "". */
static const struct {
	const char *signal;
	const char *from, *subject, *headers;
	const char *from_not, *subject_not, *headers_not;
} header_cases[] = {
	{ "list-unsubscribe", NULL, NULL, "List-Unsubscribe: <mailto:u@x.example>\r\n",
	    NULL, NULL, NULL },
	{ "list-id", NULL, NULL, "List-Id: Dev <dev.lists.example>\r\n", NULL, NULL, NULL },
	{ "precedence-bulk", NULL, NULL, "Precedence: bulk\r\n",
	    NULL, NULL, "Precedence: first-class\r\n" },
	{ "precedence-list", NULL, NULL, "Precedence: list\r\n",
	    NULL, NULL, "Precedence: bulk\r\n" },
	{ "auto-submitted", NULL, NULL, "Auto-Submitted: auto-generated\r\n",
	    NULL, NULL, "Auto-Submitted: no\r\n" },
	{ "auto-reply", NULL, "Out of office", NULL, NULL, "Office", NULL },
	{ "auto-reply", NULL, NULL, "Auto-Submitted: auto-replied\r\n", NULL, NULL, NULL },
	{ "bulk-sender", NULL, NULL, "X-Mailchimp-Campaign: 42\r\n",
	    NULL, NULL, "X-Mailer: Microsoft Outlook 16.0\r\n" },
	{ "bulk-sender", NULL, NULL, "X-Mailer: MailChimp Mailer\r\n", NULL, NULL, NULL },
	{ "email-service", NULL, NULL, "Feedback-ID: 1:2:3:esp\r\n", NULL, NULL, NULL },
	{ "no-reply", "Shop <no-reply@shop.example.com>", NULL, NULL,
	    "Shop <nora@shop.example.com>", NULL, NULL },
	{ "no-reply", "GitHub <notifications@github.com>", NULL, NULL,
	    "GitHub <noted@github.com>", NULL, NULL },
	{ "newsletter-sender", "Shop <newsletter@shop.example.com>", NULL, NULL,
	    "Shop <newsletter-team@shop.example.com>", NULL, NULL },
	{ "importance-high", NULL, NULL, "Importance: High\r\n",
	    NULL, NULL, "Importance: Normal\r\n" },
	{ "calendar-subject", NULL, "Invitation: Weekly sync @ Tue", NULL,
	    NULL, "An invitation to dinner", NULL },
	{ "calendar-subject", NULL, "Einladung: Projektbesprechung", NULL,
	    NULL, "Projektbesprechung", NULL },
};

static char *
mk_header_case(const char *from, const char *subject, const char *headers)
{
	return mk(from != NULL ? from : bob, ME, NULL, subject != NULL ? subject : "News",
	    headers != NULL ? headers : "", "Here is the news of the week.");
}

static void
test_header_signals(void)
{
	for (size_t i = 0; i < MR_ARRAY_LEN(header_cases); i++) {
		int with = fires(mk_header_case(header_cases[i].from, header_cases[i].subject,
		    header_cases[i].headers), NULL, header_cases[i].signal);
		int without = fires(mk_header_case(header_cases[i].from_not,
		    header_cases[i].subject_not, header_cases[i].headers_not), NULL,
		    header_cases[i].signal);

		CU_ASSERT_TRUE(with);
		CU_ASSERT_FALSE(without);
		if (!with || without)
			fprintf(stderr, "\n  case %zu (%s): with %d, without %d\n", i,
			    header_cases[i].signal, with, without);
	}
}

static char *
mk_calendar(const char *method)
{
	return xasprintf("From: %s\r\nTo: %s\r\nSubject: Sync\r\nMessage-ID: <cal%d@x>\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nLet us sync.\r\n"
	    "--b\r\nContent-Type: text/calendar; method=%s\r\n\r\nBEGIN:VCALENDAR\r\n"
	    "METHOD:%s\r\nBEGIN:VEVENT\r\nSUMMARY:Sync\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	    "--b--\r\n", bob, ME, ++msgno, method, method);
}

static void
test_calendar(void)
{
	static const char *const methods[] = { "REQUEST", "CANCEL", "REPLY", "COUNTER" };
	struct triage_decision d;
	char out[16];

	for (size_t i = 0; i < MR_ARRAY_LEN(methods); i++) {
		run(mk_calendar(methods[i]), NULL, &d);
		CHECK_CAT(d, "meeting-update");
		CU_ASSERT_TRUE(has_reason(&d, "calendar"));
		CU_ASSERT_PTR_NOT_NULL(strstr(d.reasons[0].text, methods[i]));
		CU_ASSERT_TRUE(d.confidence >= 0.95 && d.confidence <= 1);
	}
	CU_ASSERT_FALSE(fires(mk(bob, ME, NULL, "Sync", "", "Let us sync."), NULL, "calendar"));
	CU_ASSERT_STRING_EQUAL(triage_calendar_method("BEGIN:VCALENDAR\r\nMETHOD:cancel\r\n",
	    out, sizeof out), "CANCEL");
	CU_ASSERT_PTR_NULL(triage_calendar_method("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n"
	    "METHOD:REQUEST\r\n", out, sizeof out));
	CU_ASSERT_PTR_NULL(triage_calendar_method("", out, sizeof out));
}

static void
test_relation(void)
{
	const char *body = "The report is attached.";
	struct triage_context none, hist;
	struct triage_decision d;

	CHECK_SIGNAL("direct", mk(bob, ME, NULL, "Report", "", body),
	    mk(bob, "a@x.example, b@x.example, c@x.example, " ME, NULL, "Report", "", body));
	CHECK_SIGNAL("to", mk(bob, "a@x.example, b@x.example, c@x.example, " ME, NULL, "Report",
	    "", body), mk(bob, ME, NULL, "Report", "", body));
	CHECK_SIGNAL("only-cc", mk(bob, "team@x.example", ME, "Report", "", body),
	    mk(bob, ME, "team@x.example", "Report", "", body));
	CHECK_SIGNAL("not-recipient", mk(bob, "team@x.example", NULL, "Report", "", body),
	    mk(bob, "team@x.example", ME, "Report", "", body));
	CHECK_SIGNAL("many-recipients", mk(bob, "a@x.example, b@x.example, c@x.example, "
	    "d@x.example, e@x.example, f@x.example", "g@x.example, h@x.example, i@x.example, "
	    "j@x.example, k@x.example", "Report", "", body), mk(bob, ME, NULL, "Report", "", body));
	CHECK_SIGNAL("own-domain", mk("Ann <ann@example.org>", ME, NULL, "Report", "", body),
	    mk(bob, ME, NULL, "Report", "", body));
	/* A public mail service's domain makes no colleagues. */
	memset(&none, 0, sizeof none);
	{
		static const char *const gself[] = { "me@gmail.com", NULL };

		none.self = gself;
		CU_ASSERT_FALSE(fires(mk("Ann <ann@gmail.com>", "me@gmail.com", NULL, "Report", "",
		    body), &none, "own-domain"));
	}
	/* Without the user's addresses, nothing of the relation is known. */
	memset(&none, 0, sizeof none);
	CU_ASSERT_FALSE(fires(mk(bob, ME, NULL, "Report", "", body), &none, "direct"));

	memset(&hist, 0, sizeof hist);
	hist.self = self;
	hist.history = 1;
	CU_ASSERT_TRUE(fires(mk(bob, ME, NULL, "Report", "", body), &hist, "first-time"));
	hist.from_sender = 3;
	CU_ASSERT_FALSE(fires(mk(bob, ME, NULL, "Report", "", body), &hist, "first-time"));
	CU_ASSERT_TRUE(fires(mk(bob, ME, NULL, "Report", "", body), &hist, "known-sender"));
	hist.to_sender = 2;
	CU_ASSERT_TRUE(fires(mk(bob, ME, NULL, "Report", "", body), &hist, "correspondent"));
	run(mk(bob, ME, NULL, "Report", "", body), &hist, &d);
	CU_ASSERT_TRUE(has_reason(&d, "correspondent"));
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reasons[0].text, "2 times") != NULL ? d.reasons[0].text :
	    d.n_reasons > 1 ? strstr(d.reasons[1].text, "2 times") : NULL);
	/* History unknown: no first-time sender. */
	hist.history = 0;
	CU_ASSERT_FALSE(fires(mk(bob, ME, NULL, "Report", "", body), &hist, "first-time"));
	run(mk(bob, ME, NULL, "Report", "", body), NULL, &d);
	CU_ASSERT_FALSE(d.first_time_sender);
	hist.history = 1;
	hist.to_sender = hist.from_sender = 0;
	run(mk(bob, ME, NULL, "Report", "", body), &hist, &d);
	CU_ASSERT_TRUE(d.first_time_sender);
}

static void
test_thread_state(void)
{
	struct triage_context ctx;
	struct triage_decision d;

	memset(&ctx, 0, sizeof ctx);
	ctx.self = self;
	ctx.thread = 1;
	ctx.user_replied_after = 1;
	run(mk(bob, ME, NULL, "Question", "", "Could you send me the report?"), &ctx, &d);
	CHECK_CAT(d, "actioned");
	CU_ASSERT_STRING_EQUAL(d.reasons[0].signal, "replied-after");
	CU_ASSERT_TRUE(d.confidence >= 0.95);

	/* The user's own message: awaiting a reply, or answered since. */
	ctx.user_replied_after = 0;
	run(mk("Me <" ME ">", "bob@partner.example.net", NULL, "Question", "",
	    "Could you send me the report?"), &ctx, &d);
	CHECK_CAT(d, "awaiting-reply");
	CU_ASSERT_STRING_EQUAL(d.reasons[0].text, "You sent the last message of this thread");
	ctx.answered_after = 1;
	run(mk("Me <" ME ">", "bob@partner.example.net", NULL, "Question", "",
	    "Could you send me the report?"), &ctx, &d);
	CHECK_CAT(d, "actioned");

	/* A reply where the user is only copied. */
	CU_ASSERT_TRUE(fires(xasprintf("From: %s\r\nTo: ann@partner.example.net\r\nCc: " ME
	    "\r\nSubject: Re: plan\r\nIn-Reply-To: <p1@x>\r\n\r\nI agree with Ann.\r\n", bob),
	    NULL, "copied-reply"));
	CU_ASSERT_FALSE(fires(xasprintf("From: %s\r\nTo: ann@partner.example.net\r\nCc: " ME
	    "\r\nSubject: plan\r\n\r\nI agree with Ann.\r\n", bob), NULL, "copied-reply"));
	run(xasprintf("From: %s\r\nTo: ann@partner.example.net\r\nCc: " ME
	    "\r\nSubject: Re: plan\r\nIn-Reply-To: <p1@x>\r\n\r\nI agree with Ann, let us keep "
	    "the scope small.\r\n", bob), NULL, &d);
	CHECK_CAT(d, "comment");
	CU_ASSERT_TRUE(has_reason(&d, "copied-reply"));
	CU_ASSERT_TRUE(fires(xasprintf("From: %s\r\nTo: " ME "\r\nSubject: Re: plan\r\n"
	    "References: <p1@x>\r\n\r\nSure.\r\n", bob), NULL, "reply"));

	memset(&ctx, 0, sizeof ctx);
	ctx.self = self;
	ctx.thread = 1;
	ctx.answers_user = 1;
	CU_ASSERT_TRUE(fires(mk(bob, ME, NULL, "Re: plan", "", "Here it is."), &ctx,
	    "answers-you"));
	ctx.answers_user = 0;
	CU_ASSERT_FALSE(fires(mk(bob, ME, NULL, "Re: plan", "", "Here it is."), &ctx,
	    "answers-you"));
}

static void
test_content_languages(void)
{
	static const struct {
		const char *signal, *with, *without;
	} cases[] = {
		{ "question", "Hi Sam,\n\nCould you send me the figures for March?\n\nThanks",
		    "Hi Sam,\n\nThe figures for March are attached.\n\nBest" },
		{ "question", "Hallo Sam,\n\nkannst du mir die Zahlen für März schicken?\n\nGruß",
		    "Hallo Sam,\n\nanbei die Zahlen für März.\n\nGruß" },
		{ "question", "Bonjour,\n\npouvez-vous m'envoyer les chiffres de mars ?\n\nMerci",
		    "Bonjour,\n\nci-joint les chiffres de mars.\n\nCordialement" },
		{ "question", "Hola,\n\n¿puedes enviarme las cifras de marzo?\n\nGracias",
		    "Hola,\n\nadjunto las cifras de marzo.\n\nSaludos" },
		{ "request", "Please review the attached draft.", "The draft is attached." },
		{ "request", "Bitte prüfe den Entwurf im Anhang.", "Der Entwurf ist im Anhang." },
		{ "request", "Merci de relire le document ci-joint.", "Le document est joint." },
		{ "request", "Por favor revisa el documento adjunto.", "El documento va adjunto." },
		{ "deadline", "We need it by Friday.", "We need it at some point." },
		{ "deadline", "Das ist dringend, bis morgen bitte.", "Das hat Zeit." },
		{ "deadline", "C'est urgent, au plus tard demain.", "Rien ne presse." },
		{ "deadline", "Es urgente, lo antes posible.", "No hay prisa." },
		{ "meeting-words", "Can we move the meeting to Thursday?", "The report is done." },
		{ "meeting-words", "Können wir den Termin verschieben?", "Der Bericht ist fertig." },
		{ "meeting-words", "La réunion est reportée.", "Le rapport est prêt." },
		{ "meeting-words", "La reunión se cancela.", "El informe está listo." },
		{ "unsubscribe-link", "Click here to unsubscribe.", "Click here to read more." },
		{ "unsubscribe-link", "Newsletter abbestellen", "Newsletter lesen" },
		{ "promotion", "Get 30% off everything this weekend!", "Get everything this weekend!" },
		{ "promotion", "Soldes : livraison gratuite", "Livraison normale" },
		{ "automated-text", "This is an automated message, please do not reply.",
		    "This is a message from me." },
		{ "automated-text", "Diese E-Mail wurde automatisch generiert.",
		    "Diese E-Mail habe ich geschrieben." },
		{ "service-notice", "Your order has shipped.", "Your idea is great." },
		{ "service-notice", "Votre facture est disponible.", "Votre idée est bonne." },
		{ "fyi-words", "FYI, the office is closed on Friday.",
		    "The office is closed on Friday." },
		{ "fyi-words", "Zur Info: das Büro ist geschlossen.", "Das Büro ist geschlossen." },
		{ "thanks-only", "Thanks a lot, that helped!", "That helped!" },
		{ "thanks-only", "Muchas gracias por todo.", "Todo bien." },
	};

	for (size_t i = 0; i < MR_ARRAY_LEN(cases); i++) {
		int with = fires(mk(bob, ME, NULL, "Hello", "", cases[i].with), NULL,
		    cases[i].signal);
		int without = fires(mk(bob, ME, NULL, "Hello", "", cases[i].without), NULL,
		    cases[i].signal);

		CU_ASSERT_TRUE(with);
		CU_ASSERT_FALSE(without);
		if (!with || without)
			fprintf(stderr, "\n  case %zu (%s): with %d, without %d\n", i,
			    cases[i].signal, with, without);
	}
	/* A long message with a thanks in it is not "only thanks". */
	CU_ASSERT_FALSE(fires(mk(bob, ME, NULL, "Hello", "", "Thanks. Could you send me the "
	    "figures for March?"), NULL, "thanks-only"));
}

static void
test_content_decisions(void)
{
	struct triage_decision d;

	run(mk(bob, ME, NULL, "Figures", "", "Hi Sam,\n\nCould you send me the figures for "
	    "March by Friday?\n\nThanks,\nBob"), NULL, &d);
	CHECK_CAT(d, "to-respond");
	CU_ASSERT_STRING_EQUAL(d.reasons[0].signal, "question");
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reasons[0].text,
	    "'Could you send me the figures for March by Friday?'"));
	run(mk("Deals <deals@shop.example.com>", ME, NULL, "Spring sale", "List-Unsubscribe: "
	    "<https://x.example/u>\r\nPrecedence: bulk\r\n", "Get 30% off everything!\n\n"
	    "Unsubscribe"), NULL, &d);
	CHECK_CAT(d, "marketing");
	CU_ASSERT_TRUE(d.confidence > 0.5);
	run(mk("Shop <no-reply@shop.example.com>", ME, NULL, "Your order", "Auto-Submitted: "
	    "auto-generated\r\n", "Your order has shipped. This is an automated message."),
	    NULL, &d);
	CHECK_CAT(d, "notification");
	run(mk(bob, "team@x.example", ME, "Office", "", "FYI, the office is closed on Friday."),
	    NULL, &d);
	CHECK_CAT(d, "fyi");
	/* Nothing to go on: FYI, unsure. */
	run(mk(bob, ME, NULL, "", "", ""), NULL, &d);
	CHECK_CAT(d, "fyi");
	CU_ASSERT_TRUE(d.confidence < 0.5);
	CU_ASSERT_EQUAL(d.n_reasons, 1);
}

static void
test_quotes_not_read(void)
{
	const char *quoted = "Sounds good.\n\nOn Mon, 4 Mar 2024, Bob wrote:\n> Could you send "
	    "me the figures?\n";
	const char *german = "Passt.\n\nAm 04.03.2024 um 10:00 schrieb Bob:\n> Kannst du mir "
	    "die Zahlen schicken?\n";

	CU_ASSERT_FALSE(fires(mk(bob, ME, NULL, "Re: figures", "", quoted), NULL, "question"));
	CU_ASSERT_FALSE(fires(mk(bob, ME, NULL, "Re: figures", "", german), NULL, "question"));
	CU_ASSERT_FALSE(fires(mk(bob, ME, NULL, "Re: figures", "", "Done.\n> Could you send me "
	    "the figures?\n"), NULL, "question"));
	CU_ASSERT_FALSE(fires(mk(bob, ME, NULL, "Figures", "", "Here.\n-- \nCould you call me? "
	    "+1 555\n"), NULL, "question"));
}

static void
test_language(void)
{
	static const struct {
		const char *text, *lang;
	} cases[] = {
		{ "Could you please send me the report? It is for the meeting.", "english" },
		{ "Kannst du mir bitte den Bericht schicken? Er ist für die Besprechung.", "german" },
		{ "Pouvez-vous m'envoyer le rapport ? C'est pour la réunion de demain.", "french" },
		{ "¿Puedes enviarme el informe? Es para la reunión de mañana con el equipo.",
		    "spanish" },
		{ "", "english" },
	};

	for (size_t i = 0; i < MR_ARRAY_LEN(cases); i++)
		CU_ASSERT_STRING_EQUAL(triage_language(tc, cases[i].text, strlen(cases[i].text)),
		    cases[i].lang);
}

static void
test_features_stemmed(void)
{
	struct mime_message *m = NULL;
	struct triage_message tm;
	const char **f;
	char *raw = mk(bob, ME, NULL, "Meetings", "", "We are meeting about the invoices. "
	    "Wir besprechen die Rechnungen.");
	size_t n;
	int stem = 0, sender = 0, domain = 0, sig = 0, stop = 0;

	CU_ASSERT_FATAL(mime_parse(raw, strlen(raw), &m) == 0);
	triage_message_from_mime(&tm, m, self);
	n = triage_features(tc, &tm, NULL, &f);
	for (size_t i = 0; i < n; i++) {
		stem |= strcmp(f[i], "w:invoic") == 0 || strcmp(f[i], "w:meet") == 0;
		sender |= strcmp(f[i], "s:bob@partner.example.net") == 0;
		domain |= strcmp(f[i], "d:partner.example.net") == 0;
		sig |= strncmp(f[i], "f:", 2) == 0;
		stop |= strcmp(f[i], "w:the") == 0 || strcmp(f[i], "w:are") == 0;
		for (size_t j = 0; j < i; j++)
			CU_ASSERT_STRING_NOT_EQUAL(f[i], f[j]);
	}
	CU_ASSERT_TRUE(stem);
	CU_ASSERT_TRUE(sender);
	CU_ASSERT_TRUE(domain);
	CU_ASSERT_TRUE(sig);
	CU_ASSERT_FALSE(stop);
	mime_message_free(m);
	free(raw);
}

static void
test_reasons_and_determinism(void)
{
	const char *hdr = "List-Unsubscribe: <https://x.example/u>\r\nPrecedence: bulk\r\n"
	    "X-Mailchimp-Campaign: 1\r\nFeedback-ID: 1:2\r\nList-Id: <n.x.example>\r\n";
	const char *body = "Get 30% off! Shop now. Unsubscribe. This is an automated message.";
	struct triage_decision a, b;
	json_t *j;

	run(mk("News <newsletter@shop.example.com>", ME, NULL, "Sale", hdr, body), NULL, &a);
	run(mk("News <newsletter@shop.example.com>", ME, NULL, "Sale", hdr, body), NULL, &b);
	CU_ASSERT_STRING_EQUAL(a.category, b.category);
	CU_ASSERT_DOUBLE_EQUAL(a.confidence, b.confidence, 1e-12);
	CU_ASSERT_EQUAL(a.n_reasons, b.n_reasons);
	CU_ASSERT_TRUE(a.n_reasons >= 3 && a.n_reasons <= TRIAGE_MAX_REASONS);
	for (size_t i = 0; i < a.n_reasons; i++) {
		CU_ASSERT_STRING_EQUAL(a.reasons[i].text, b.reasons[i].text);
		if (i > 0)
			CU_ASSERT_TRUE(a.reasons[i - 1].weight >= a.reasons[i].weight);
	}
	CU_ASSERT_STRING_EQUAL(a.reasons[0].signal, "bulk-sender");
	j = triage_reasons_json(&a);
	CU_ASSERT_EQUAL(json_array_size(j), a.n_reasons);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(j, 0)), a.reasons[0].text);
	json_decref(j);
	CU_ASSERT_TRUE(a.outreach > 0.5);
}

static void
test_model_io(void)
{
	struct triage_model *m = triage_model_new(), *back;
	char path[] = "/tmp/mailroom-triage-XXXXXX", err[256];
	int fd = mkstemp(path);
	FILE *f;
	size_t n1, n2;
	char *t1, *t2;

	CU_ASSERT_FATAL(fd >= 0);
	for (int i = 0; i < 3000; i++) {
		char name[32];

		snprintf(name, sizeof name, "w:word%d", i);
		triage_model_add(m, name, i % 2 ? "fyi" : "my-own", 1 + i % 3);
	}
	triage_model_add(m, "w:x", "Not A Slug", 1);
	triage_model_add_docs(m, "fyi", 10, 100);
	triage_model_add_docs(m, "my-own", 5, 50);
	CU_ASSERT_EQUAL(triage_model_vocabulary(m), 3000);
	f = fdopen(fd, "w");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(triage_model_write(m, f), 0);
	fclose(f);
	back = triage_model_read(path, err, sizeof err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	CU_ASSERT_EQUAL(triage_model_vocabulary(back), 3000);
	/* The same model, the same bytes. */
	f = open_memstream(&t1, &n1);
	triage_model_write(m, f);
	fclose(f);
	f = open_memstream(&t2, &n2);
	triage_model_write(back, f);
	fclose(f);
	CU_ASSERT_EQUAL(n1, n2);
	CU_ASSERT_TRUE(n1 == n2 && memcmp(t1, t2, n1) == 0);
	free(t1);
	free(t2);
	triage_model_free(back);
	triage_model_free(m);

	f = fopen(path, "w");
	fprintf(f, "D\tfyi\t1\t1\nF\tw:a\tfyi\tlots\n");
	fclose(f);
	CU_ASSERT_PTR_NULL(triage_model_read(path, err, sizeof err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2: not a line"));
	remove(path);
	CU_ASSERT_PTR_NULL(triage_model_read(path, err, sizeof err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot read"));
}

/* The user's model: counts of a sender's mail in a category move the next decision. */
static void
test_user_model(void)
{
	struct triage_model *um = triage_model_new();
	struct triage_context ctx;
	struct triage_decision d;
	const char *hdr = "List-Unsubscribe: <https://x.example/u>\r\n";
	const char *body = "This week: our new features and a story from a customer.";
	const char *from = "Acme News <news@acme.example.com>";

	memset(&ctx, 0, sizeof ctx);
	ctx.self = self;
	run(mk(from, ME, NULL, "Acme weekly", hdr, body), &ctx, &d);
	CHECK_CAT(d, "marketing");
	triage_model_add(um, "s:news@acme.example.com", "fyi", 1);
	triage_model_add(um, "d:acme.example.com", "fyi", 1);
	triage_model_add_docs(um, "fyi", 1, 2);
	ctx.user_model = um;
	run(mk(from, ME, NULL, "Acme weekly", hdr, body), &ctx, &d);
	CHECK_CAT(d, "fyi");
	CU_ASSERT_STRING_EQUAL(d.reasons[0].signal, "sender-learned");
	CU_ASSERT_STRING_EQUAL(d.reasons[0].text, "You moved 1 message from this sender to FYI");
	/* Another sender of the domain: the domain's count, weaker. */
	CU_ASSERT_TRUE(fires(mk("Acme <offers@acme.example.com>", ME, NULL, "x", "", body),
	    &ctx, "email-service") == 0);
	run(mk("Acme <team@acme.example.com>", ME, NULL, "Acme weekly", hdr, body), &ctx, &d);
	CU_ASSERT_TRUE(has_reason(&d, "domain-learned"));
	/* A category of the user's own. */
	triage_model_add(um, "s:bob@partner.example.net", "clients", 2);
	triage_model_add_docs(um, "clients", 2, 4);
	run(mk(bob, ME, NULL, "Hello", "", "The report is attached."), &ctx, &d);
	CHECK_CAT(d, "clients");
	triage_model_free(um);
}

/* The prior's words: a model trained on a few messages moves a message with no signal. */
static void
test_prior_words(void)
{
	struct triage_model *prior = triage_model_new();
	struct triage_classifier *c2;
	struct triage_decision d;
	struct triage_context ctx;
	struct mime_message *m = NULL;
	struct triage_message tm;
	const char **f;
	char *raw;
	size_t n;
	static const char *const texts[][2] = {
		{ "notification", "Statement of account balance ledger quarterly" },
		{ "notification", "Account balance ledger statement monthly" },
		{ "fyi", "Picnic lunch garden weather sunny" },
		{ "fyi", "Garden picnic weather lunch holiday" },
	};

	memset(&ctx, 0, sizeof ctx);
	for (size_t i = 0; i < MR_ARRAY_LEN(texts); i++) {
		raw = mk("x <x@y.example>", "z@y.example", NULL, "", "", texts[i][1]);
		CU_ASSERT_FATAL(mime_parse(raw, strlen(raw), &m) == 0);
		triage_message_from_mime(&tm, m, NULL);
		n = triage_features(tc, &tm, &ctx, &f);
		for (size_t j = 0; j < n; j++)
			triage_model_add(prior, f[j], texts[i][0], 1);
		triage_model_add_docs(prior, texts[i][0], 1, (double)n);
		mime_message_free(m);
		free(raw);
	}
	c2 = triage_classifier_new(prior);
	raw = mk("q <q@r.example>", "s@r.example", NULL, "", "", "Your ledger balance statement");
	CU_ASSERT_FATAL(mime_parse(raw, strlen(raw), &m) == 0);
	triage_message_from_mime(&tm, m, NULL);
	triage_classify(c2, &tm, &ctx, &d);
	CHECK_CAT(d, "notification");
	CU_ASSERT_TRUE(has_reason(&d, "model"));
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reasons[0].text, "typical of Notification"));
	triage_classify(tc, &tm, &ctx, &d);
	CHECK_CAT(d, "fyi");
	mime_message_free(m);
	free(raw);
	triage_classifier_free(c2);
	triage_model_free(prior);
}

static size_t corpus_files;

static void
corpus_dir(struct triage_classifier *c, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d)) != NULL) {
		char *path, *raw;
		struct stat st;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			corpus_dir(c, path);
		} else if (S_ISREG(st.st_mode) && (f = fopen(path, "rb")) != NULL) {
			struct mime_message *m = NULL;
			struct triage_message tm;
			struct triage_decision dec;
			struct triage_context ctx;
			size_t n;

			raw = xmalloc((size_t)st.st_size + 1);
			n = fread(raw, 1, (size_t)st.st_size, f);
			fclose(f);
			CU_ASSERT_FATAL(mime_parse(raw, n, &m) == 0);
			memset(&ctx, 0, sizeof ctx);
			ctx.self = self;
			triage_message_from_mime(&tm, m, self);
			triage_classify(c, &tm, &ctx, &dec);
			CU_ASSERT_TRUE(triage_slug_valid(dec.category));
			CU_ASSERT_TRUE(dec.confidence >= 0 && dec.confidence <= 1);
			CU_ASSERT_TRUE(dec.n_reasons >= 1 && dec.n_reasons <= TRIAGE_MAX_REASONS);
			for (size_t i = 0; i < dec.n_reasons; i++)
				CU_ASSERT_TRUE(mime_utf8_valid(dec.reasons[i].text,
				    strlen(dec.reasons[i].text)));
			mime_message_free(m);
			free(raw);
			corpus_files++;
		}
		free(path);
	}
	closedir(d);
}

/* Every message of the malformed corpus classifies, with the shipped prior. */
static void
test_mime_corpus(void)
{
	const char *srcdir = getenv("srcdir");
	const char *top = srcdir != NULL && *srcdir != '\0' ? srcdir : MR_SRCDIR;
	char *dir = xasprintf("%s/t/mime-corpus", top), *prior_path;
	char err[256];
	struct triage_model *prior;
	struct triage_classifier *c;

	prior_path = xasprintf("%s/share/triage-prior.tsv", top);
	prior = triage_model_read(prior_path, err, sizeof err);
	CU_ASSERT_PTR_NOT_NULL(prior);
	c = triage_classifier_new(prior);
	corpus_dir(c, dir);
	CU_ASSERT_TRUE(corpus_files > 200);
	triage_classifier_free(c);
	triage_model_free(prior);
	free(prior_path);
	free(dir);
}

/* ---- with a database ---- */

static PGconn *conn;
static int64_t user1, user2, acct1, acct2;
static char *db_prior;

static char *
qv(const char *fmt, ...) MR_PRINTF(1, 2);
static char *
qv(const char *fmt, ...)
{
	char sql[4096];
	va_list ap;
	PGresult *r;
	char *v;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
	v = xstrdup(PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0 ? "<none>" :
	    PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

#define CHECK_Q(expected, ...) do { \
	char *v_ = qv(__VA_ARGS__); \
	CU_ASSERT_STRING_EQUAL(v_, expected); \
	if (strcmp(v_, expected) != 0) \
		fprintf(stderr, "\n  line %d: got \"%s\", expected \"%s\"\n", __LINE__, v_, \
		    expected); \
	free(v_); \
} while (0)

/* Stores raw (freed) as a message of user1 (received at date); returns its row. */
static int64_t
store(char *raw, int64_t date)
{
	static const char *const selfs[] = { ME, NULL };
	char err[512];
	int inserted = 0;
	int64_t row = 0;

	if (ingest_message_row(conn, user1, acct1, 0, 0, raw, strlen(raw), NULL, date, selfs,
	    &inserted, &row, err, sizeof err) != 0)
		fprintf(stderr, "\n  ingest: %s\n", err);
	CU_ASSERT_EQUAL(inserted, 1);
	free(raw);
	return row;
}

static char *
mk_at(const char *from, const char *to, const char *subject, const char *headers,
    const char *body, const char *date)
{
	return xasprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"
	    "Message-ID: <db%d@test.example>\r\n%s\r\n%s\r\n", from, to, subject, date, ++msgno,
	    headers, body);
}

static void
classify_ok(int64_t row, struct triage_decision *d)
{
	char err[512];

	if (triage_db_classify(conn, user1, row, d, err, sizeof err) != 0) {
		fprintf(stderr, "\n  classify: %s\n", err);
		CU_FAIL("triage_db_classify");
	}
}

static void
db_reset(void)
{
	unit_db_exec(conn, "DELETE FROM mail_messages");
	unit_db_exec(conn, "DELETE FROM mail_threads");
	unit_db_exec(conn, "DELETE FROM triage_features");
	unit_db_exec(conn, "DELETE FROM triage_totals");
	unit_db_exec(conn, "DELETE FROM sender_categories");
	unit_db_exec(conn, "DELETE FROM triage_rules");
}

static void
test_db_classify_store(void)
{
	struct triage_decision d;
	char err[512];
	int64_t row;

	db_reset();
	row = store(mk_at("Deals <deals@shop.example.com>", ME, "Spring sale",
	    "List-Unsubscribe: <https://x.example/u>\r\nPrecedence: bulk\r\n",
	    "Get 30% off everything! Unsubscribe", "Tue, 05 Mar 2024 10:00:00 +0000"), 0);
	/* Another user's message: refused, nothing stored. */
	CU_ASSERT_EQUAL(triage_db_classify(conn, user2, row, &d, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not the user's"));
	CHECK_Q("", "SELECT triaged_at FROM mail_messages WHERE id = %" PRId64, row);
	classify_ok(row, &d);
	CHECK_CAT(d, "marketing");
	CHECK_Q("marketing classifier true", "SELECT category || ' ' || category_source || ' ' || "
	    "(triaged_at IS NOT NULL) FROM mail_messages WHERE id = %" PRId64, row);
	CHECK_Q("t", "SELECT category_confidence BETWEEN 0.5 AND 1 FROM mail_messages "
	    "WHERE id = %" PRId64, row);
	CHECK_Q("t", "SELECT jsonb_typeof(category_reasons) = 'array' AND "
	    "jsonb_array_length(category_reasons) >= 2 FROM mail_messages WHERE id = %" PRId64,
	    row);
	CHECK_Q("marketing", "SELECT t.category FROM mail_threads t JOIN mail_messages m ON "
	    "m.thread_id = t.id WHERE m.id = %" PRId64, row);
}

static void
test_db_thread_and_history(void)
{
	struct triage_decision d;
	int64_t q, sent, answer;

	db_reset();
	q = store(mk_at(bob, ME, "Figures", "", "Could you send me the figures for March?",
	    "Tue, 05 Mar 2024 10:00:00 +0000"), 0);
	classify_ok(q, &d);
	CHECK_CAT(d, "to-respond");
	/* The user answers: the question is actioned, the answer awaits a reply. */
	sent = store(xasprintf("From: Me <" ME ">\r\nTo: %s\r\nSubject: Re: Figures\r\n"
	    "Date: Tue, 05 Mar 2024 11:00:00 +0000\r\nMessage-ID: <db-sent@test.example>\r\n"
	    "In-Reply-To: <db%d@test.example>\r\n\r\nHere they are. Could you confirm?\r\n",
	    bob, msgno), 0);
	classify_ok(q, &d);
	CHECK_CAT(d, "actioned");
	classify_ok(sent, &d);
	CHECK_CAT(d, "awaiting-reply");
	CHECK_Q("awaiting-reply", "SELECT t.category FROM mail_threads t JOIN mail_messages m "
	    "ON m.thread_id = t.id WHERE m.id = %" PRId64, sent);
	/* Bob answers: the sent message is answered, and Bob's answer answers the user, who
	 * has written to him before. */
	answer = store(xasprintf("From: %s\r\nTo: " ME "\r\nSubject: Re: Figures\r\n"
	    "Date: Tue, 05 Mar 2024 12:00:00 +0000\r\nMessage-ID: <db-answer@test.example>\r\n"
	    "In-Reply-To: <db-sent@test.example>\r\n\r\nConfirmed, thanks. Can we meet on "
	    "Friday?\r\n", bob), 0);
	classify_ok(sent, &d);
	CHECK_CAT(d, "actioned");
	classify_ok(answer, &d);
	CHECK_CAT(d, "to-respond");
	CU_ASSERT_TRUE(has_reason(&d, "answers-you") || has_reason(&d, "correspondent"));
	CHECK_Q("to-respond", "SELECT t.category FROM mail_threads t JOIN mail_messages m "
	    "ON m.thread_id = t.id WHERE m.id = %" PRId64, answer);
}

static void
test_db_sender_and_rules(void)
{
	struct triage_decision d;
	int64_t row;
	char *rule;

	db_reset();
	row = store(mk_at(bob, ME, "Figures", "", "Could you send me the figures?",
	    "Tue, 05 Mar 2024 10:00:00 +0000"), 0);
	unit_db_exec(conn, "INSERT INTO sender_categories (user_id, sender, category) "
	    "SELECT id, 'partner.example.net', 'fyi' FROM users WHERE email = 'one@example.org'");
	classify_ok(row, &d);
	CHECK_CAT(d, "fyi");
	CU_ASSERT_STRING_EQUAL(d.source, "sender");
	/* The address itself wins over its domain; NULL: allowed, classified as usual. */
	unit_db_exec(conn, "INSERT INTO sender_categories (user_id, sender, category) "
	    "SELECT id, 'bob@partner.example.net', NULL FROM users "
	    "WHERE email = 'one@example.org'");
	classify_ok(row, &d);
	CHECK_CAT(d, "to-respond");
	CU_ASSERT_STRING_EQUAL(d.source, "classifier");

	/* A rule decides before anything else. */
	rule = qv("INSERT INTO triage_rules (user_id, name, position, conditions, category) "
	    "SELECT id, 'Figures', 1, '[{\"field\": \"subject\", \"op\": \"contains\", "
	    "\"value\": \"figures\"}]', 'notification' FROM users "
	    "WHERE email = 'one@example.org' RETURNING id");
	classify_ok(row, &d);
	CHECK_CAT(d, "notification");
	CU_ASSERT_STRING_EQUAL(d.source, "rule");
	CU_ASSERT_EQUAL(d.rule_id, strtoll(rule, NULL, 10));
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reasons[0].text, "Figures"));
	CHECK_Q("ruletrue", "SELECT category_source || (category_rule_id = %s)::text FROM "
	    "mail_messages WHERE id = %" PRId64, rule, row);
	free(rule);
}

/* A correction changes the next decision for a similar message of the same sender,
 * and not for another sender's. */
static void
test_db_correction(void)
{
	struct triage_decision d;
	char err[512];
	int64_t first, second, other;
	const char *hdr = "List-Unsubscribe: <https://news.acme.example.com/u>\r\n";

	db_reset();
	first = store(mk_at("Acme News <news@acme.example.com>", ME, "Acme weekly: new features",
	    hdr, "This week: three new features and a customer story. Unsubscribe",
	    "Tue, 05 Mar 2024 10:00:00 +0000"), 0);
	classify_ok(first, &d);
	CHECK_CAT(d, "marketing");

	/* Refused: another user's message, a category the user does not have. */
	CU_ASSERT_EQUAL(triage_learn(conn, user2, first, "marketing", "fyi", err, sizeof err),
	    -1);
	CU_ASSERT_EQUAL(triage_learn(conn, user1, first, "marketing", "no-such", err,
	    sizeof err), -1);
	CU_ASSERT_EQUAL(triage_learn(conn, user1, first, "marketing", "Bad Slug", err,
	    sizeof err), -1);
	CHECK_Q("0", "SELECT count(*) FROM triage_features");

	CU_ASSERT_EQUAL_FATAL(triage_learn(conn, user1, first, "marketing", "fyi", err,
	    sizeof err), 0);
	CHECK_Q("1", "SELECT documents FROM triage_totals WHERE category = 'fyi'");
	CHECK_Q("1", "SELECT count FROM triage_features WHERE category = 'fyi' AND "
	    "feature = 's:news@acme.example.com'");
	CHECK_Q("0", "SELECT count(*) FROM triage_features WHERE user_id = %" PRId64, user2);

	second = store(mk_at("Acme News <news@acme.example.com>", ME, "Acme weekly: what's new",
	    hdr, "This week: two new features and an interview. Unsubscribe",
	    "Tue, 12 Mar 2024 10:00:00 +0000"), 0);
	classify_ok(second, &d);
	CHECK_CAT(d, "fyi");
	CU_ASSERT_STRING_EQUAL(d.reasons[0].signal, "sender-learned");
	other = store(mk_at("Other News <news@other.example.com>", ME, "Other weekly",
	    hdr, "This week: two new features and an interview. Unsubscribe",
	    "Tue, 12 Mar 2024 10:00:00 +0000"), 0);
	classify_ok(other, &d);
	CHECK_CAT(d, "marketing");

	/* Inside the caller's transaction: no transaction of its own. */
	unit_db_exec(conn, "BEGIN");
	CU_ASSERT_EQUAL(triage_learn(conn, user1, second, "fyi", "to-respond", err, sizeof err),
	    0);
	unit_db_exec(conn, "ROLLBACK");
	CHECK_Q("<none>", "SELECT documents FROM triage_totals WHERE category = 'to-respond'");
}

static void
test_db_pending_and_explain(void)
{
	struct triage_decision d;
	struct mime_message *m = NULL;
	char err[512], *raw;
	long done = 0;

	db_reset();
	store(mk_at(bob, ME, "A", "", "Could you call me?", "Tue, 05 Mar 2024 10:00:00 +0000"),
	    0);
	store(mk_at(bob, ME, "B", "", "FYI: done.", "Tue, 05 Mar 2024 11:00:00 +0000"), 0);
	CU_ASSERT_EQUAL(triage_db_pending(conn, user1, 100, &done, err, sizeof err), 0);
	CU_ASSERT_EQUAL(done, 2);
	CHECK_Q("0", "SELECT count(*) FROM mail_messages WHERE triaged_at IS NULL");
	CU_ASSERT_EQUAL(triage_db_pending(conn, 0, 100, &done, err, sizeof err), 0);
	CU_ASSERT_EQUAL(done, 0);

	/* A message that is not stored, against the user's store: Bob is a known sender. */
	raw = mk(bob, ME, NULL, "C", "", "The report is attached.");
	CU_ASSERT_FATAL(mime_parse(raw, strlen(raw), &m) == 0);
	CU_ASSERT_EQUAL(triage_db_explain(conn, user1, m, &d, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(d.source, "classifier");
	CU_ASSERT_FALSE(d.first_time_sender);
	CU_ASSERT_EQUAL(triage_db_explain(NULL, 0, m, &d, err, sizeof err), 0);
	CHECK_Q("2", "SELECT count(*) FROM mail_messages");
	mime_message_free(m);
	free(raw);
}

static void
db_setup(void)
{
	char *v;

	conn = unit_db_connect();
	unit_db_exec(conn, "INSERT INTO users (email, display_name, password_hash) VALUES "
	    "('one@example.org', 'One', '$argon2id$x'), ('two@example.org', 'Two', "
	    "'$argon2id$x')");
	v = qv("SELECT id FROM users WHERE email = 'one@example.org'");
	user1 = strtoll(v, NULL, 10);
	free(v);
	v = qv("SELECT id FROM users WHERE email = 'two@example.org'");
	user2 = strtoll(v, NULL, 10);
	free(v);
	v = qv("INSERT INTO mail_accounts (user_id, address) VALUES (%" PRId64 ", '" ME "') "
	    "RETURNING id", user1);
	acct1 = strtoll(v, NULL, 10);
	free(v);
	v = qv("INSERT INTO mail_accounts (user_id, address) VALUES (%" PRId64 ", "
	    "'two@example.org') RETURNING id", user2);
	acct2 = strtoll(v, NULL, 10);
	free(v);
	(void)acct2;
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "slugs", test_slugs },
		{ "header signals", test_header_signals },
		{ "calendar parts decide", test_calendar },
		{ "relation and history", test_relation },
		{ "thread state", test_thread_state },
		{ "content in four languages", test_content_languages },
		{ "content decisions", test_content_decisions },
		{ "quoted text is not read", test_quotes_not_read },
		{ "language detection", test_language },
		{ "features are stemmed and distinct", test_features_stemmed },
		{ "reasons sorted, deterministic", test_reasons_and_determinism },
		{ "model text round trip", test_model_io },
		{ "the user's model moves decisions", test_user_model },
		{ "the prior's words", test_prior_words },
		{ "malformed corpus", test_mime_corpus },
		{ NULL, NULL },
	};
	static const struct unit_test db_tests[] = {
		{ "db: classify and store", test_db_classify_store },
		{ "db: thread state and history", test_db_thread_and_history },
		{ "db: sender category and rules", test_db_sender_and_rules },
		{ "db: a correction teaches", test_db_correction },
		{ "db: pending and explain", test_db_pending_and_explain },
		{ NULL, NULL },
	};
	const char *srcdir = getenv("srcdir");
	int rc;

	mime_init();
	/* Signals alone, so that what is tested is the signals (the prior is tested by
	 * test_prior_words and the corpus). */
	tc = triage_classifier_new(NULL);
	rc = unit_run("triage", tests);
	if (rc == 0 && unit_db_create() != NULL) {
		/* The database tests run with the shipped prior, as the programs do. */
		db_prior = xasprintf("%s/share/triage-prior.tsv", srcdir != NULL && *srcdir !=
		    '\0' ? srcdir : MR_SRCDIR);
		triage_db_use_prior(db_prior);
		db_setup();
		rc = unit_run("triage-db", db_tests);
		PQfinish(conn);
		unit_db_drop();
		triage_db_shutdown();
		free(db_prior);
	} else if (rc == 0) {
		fprintf(stderr, "skip: the database tests (MAILROOM_TEST_DATABASE_URL not set)\n");
	}
	triage_classifier_free(tc);
	return rc;
}
