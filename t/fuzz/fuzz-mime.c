/* fuzz-mime.c: libFuzzer harness for the MIME reader: any bytes parse into a message
 * whose every string is valid UTF-8 (t/unit/mime-check.h), with a message id, and the
 * same bytes give the same synthetic id. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "../unit/mime-check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_message *m = NULL, *again = NULL;
	const char *why;

	if (mime_parse((const char *)data, size, &m) != 0 || m == NULL)
		abort();
	if ((why = mime_check(m)) != NULL) {
		fprintf(stderr, "fuzz-mime: %s\n", why);
		abort();
	}
	if (m->message_id_synthetic) {
		if (mime_parse((const char *)data, size, &again) != 0 ||
		    strcmp(again->message_id, m->message_id) != 0)
			abort();
		mime_message_free(again);
	}
	mime_message_free(m);
	return 0;
}
