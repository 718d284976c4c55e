/*
 * module.h -- service modules: shared objects that provide a service.
 */
#ifndef PF_MODULE_H
#define PF_MODULE_H

#include <stddef.h>

#include "conf/config.h"
#include "preforkd/preforkd.h"

enum module_mode {
	MODULE_CHECK,		/* verify each and unload it again */
	MODULE_WORKER,		/* keep them: their services serve */
	MODULE_MASTER,		/* keep them and run their master_init */
};

/*
 * Load every module of cfg: loadable, right API version, right name.
 * MODULE_MASTER calls master_init(master) where a module has one.  0, or
 * -1 with "file:line: ..." in err.  Modules already loaded are unloaded
 * first, so a worker drops what it inherited from the master and loads
 * the files as they are now.
 */
int			 module_load(const struct config *cfg,
			    enum module_mode mode, struct pf_emitter *master,
			    char *err, size_t errlen);
const struct pf_service	*module_service(const char *name);
/* The settings of the module giving service (empty if built in). */
const struct pf_settings *module_settings(const char *service);
void			 module_unload(void);

#endif
