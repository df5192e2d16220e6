/* unit.h: the runner every CUnit test program shares: one suite of named tests, run with
 * the Basic interface; the exit status is non-zero when anything failed. */
#ifndef MAILROOM_T_UNIT_H
#define MAILROOM_T_UNIT_H

#include <stdio.h>
#include <CUnit/Basic.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
};

static inline int
unit_run(const char *suite_name, const struct unit_test *tests)
{
	CU_pSuite suite;
	unsigned failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite(suite_name, NULL, NULL);
	if (suite == NULL)
		goto fail;
	for (; tests->name != NULL; tests++) {
		if (CU_add_test(suite, tests->name, tests->fn) == NULL)
			goto fail;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto fail;
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures != 0;
fail:
	fprintf(stderr, "%s: %s\n", suite_name, CU_get_error_msg());
	CU_cleanup_registry();
	return 1;
}

#endif
