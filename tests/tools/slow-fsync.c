/* LD_PRELOAD for tests: a disk that takes its time to make data durable.
 * fsync and fdatasync of a file whose path holds LF_SLOW_FSYNC_MATCH
 * wait LF_SLOW_FSYNC_MS first, then do the real call. The registry
 * view's test uses it to show that a change's save (a temporary,
 * fsynced, renamed) holds no lock a reader needs. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void maybe_wait(int fd)
{
	const char *match = getenv("LF_SLOW_FSYNC_MATCH");
	const char *ms = getenv("LF_SLOW_FSYNC_MS");
	if (!match || !ms)
		return;
	char link[64], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n <= 0)
		return;
	path[n] = 0;
	if (!strstr(path, match))
		return;
	long wait = atol(ms);
	struct timespec t = { wait / 1000, (wait % 1000) * 1000000L };
	nanosleep(&t, NULL);
}

int fsync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	maybe_wait(fd);
	return real(fd);
}

int fdatasync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	maybe_wait(fd);
	return real(fd);
}
