/*
 * module.c -- loading service modules and finding the services they give.
 *
 * A relative path is taken under PF_MODULEDIR.  The master checks each
 * module before a generation starts; workers load theirs after fork,
 * dropping the copies inherited from the master first, so a new
 * generation runs the files as they are on disk now.  The master keeps
 * modules loaded only for their master_init hooks.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/module.h"

#ifndef PF_MODULEDIR
#define PF_MODULEDIR	"/usr/local/lib/preforkd"
#endif

static void			**handles;
static const struct pf_module	**modules;
static size_t			  nmodules;

static int
module_open(const struct config *cfg, const struct module_conf *md,
    void **handle, const struct pf_module **mod, char *err, size_t errlen)
{
	char	path[PATH_MAX];

	if (md->path[0] == '/')
		snprintf(path, sizeof(path), "%s", md->path);
	else
		snprintf(path, sizeof(path), "%s/%s", PF_MODULEDIR, md->path);
	if ((*handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "%s:%d: module %s: %s", cfg->file,
		    md->line, md->name, dlerror());
		return -1;
	}
	*mod = dlsym(*handle, "preforkd_module");
	if (*mod == NULL) {
		snprintf(err, errlen, "%s:%d: module %s: %s defines no "
		    "preforkd_module", cfg->file, md->line, md->name, path);
	} else if ((*mod)->api_version != PREFORKD_API_VERSION) {
		snprintf(err, errlen, "%s:%d: module %s: %s is built for API "
		    "version %u, this preforkd has %u", cfg->file, md->line,
		    md->name, path, (*mod)->api_version, PREFORKD_API_VERSION);
	} else if ((*mod)->service.name == NULL ||
	    strcmp((*mod)->service.name, md->name) != 0 ||
	    (*mod)->service.init == NULL) {
		snprintf(err, errlen, "%s:%d: module %s: %s provides service "
		    "'%s', not '%s'", cfg->file, md->line, md->name, path,
		    (*mod)->service.name ? (*mod)->service.name : "(none)",
		    md->name);
	} else
		return 0;
	dlclose(*handle);
	*handle = NULL;
	return -1;
}

int
module_load(const struct config *cfg, enum module_mode mode,
    struct pf_emitter *master, char *err, size_t errlen)
{
	const struct pf_module	*mod;
	void			*handle;
	size_t			 i;
	int			 check_only = mode == MODULE_CHECK;

	if (!check_only)
		module_unload();
	if (cfg->nmodules == 0)
		return 0;
	if (!check_only) {
		handles = calloc(cfg->nmodules, sizeof(*handles));
		modules = calloc(cfg->nmodules, sizeof(*modules));
		if (handles == NULL || modules == NULL) {
			snprintf(err, errlen, "modules: out of memory");
			module_unload();
			return -1;
		}
	}
	for (i = 0; i < cfg->nmodules; i++) {
		if (module_open(cfg, &cfg->modules[i], &handle, &mod, err,
		    errlen) == -1) {
			if (!check_only)
				module_unload();
			return -1;
		}
		if (check_only) {
			dlclose(handle);
			continue;
		}
		handles[nmodules] = handle;
		modules[nmodules++] = mod;
		if (mode == MODULE_MASTER && mod->master_init != NULL &&
		    mod->master_init(master) == -1) {
			snprintf(err, errlen, "%s:%d: module %s: master_init "
			    "failed", cfg->file, cfg->modules[i].line,
			    cfg->modules[i].name);
			module_unload();
			return -1;
		}
	}
	return 0;
}

const struct pf_service *
module_service(const char *name)
{
	size_t	i;

	for (i = 0; i < nmodules; i++) {
		if (strcmp(modules[i]->service.name, name) == 0)
			return &modules[i]->service;
	}
	return NULL;
}

void
module_unload(void)
{
	size_t	i;

	for (i = 0; i < nmodules; i++)
		dlclose(handles[i]);
	free(handles);
	free(modules);
	handles = NULL;
	modules = NULL;
	nmodules = 0;
}
