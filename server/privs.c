/*
 * privs.c -- dropping privileges in the workers.
 *
 * The choice: the master stays root, because on a reload it must be able
 * to bind new (possibly privileged) ports, open log files and load
 * modules; it never touches client data.  Workers, which do, load their
 * modules, chroot if asked, become user/group -- all before they read a
 * byte from the network -- and check that root cannot be regained.
 */
#include <sys/resource.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "server/privs.h"

int
privs_resolve(const struct config *cfg, struct privs *p, char *err,
    size_t errlen)
{
	struct passwd	*pw;
	struct group	*gr;

	p->uid = (uid_t)-1;
	p->gid = (gid_t)-1;
	p->user[0] = '\0';
	if (cfg->user == NULL && cfg->group == NULL)
		return 0;
	if (cfg->user != NULL) {
		if ((pw = getpwnam(cfg->user)) == NULL) {
			snprintf(err, errlen, "%s: user '%s' does not exist",
			    cfg->file, cfg->user);
			return -1;
		}
		p->uid = pw->pw_uid;
		p->gid = pw->pw_gid;
		snprintf(p->user, sizeof(p->user), "%s", cfg->user);
	}
	if (cfg->group != NULL) {
		if ((gr = getgrnam(cfg->group)) == NULL) {
			snprintf(err, errlen, "%s: group '%s' does not exist",
			    cfg->file, cfg->group);
			return -1;
		}
		p->gid = gr->gr_gid;
	}
	if (geteuid() != 0 && ((p->uid != (uid_t)-1 && p->uid != geteuid()) ||
	    (p->gid != (gid_t)-1 && p->gid != getegid()))) {
		snprintf(err, errlen, "%s: user/group need preforkd to start "
		    "as root", cfg->file);
		return -1;
	}
	return 0;
}

int
privs_drop(const struct privs *p)
{
	if (geteuid() != 0)
		return 0;	/* privs_resolve: already who we should be */
	if (p->uid == (uid_t)-1 && p->gid == (gid_t)-1)
		return 0;
	if (p->gid != (gid_t)-1 && (setgroups(1, &p->gid) == -1 ||
	    setresgid(p->gid, p->gid, p->gid) == -1)) {
		log_warn("cannot change group to %ld", (long)p->gid);
		return -1;
	}
	if (p->uid != (uid_t)-1) {
		if (setresuid(p->uid, p->uid, p->uid) == -1) {
			log_warn("cannot become user %s", p->user);
			return -1;
		}
		if (p->uid != 0 && setuid(0) != -1) {
			log_warnx("could regain root after dropping it");
			return -1;
		}
	}
	return 0;
}

int
privs_confine(const struct config *cfg)
{
	struct privs	p;
	char		err[CONFIG_ERRLEN];

	/* Names first: /etc/passwd is outside the new root. */
	if (privs_resolve(cfg, &p, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	if (cfg->chroot != NULL && geteuid() == 0 &&
	    (chroot(cfg->chroot) == -1 || chdir("/") == -1)) {
		log_warn("chroot %s", cfg->chroot);
		return -1;
	}
	return privs_drop(&p);
}

void
privs_rlimit_nofile(int n)
{
	struct rlimit	rl = { (rlim_t)n, (rlim_t)n };

	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		return;
	log_warn("rlimit_nofile %d", n);
	/* Not root: as far as the hard limit allows. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			log_warnx("rlimit_nofile: using the hard limit, %llu",
			    (unsigned long long)rl.rlim_max);
	}
}
