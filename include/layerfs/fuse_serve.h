/* Serving a FUSE session, the same for every program of the project. */
#ifndef LF_FUSE_SERVE_H
#define LF_FUSE_SERVE_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

/* The arguments libfuse parses: the program's name, -d, -o OPTIONS
 * (argv: room for 4). */
struct fuse_args lf_fuse_args(char **argv, const char *prog, int debug, const char *opts);

/* Mount se at MOUNTPOINT, go to the background once the mount is live
 * (unless foreground), serve until unmounted or signalled (a signal is a
 * clean stop), unmount. PROG names the program in messages. Returns an
 * exit status. */
int lf_fuse_serve(struct fuse_session *se, const char *prog, const char *mountpoint,
		  int foreground, int single_thread);

/* Reply to getxattr/listxattr: n bytes of buf (size 0 asks the length),
 * or -errno. */
void lf_fuse_reply_sized(fuse_req_t req, ssize_t n, const char *buf, size_t size);
/* --access ARG of layerfs and regfs: *posix set; 0, or 2 (said on stderr). */
int lf_access_arg(const char *prog, const char *arg, int *posix);

/* For a daemon with many mounts: mount se and serve it from threads of
 * its own (at most max_threads); stop unmounts and waits for them. */
struct lf_fuse_thread;
int lf_fuse_serve_start(struct fuse_session *se, const char *prog, const char *mountpoint,
			int max_threads, struct lf_fuse_thread **out);
void lf_fuse_serve_stop(struct lf_fuse_thread *t);

#endif
