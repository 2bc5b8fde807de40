/* The mount-and-loop sequence of layerfs and regfs. */
#include <stdio.h>

#include "fuse_serve.h"

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
	if (single_thread) {
		status = fuse_session_loop(se) < 0;
	} else {
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(cfg, 0);
		fuse_loop_cfg_set_max_threads(cfg, 16);
		/* A signal ends the loop with its number: a clean stop. */
		status = fuse_session_loop_mt(se, cfg) < 0;
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_session_unmount(se);
handlers:
	fuse_remove_signal_handlers(se);
	return status;
}
