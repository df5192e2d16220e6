/* fuzz-mbox.c: libFuzzer harness for the streaming mbox reader: the input is the file,
 * read through fmemopen, with a small maximum message size and the default one. Every
 * message yielded must be non-empty and NUL-terminated, no larger than the bytes it came
 * from; offsets must increase without overlap; the bytes consumed never exceed the input,
 * and equal it when the reader reaches the end. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbox.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz-mbox: %s\n", what);
	abort();
}

static void
fuzz_read(const uint8_t *data, size_t size, size_t max)
{
	FILE *f = fmemopen((void *)(uintptr_t)data, size, "rb");
	struct mbox_reader *r;
	struct mbox_message m;
	uint64_t prev_end = 0, total = 0;
	char err[256];
	int rc, n = 0;

	if (f == NULL)
		fuzz_fail("fmemopen");
	r = mbox_open(f, max);
	while ((rc = mbox_next(r, &m, err, sizeof(err))) == 1) {
		if (m.len == 0 || m.data == NULL || m.data[m.len] != '\0' || m.from_line == NULL)
			fuzz_fail("an empty or unterminated message");
		if (max != 0 && m.len > max)
			fuzz_fail("a message over the maximum");
		if (m.offset < prev_end || m.end <= m.offset || m.end > size)
			fuzz_fail("offsets out of order");
		if (m.len > m.end - m.offset)
			fuzz_fail("a message larger than its bytes");
		if (strlen(m.from_line) > MBOX_FROM_LINE_MAX)
			fuzz_fail("a separator line too long");
		if (n == 0 && mbox_skipped(r) == 0 && m.offset != 0)
			fuzz_fail("a first message not at the start");
		total += m.len;
		prev_end = m.end;
		n++;
		mbox_message_free(&m);
		if (mbox_offset(r) > size)
			fuzz_fail("more consumed than the input");
	}
	if (total > size || mbox_offset(r) > size)
		fuzz_fail("more consumed than the input");
	if (rc == 0 && mbox_offset(r) != size)
		fuzz_fail("the end before the input's end");
	if (rc == -1) {
		if (err[0] == '\0')
			fuzz_fail("an error without a message");
		if (mbox_next(r, &m, err, sizeof(err)) != -1)
			fuzz_fail("a reader that goes on after an error");
	} else if (rc != 0) {
		fuzz_fail("a bad return code");
	}
	mbox_close(r);
	fclose(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready) {
		log_set_level(LOG_LEVEL_ERROR);
		ready = 1;
	}
	if (size == 0)
		return 0;
	fuzz_read(data, size, 64);
	fuzz_read(data, size, 0);
	return 0;
}
