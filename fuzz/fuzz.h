/*
 * fuzz.h: what the libFuzzer harnesses of fuzz/ share.  Each harness
 * drives one parser of src/ with bytes chosen by the fuzzer and checks
 * what must hold for every input (round trips, bounds); a broken
 * property aborts, which libFuzzer reports as a crash with the input.
 */
#ifndef IETD_FUZZ_H
#define IETD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <sanitizer/common_interface_defs.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

/*
 * A property that must hold: abort with where and what.  The message goes
 * where the sanitizers report, which stays open when libFuzzer runs with
 * -close_fd_mask=2 to silence the daemon's log.
 */
#define FUZZ_STR2(x) #x
#define FUZZ_STR(x) FUZZ_STR2(x)
#define FUZZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		__sanitizer_report_error_summary(__FILE__ ":"		\
		    FUZZ_STR(__LINE__) ": property broken: " #cond);	\
		abort();						\
	}								\
} while (0)

/*
 * The next part of an input split at the byte sep: *part and *len,
 * advancing *data and *size past the separator.  0 when nothing is left.
 */
static inline int
fuzz_split(const uint8_t **data, size_t *size, uint8_t sep,
    const uint8_t **part, size_t *len)
{
	size_t	 i;

	if (*data == NULL)
		return (0);
	for (i = 0; i < *size && (*data)[i] != sep; i++)
		;
	*part = *data;
	*len = i;
	if (i < *size) {
		*data += i + 1;
		*size -= i + 1;
	} else {
		*data = NULL;
		*size = 0;
	}
	return (1);
}

#endif
