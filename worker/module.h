/*
 * module.h -- service modules: shared objects that provide a service.
 */
#ifndef PF_MODULE_H
#define PF_MODULE_H

#include <stddef.h>

#include "conf/config.h"
#include "preforkd/preforkd.h"

/*
 * Load every module of cfg.  With check_only, verify each (loadable,
 * right API version, right name) and unload it again: what the master
 * does before forking.  0, or -1 with "file:line: ..." in err.
 */
int			 module_load(const struct config *cfg, int check_only,
			    char *err, size_t errlen);
const struct pf_service	*module_service(const char *name);
void			 module_unload(void);

#endif
