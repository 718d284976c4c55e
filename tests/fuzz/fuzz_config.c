/*
 * fuzz_config.c -- libFuzzer target for the configuration loader
 * (config_parse in conf/config.c, and libconfig under it): the input,
 * NUL-terminated, is a configuration file.  Success must give at least
 * one listener; failure a non-empty error message.  Inputs naming
 * "@include" are skipped: they would read the fuzzing host's files (and
 * "/dev/zero" never ends), which is libconfig's business, not ours.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*cfg;
	char		*text, err[CONFIG_ERRLEN];

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (strstr(text, "@include") != NULL) {
		free(text);
		return 0;
	}
	err[0] = '\0';
	cfg = config_parse(text, "fuzz.conf", err, sizeof(err));
	if (cfg != NULL) {
		if (cfg->nlisteners == 0 || cfg->listeners == NULL)
			abort();
		config_free(cfg);
	} else if (err[0] == '\0' ||
	    memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	free(text);
	return 0;
}
