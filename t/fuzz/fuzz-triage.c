/* fuzz-triage.c: libFuzzer harness for the classifier: any bytes, read by mime_parse,
 * classify without a crash into a valid slug with a confidence in [0, 1], at least one
 * reason and at most TRIAGE_MAX_REASONS, every reason valid UTF-8; the same message
 * twice gives the same decision. The first byte picks what the context knows. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "triage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct triage_classifier *fuzz_tc;
static struct triage_model *fuzz_prior;

static void
fuzz_triage_check(const struct triage_decision *d)
{
	if (!triage_slug_valid(d->category) || !(d->confidence >= 0 && d->confidence <= 1) ||
	    d->n_reasons < 1 || d->n_reasons > TRIAGE_MAX_REASONS)
		abort();
	for (size_t i = 0; i < d->n_reasons; i++) {
		if (!mime_utf8_valid(d->reasons[i].text, strlen(d->reasons[i].text)))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const self[] = { "you@example.org", "me@test.example", NULL };
	struct mime_message *m = NULL;
	struct triage_message tm;
	struct triage_context ctx;
	struct triage_decision a, b;
	char err[256];
	unsigned k = size > 0 ? data[0] : 0;

	if (fuzz_tc == NULL) {
		mime_init();
		/* The shipped prior when the tree has it: its words meet the input's. */
		fuzz_prior = triage_model_read(MR_SRCDIR "/share/triage-prior.tsv", err,
		    sizeof err);
		fuzz_tc = triage_classifier_new(fuzz_prior);
	}
	if (mime_parse((const char *)data, size, &m) != 0 || m == NULL)
		abort();
	memset(&ctx, 0, sizeof ctx);
	ctx.self = (k & 1) ? self : NULL;
	ctx.history = (k & 2) != 0;
	ctx.from_sender = (k & 4) ? 3 : 0;
	ctx.to_sender = (k & 8) ? 1 : 0;
	ctx.thread = (k & 16) != 0;
	ctx.user_replied_after = (k & 32) != 0;
	ctx.answered_after = (k & 64) != 0;
	ctx.answers_user = (k & 128) != 0;
	triage_message_from_mime(&tm, m, ctx.self);
	triage_classify(fuzz_tc, &tm, &ctx, &a);
	fuzz_triage_check(&a);
	triage_classify(fuzz_tc, &tm, &ctx, &b);
	if (strcmp(a.category, b.category) != 0 || a.confidence != b.confidence ||
	    a.n_reasons != b.n_reasons)
		abort();
	mime_message_free(m);
	return 0;
}
