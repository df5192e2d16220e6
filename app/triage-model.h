/* triage-model.h: the inside of struct triage_model, shared by the classifier
 * (triage.c), the models' storage (triage-prior.c) and the store's side (triage-db.c). */
#ifndef MAILROOM_TRIAGE_MODEL_H
#define MAILROOM_TRIAGE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "triage.h"

struct triage_count {
	unsigned short cls;
	double n;
};

struct triage_entry {
	uint64_t h;                    /* 0: an empty slot */
	char *name;
	struct triage_count *c;        /* the classes that counted it */
	size_t n, cap;
};

struct triage_model {
	size_t nclass;
	char slug[TRIAGE_MAX_CLASSES][TRIAGE_SLUG_SIZE];
	double docs[TRIAGE_MAX_CLASSES];      /* documents counted per class */
	double features[TRIAGE_MAX_CLASSES];  /* features counted per class */
	struct triage_entry *tab;             /* a power of two of slots, at most 3/4 used */
	size_t cap, used;
};

uint64_t triage_hash(const char *s, size_t n);
int triage_model_find_class(const struct triage_model *m, const char *slug);
const struct triage_entry *triage_model_lookup(const struct triage_model *m,
    const char *name, uint64_t h);
double triage_entry_count(const struct triage_entry *e, int k);

#endif
