/* WIM images in and out, through wimlib's NTFS-3G modes: an image of a
 * WIM, ESD or split SWM set applied onto a new NTFS volume (pack --wim),
 * and a volume captured as an image of a new WIM (publish --format wim,
 * compare of a WIM). wimlib keeps what NTFS keeps: descriptors, short
 * names, streams, reparse points (Compact OS files stay compressed),
 * hard links and times. Its own messages stay off stderr: a failure is
 * one line of ours, with its words. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <wimlib.h>

#include "layerfs/pack.h"
#include "layerfs/wim.h"
#include "layerfs/safe_path.h"
#include "pack_int.h"

struct wim_progress {
	void (*fn)(void *ctx, const char *phase, uint64_t done, uint64_t total);
	void *ctx;
};

static enum wimlib_progress_status on_progress(enum wimlib_progress_msg msg,
					       union wimlib_progress_info *info, void *ctx)
{
	struct wim_progress *p = ctx;
	if (!p->fn)
		return WIMLIB_PROGRESS_STATUS_CONTINUE;
	if (msg == WIMLIB_PROGRESS_MSG_EXTRACT_STREAMS)
		p->fn(p->ctx, "apply", info->extract.completed_bytes, info->extract.total_bytes);
	else if (msg == WIMLIB_PROGRESS_MSG_WRITE_STREAMS)
		p->fn(p->ctx, "capture", info->write_streams.completed_bytes,
		      info->write_streams.total_bytes);
	return WIMLIB_PROGRESS_STATUS_CONTINUE;
}

static int wim_fail(struct lf_err *err, int code, const char *path, const char *what)
{
	int e = code == WIMLIB_ERR_NOMEM ? ENOMEM
	      : code == WIMLIB_ERR_OPEN || code == WIMLIB_ERR_STAT ? ENOENT
	      : code == WIMLIB_ERR_IMAGE_COUNT || code == WIMLIB_ERR_INVALID_IMAGE ? EINVAL
	      : code == WIMLIB_ERR_NOT_A_WIM_FILE || code == WIMLIB_ERR_INVALID_HEADER ? EINVAL
	      : EIO;
	return lf_err_set(err, e, "%s: %s: %s", path, what, wimlib_get_error_string(code));
}

static void quiet(void)
{
	/* a library's words never reach the user's terminal as they are */
	wimlib_set_print_errors(false);
}

int lf_wim_open(const char *spec, struct lf_wim *out, struct lf_err *err)
{
	quiet();
	memset(out, 0, sizeof *out);
	/* FILE, or FILE:INDEX / FILE:NAME when FILE alone is not there */
	char *path = strdup(spec);
	if (!path)
		return lf_err_set(err, ENOMEM, "out of memory");
	const char *image = NULL;
	char *colon = strrchr(path, ':');
	if (access(path, F_OK) != 0 && colon && colon != path) {
		*colon = 0;
		image = colon + 1;
	}
	WIMStruct *wim = NULL;
	int code = wimlib_open_wim(path, 0, &wim);
	if (code) {
		int rc = wim_fail(err, code, path, "not a WIM image file that opens");
		free(path);
		return rc;
	}
	size_t len = strlen(path);
	if (len > 4 && !strcasecmp(path + len - 4, ".swm")) {
		/* a split set: its other parts beside it, NAME2.swm... */
		char glob[4096];
		snprintf(glob, sizeof glob, "%.*s*.swm", (int)(len - 4), path);
		const char *globs[] = { glob };
		code = wimlib_reference_resource_files(wim, globs, 1, WIMLIB_REF_FLAG_GLOB_ENABLE, 0);
		if (code) {
			int rc = wim_fail(err, code, path, "the other parts of the split WIM");
			wimlib_free(wim);
			free(path);
			return rc;
		}
	}
	struct wimlib_wim_info info;
	wimlib_get_wim_info(wim, &info);
	int index;
	if (image && *image) {
		index = wimlib_resolve_image(wim, image);
		if (index == WIMLIB_NO_IMAGE || index == WIMLIB_ALL_IMAGES) {
			int rc = lf_err_set(err, ENOENT, "%s: no image \"%s\" (it holds %u: "
					    "name one by index 1..%u or by name)", path, image,
					    info.image_count, info.image_count);
			wimlib_free(wim);
			free(path);
			return rc;
		}
	} else if (info.image_count == 1) {
		index = 1;
	} else {
		int rc = lf_err_set(err, EINVAL, "%s holds %u images: name one (%s:INDEX or %s:NAME)",
				    path, info.image_count, path, path);
		wimlib_free(wim);
		free(path);
		return rc;
	}
	out->wim = wim;
	out->path = path;
	out->image = index;
	const char *v = wimlib_get_image_property(wim, index, "TOTALBYTES");
	out->bytes = v ? strtoull(v, NULL, 10) : 0;
	v = wimlib_get_image_property(wim, index, "FILECOUNT");
	out->files = v ? strtoull(v, NULL, 10) : 0;
	v = wimlib_get_image_property(wim, index, "DIRCOUNT");
	out->dirs = v ? strtoull(v, NULL, 10) : 0;
	v = wimlib_get_image_property(wim, index, "NAME");
	out->name = v ? v : "";
	return 0;
}

