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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "worker/module.h"

#ifndef PF_MODULEDIR
#define PF_MODULEDIR	"/usr/local/lib/preforkd"
#endif

/* What a module's check() and init see of its configuration. */
struct pf_settings {
	const struct config	*cfg;
	const struct module_conf *md;
	char			*err;		/* check(): where fail writes */
	size_t			 errlen;
};

static void			**handles;
static const struct pf_module	**modules;
static struct pf_settings	 *settings;
static size_t			  nmodules;
static const struct pf_settings	  no_settings;

static const struct setting *
setting_find(const struct pf_settings *s, const char *key)
{
	size_t	i;

	for (i = 0; s->md != NULL && i < s->md->nsettings; i++) {
		if (strcmp(s->md->settings[i].key, key) == 0)
			return &s->md->settings[i];
	}
	return NULL;
}

int
pf_setting_int(const struct pf_settings *s, const char *key, long long *out)
{
	const struct setting	*st = setting_find(s, key);

	if (st == NULL || st->type != SETTING_INT)
		return -1;
	*out = st->i;
	return 0;
}

int
pf_setting_float(const struct pf_settings *s, const char *key, double *out)
{
	const struct setting	*st = setting_find(s, key);

	if (st == NULL || (st->type != SETTING_FLOAT &&
	    st->type != SETTING_INT))
		return -1;
	*out = st->f;
	return 0;
}

int
pf_setting_bool(const struct pf_settings *s, const char *key, int *out)
{
	const struct setting	*st = setting_find(s, key);

	if (st == NULL || st->type != SETTING_BOOL)
		return -1;
	*out = (int)st->i;
	return 0;
}

int
pf_setting_str(const struct pf_settings *s, const char *key,
    const char **out)
{
	const struct setting	*st = setting_find(s, key);

	if (st == NULL || st->type != SETTING_STR)
		return -1;
	*out = st->s;
	return 0;
}

int
pf_settings_fail(const struct pf_settings *s, const char *key,
    const char *fmt, ...)
{
	const struct setting	*st = key != NULL ? setting_find(s, key) : NULL;
	va_list			 ap;
	int			 n, line;

	if (s->err == NULL || s->md == NULL)
		return -1;
	line = st != NULL ? st->line : s->md->settings_line ?
	    s->md->settings_line : s->md->line;
	n = snprintf(s->err, s->errlen, "%s:%d: module %s: %s%s", s->cfg->file,
	    line, s->md->name, key != NULL ? key : "", key != NULL ? ": " : "");
	if (n > 0 && (size_t)n < s->errlen) {
		va_start(ap, fmt);
		vsnprintf(s->err + n, s->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
pf_settings_only(const struct pf_settings *s, const char *const known[])
{
	size_t	i, k;

	for (i = 0; s->md != NULL && i < s->md->nsettings; i++) {
		for (k = 0; known[k] != NULL; k++) {
			if (strcmp(known[k], s->md->settings[i].key) == 0)
				break;
		}
		if (known[k] == NULL)
			return pf_settings_fail(s, s->md->settings[i].key,
			    "unknown setting");
	}
	return 0;
}

/* The loaded module serving `service`, or -1. */
static ssize_t
module_index(const char *service)
{
	size_t	i;

	for (i = 0; i < nmodules; i++) {
		if (strcmp(modules[i]->service.name, service) == 0)
			return (ssize_t)i;
	}
	return -1;
}

const struct pf_settings *
module_settings(const char *service)
{
	ssize_t	i = module_index(service);

	return i == -1 ? &no_settings : &settings[i];
}

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
		    md->name, path, (*mod)->api_version,
		    (unsigned int)PREFORKD_API_VERSION);
	} else if ((*mod)->service.name == NULL ||
	    strcmp((*mod)->service.name, md->name) != 0 ||
	    (*mod)->service.init == NULL) {
		snprintf(err, errlen, "%s:%d: module %s: %s provides service "
		    "'%s', not '%s'", cfg->file, md->line, md->name, path,
		    (*mod)->service.name ? (*mod)->service.name : "(none)",
		    md->name);
	} else if ((*mod)->check != NULL) {
		struct pf_settings	s = { cfg, md, err, errlen };

		snprintf(err, errlen, "%s:%d: module %s: settings refused",
		    cfg->file, md->settings_line ? md->settings_line :
		    md->line, md->name);
		if ((*mod)->check(&s) == 0)
			return 0;
	} else if (md->nsettings > 0) {
		snprintf(err, errlen, "%s:%d: module %s takes no settings",
		    cfg->file, md->settings_line, md->name);
	} else
		return 0;
	dlclose(*handle);
	*handle = NULL;
	return -1;
}

/* Unload after a failure; hooks that modules already registered on the
 * master's emitter would otherwise point into unmapped code. */
static void
module_abort(struct pf_emitter *master)
{
	if (master != NULL)
		pf_off_all(master, -1);
	module_unload();
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
		settings = calloc(cfg->nmodules, sizeof(*settings));
		if (handles == NULL || modules == NULL || settings == NULL) {
			snprintf(err, errlen, "modules: out of memory");
			module_unload();
			return -1;
		}
	}
	for (i = 0; i < cfg->nmodules; i++) {
		if (module_open(cfg, &cfg->modules[i], &handle, &mod, err,
		    errlen) == -1) {
			if (!check_only)
				module_abort(master);
			return -1;
		}
		if (check_only) {
			dlclose(handle);
			continue;
		}
		handles[nmodules] = handle;
		settings[nmodules].cfg = cfg;
		settings[nmodules].md = &cfg->modules[i];
		modules[nmodules++] = mod;
		if (mode == MODULE_MASTER && mod->master_init != NULL &&
		    mod->master_init(master) == -1) {
			snprintf(err, errlen, "%s:%d: module %s: master_init "
			    "failed", cfg->file, cfg->modules[i].line,
			    cfg->modules[i].name);
			module_abort(master);
			return -1;
		}
	}
	return 0;
}

const struct pf_service *
module_service(const char *name)
{
	ssize_t	i = module_index(name);

	return i == -1 ? NULL : &modules[i]->service;
}

void
module_unload(void)
{
	size_t	i;

	for (i = 0; i < nmodules; i++)
		dlclose(handles[i]);
	free(handles);
	free(modules);
	free(settings);
	handles = NULL;
	modules = NULL;
	settings = NULL;
	nmodules = 0;
}
