/*
 * check.h -- what start-up needs of the system, checked without binding or
 * writing anything: preforkd -t, start-up and every reload run it.
 */
#ifndef PF_CHECK_H
#define PF_CHECK_H

#include <stddef.h>

#include "conf/config.h"

/*
 * The log file, access logs, pidfile, admin socket and Unix listeners can
 * be created where they are asked for (their directory exists; an
 * existing file is of the right kind), the user, group and chroot exist.  0, or -1 with
 * "file:line: message" in err.
 */
int	config_check_runtime(const struct config *cfg, char *err,
	    size_t errlen);
/* Load and fully check a file: syntax, schema, runtime, modules, service
 * names.  NULL with "file:line: message" in err. */
struct config	*config_load_checked(const char *file, char *err,
		    size_t errlen);

#endif
