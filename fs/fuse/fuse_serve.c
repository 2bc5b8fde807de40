/* The mount-and-loop sequence of layerfs and regfs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/fuse_serve.h"
#include "layerfs/background.h"

struct fuse_args lf_fuse_args(char **argv, const char *prog, int debug, const char *opts)
{
	int argc = 0;
	argv[argc++] = (char *)prog;
	if (debug)
		argv[argc++] = "-d";
	if (opts && *opts) {
		argv[argc++] = "-o";
		argv[argc++] = (char *)opts;
	}
	return (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
}

int lf_fuse_serve(struct fuse_session *se, const char *prog, const char *mountpoint,
		  int foreground, int single_thread)
{
	int status = 1;
	if (fuse_set_signal_handlers(se))
		return 1;
	if (fuse_session_mount(se, mountpoint)) {
		fprintf(stderr, "%s: %s: cannot mount\n", prog, mountpoint);
		goto handlers;
	}
	/* The mount is live: only now may the caller go on. */
	fuse_daemonize(foreground);
	/* in the process that stays: its own threads may start now */
	lf_background_allow();
	if (single_thread) {
		status = fuse_session_loop(se) < 0;
	} else {
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(cfg, 0);
		fuse_loop_cfg_set_max_threads(cfg, 16);
		/* idle workers go (each holds a request buffer of a MiB) */
		fuse_loop_cfg_set_idle_threads(cfg, 2);
		/* A signal ends the loop with its number: a clean stop. */
		status = fuse_session_loop_mt(se, cfg) < 0;
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_session_unmount(se);
handlers:
	fuse_remove_signal_handlers(se);
	return status;
}

struct lf_fuse_thread {
	struct fuse_session *se;
	struct fuse_loop_config *cfg;
	pthread_t thread;
};

static void *serve(void *arg)
{
	struct lf_fuse_thread *t = arg;
	fuse_session_loop_mt(t->se, t->cfg);
	return NULL;
}

int lf_fuse_serve_start(struct fuse_session *se, const char *prog, const char *mountpoint,
			int max_threads, struct lf_fuse_thread **out)
{
	struct lf_fuse_thread *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	t->se = se;
	if (fuse_session_mount(se, mountpoint)) {
		fprintf(stderr, "%s: %s: cannot mount\n", prog, mountpoint);
		free(t);
		return -1;
	}
	t->cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(t->cfg, 0);
	fuse_loop_cfg_set_max_threads(t->cfg, (unsigned)max_threads);
	/* idle workers go, but for two: with one, every request that finds
	 * the other worker busy makes a thread and ends it after (a walk
	 * through a session made thousands a second) */
	fuse_loop_cfg_set_idle_threads(t->cfg, 2);
	if (pthread_create(&t->thread, NULL, serve, t)) {
		fuse_session_unmount(se);
		fuse_loop_cfg_destroy(t->cfg);
		free(t);
		return -1;
	}
	*out = t;
	return 0;
}

void lf_fuse_serve_stop(struct lf_fuse_thread *t)
{
	if (!t)
		return;
	fuse_session_exit(t->se);
	/* the workers wait in read(); unmounting ends it with ENODEV */
	fuse_session_unmount(t->se);
	pthread_join(t->thread, NULL);
	fuse_loop_cfg_destroy(t->cfg);
	free(t);
}

void lf_fuse_reply_sized(fuse_req_t req, ssize_t n, const char *buf, size_t size)
{
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

int lf_access_arg(const char *prog, const char *arg, int *posix)
{
	if (strcmp(arg, "posix") && strcmp(arg, "windows")) {
		fprintf(stderr, "%s: --access is windows or posix, not '%s'\n", prog, arg);
		return 2;
	}
	*posix = !strcmp(arg, "posix");
	return 0;
}
