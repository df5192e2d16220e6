/* gen-mail.c: writes the benchmarks' synthetic mailbox (mailgen.h) as .eml files, for
 * seeding an IMAP server (./contrib/dev bench's sync benchmark):
 *
 *   gen-mail [-n COUNT] [-s SEED] [-d DAYS] DIR
 *
 * COUNT messages (default 10000) dated over the last DAYS days (default 300), seeded by
 * SEED (default 1), to DIR/000001.eml, ...; prints "COUNT BYTES" on stdout. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mailgen.h"
#include "util.h"

static int
gen_mail_usage(void)
{
	fprintf(stderr, "usage: gen-mail [-n COUNT] [-s SEED] [-d DAYS] DIR\n");
	return 2;
}

int
main(int argc, char **argv)
{
	int64_t count = 10000, seed = 1, days = 300, now = (int64_t)time(NULL);
	unsigned long long bytes = 0;
	const struct mailgen_msg *m;
	struct mailgen *g;
	int ch;

	while ((ch = getopt(argc, argv, "n:s:d:")) != -1) {
		int64_t *v = ch == 'n' ? &count : ch == 's' ? &seed : ch == 'd' ? &days : NULL;

		if (v == NULL || util_parse_int64(optarg, ch == 's' ? 0 : 1,
		    ch == 'n' ? 10000000 : ch == 'd' ? 36500 : INT64_MAX, v) != 0)
			return gen_mail_usage();
	}
	if (argc - optind != 1)
		return gen_mail_usage();
	g = mailgen_new((uint64_t)seed, (size_t)count, now - days * 86400, now - 3600,
	    "Alex Morgan", "alice@mailroom.example", "gen");
	while ((m = mailgen_next(g)) != NULL) {
		char *path = xasprintf("%s/%06zu.eml", argv[optind], m->index + 1);
		FILE *f = fopen(path, "wb");

		if (f == NULL || fwrite(m->raw, 1, m->len, f) != m->len || fclose(f) != 0) {
			fprintf(stderr, "gen-mail: %s: %s\n", path, strerror(errno));
			return 1;
		}
		bytes += m->len;
		free(path);
	}
	mailgen_free(g);
	printf("%lld %llu\n", (long long)count, bytes);
	return 0;
}
