/* xss-render.c: writes the pages the browser tests load to show that the XSS corpus
 * executes nothing: every vector of t/xss/corpus.txt rendered through the template engine
 * (text, attribute, URL and script-data positions) and through the sanitizer (m-html).
 * usage: xss-render CORPUS TEMPLATE_DIR OUT_DIR */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "tmpl.h"
#include "util.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes one corpus line (escapes as t/xss/README says) into out; returns its length. */
static size_t
decode(const char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] != '\\' || i + 1 == n) {
			out[o++] = in[i];
			continue;
		}
		switch (in[i + 1]) {
		case 'n': out[o++] = '\n'; i++; break;
		case 'r': out[o++] = '\r'; i++; break;
		case 't': out[o++] = '\t'; i++; break;
		case '0': out[o++] = '\0'; i++; break;
		case '\\': out[o++] = '\\'; i++; break;
		case 'x':
			if (i + 3 < n && hexval(in[i + 2]) >= 0 && hexval(in[i + 3]) >= 0) {
				out[o++] = (char)(hexval(in[i + 2]) * 16 + hexval(in[i + 3]));
				i += 3;
				break;
			}
			out[o++] = in[i];
			break;
		default:
			out[o++] = in[i];
		}
	}
	return o;
}

static json_t *
read_corpus(const char *path)
{
	FILE *f = fopen(path, "r");
	json_t *vectors = json_array();
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (f == NULL)
		fatal("%s: %s", path, strerror(errno));
	while ((len = getline(&line, &cap, f)) != -1) {
		char *dec;
		size_t n;

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (len == 0 || line[0] == '#')
			continue;
		dec = xmalloc((size_t)len + 1);
		n = decode(line, (size_t)len, dec);
		/* jansson holds UTF-8 only: through JSON text, invalid bytes become U+FFFD (as
		 * a browser shows them) and a NUL stays a NUL. */
		struct arena *a = arena_new(4096);
		struct buf b;

		buf_init(&b, a);
		buf_putc(&b, '"');
		buf_json_escape(&b, dec, n);
		buf_putc(&b, '"');
		json_t *s = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		arena_free(a);
		if (s != NULL)
			json_array_append_new(vectors, s);
		free(dec);
	}
	free(line);
	fclose(f);
	return vectors;
}

static void
write_page(const struct tmpl_set *set, const char *name, const json_t *ctx,
    const char *outdir, const char *file)
{
	struct arena *a = arena_new(1 << 20);
	struct buf b;
	char err[512], path[4096];
	FILE *f;

	buf_init(&b, a);
	if (tmpl_render(set, name, NULL, ctx, &b, err, sizeof(err)) == -1)
		fatal("%s: %s", name, err);
	snprintf(path, sizeof(path), "%s/%s", outdir, file);
	if ((f = fopen(path, "w")) == NULL || fwrite(b.data, 1, b.len, f) != b.len ||
	    fclose(f) != 0)
		fatal("%s: %s", path, strerror(errno));
	printf("%s: %zu bytes\n", path, b.len);
	arena_free(a);
}

int
main(int argc, char **argv)
{
	struct tmpl_set *set;
	json_t *ctx;
	char err[1024];

	if (argc != 4) {
		fprintf(stderr, "usage: xss-render CORPUS TEMPLATE_DIR OUT_DIR\n");
		return 2;
	}
	log_set_program("xss-render");
	if (tmpl_set_load(argv[2], &set, err, sizeof(err)) == -1)
		fatal("%s", err);
	ctx = json_pack("{s:o}", "vectors", read_corpus(argv[1]));
	printf("%zu vectors\n", json_array_size(json_object_get(ctx, "vectors")));
	write_page(set, "template.html", ctx, argv[3], "xss-template.html");
	write_page(set, "sanitizer.html", ctx, argv[3], "xss-sanitizer.html");
	json_decref(ctx);
	tmpl_set_free(set);
	return 0;
}