void lf_wim_close(struct lf_wim *w)
{
	if (w->wim)
		wimlib_free(w->wim);
	free(w->path);
	memset(w, 0, sizeof *w);
}

int lf_wim_apply(struct lf_wim *w, const char *vol_path,
		 void (*progress)(void *ctx, const char *phase, uint64_t done, uint64_t total),
		 void *ctx, struct lf_err *err)
{
	struct wim_progress p = { progress, ctx };
	wimlib_register_progress_function(w->wim, on_progress, &p);
	int code = wimlib_extract_image(w->wim, w->image, vol_path, WIMLIB_EXTRACT_FLAG_NTFS);
	wimlib_register_progress_function(w->wim, NULL, NULL);
	if (code)
		return wim_fail(err, code, w->path, code == WIMLIB_ERR_NTFS_3G ||
				code == WIMLIB_ERR_WRITE ? "its image does not fit or apply onto the "
				"new volume (--size?)" : "its image does not apply");
	return 0;
}

int lf_pack_wim(const char *spec, const char *out, const struct lf_pack_opts *o,
		struct lf_pack_stats *stats, struct lf_err *err)
{
	struct lf_pack_stats local;
	struct packer p = { .o = o, .st = stats ? stats : &local, .err = err, .src = spec,
			    .src_root = -1 };
	memset(p.st, 0, sizeof *p.st);
	struct lf_wim w;
	int rc = lf_wim_open(spec, &w, err);
	if (rc)
		return rc;
	/* what pack would make for a tree of this shape, and room for
	 * what NTFS adds per file (records, indexes, descriptors) */
	uint64_t vol_size = o->size ? o->size / 512 * 512
			   : lf_pack_size_for(w.files + w.dirs, w.bytes + w.bytes / 8);
	struct pack_work wk = { .fd = -1 };
	rc = pack_work_new(&p, out, vol_size, &wk);
	if (!rc)
		rc = lf_wim_apply(&w, wk.path, o->progress, o->progress_ctx, err);
	if (!rc) {
		p.st->files = w.files;
		p.st->dirs = w.dirs;
		p.st->bytes = w.bytes;
		rc = pack_work_finish(&p, out, &wk);
	}
	pack_work_drop(&wk);
	lf_wim_close(&w);
	pack_free(&p);
	return rc;
}

int lf_wim_capture(const char *vol_path, const char *out, const struct lf_wim_capture_opts *o,
		   struct lf_err *err)
{
	quiet();
	static const enum wimlib_compression_type ctypes[] = {
		[LF_WIM_LZX] = WIMLIB_COMPRESSION_TYPE_LZX,
		[LF_WIM_XPRESS] = WIMLIB_COMPRESSION_TYPE_XPRESS,
		[LF_WIM_NONE] = WIMLIB_COMPRESSION_TYPE_NONE,
	};
	WIMStruct *wim = NULL;
	int code = wimlib_create_new_wim(ctypes[o->compress], &wim);
	if (code)
		return wim_fail(err, code, out, "a new WIM");
	struct wim_progress p = { o->progress, o->progress_ctx };
	wimlib_register_progress_function(wim, on_progress, &p);
	int rc = 0;
	code = wimlib_add_image(wim, vol_path, o->name && *o->name ? o->name : "Windows", NULL,
				WIMLIB_ADD_FLAG_NTFS);
	if (code)
		rc = wim_fail(err, code, vol_path, "the volume cannot be captured");
	if (!rc && o->description && *o->description &&
	    (code = wimlib_set_image_property(wim, 1, "DESCRIPTION", o->description)))
		rc = wim_fail(err, code, out, "the image's description");
	/* written whole to a temporary beside OUT, fsynced, renamed */
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.wim-tmp.%d", out, (int)getpid());
	if (!rc && (code = wimlib_write(wim, tmp, WIMLIB_ALL_IMAGES, WIMLIB_WRITE_FLAG_FSYNC, 0)))
		rc = wim_fail(err, code, out, "the WIM cannot be written");
	wimlib_free(wim);
	if (!rc && rename(tmp, out) < 0)
		rc = lf_err_set(err, errno, "%s: cannot rename into place: %s", out, strerror(errno));
	if (rc) {
		unlink(tmp);
	} else {
		const char *name;
		int dfd = lf_open_parent(out, &name);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	return rc;
}

int lf_is_wim(const char *path)
{
	char magic[8];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, magic, sizeof magic);
	close(fd);
	return n == 8 && !memcmp(magic, "MSWIM\0\0\0", 8);
}
