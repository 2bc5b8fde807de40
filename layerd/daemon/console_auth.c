/* Who asks the console, and whether a form came from its own page.
 *
 * - Roles: root and the admin group's members act, the viewer group's read.
 * - Sign-in (TCP): PAM checks the password; a sign-in is 32 random bytes
 *   (its id, the session cookie's value) that end after idle minutes
 *   unused or at sign-out. Only layerd's memory holds them: a restart
 *   signs everyone out.
 * - CSRF: a form's token is EXPIRY.HMAC-SHA-256(secret, identity "\n"
 *   EXPIRY), the secret made at start: a page of another site can neither
 *   read nor make one, and one made for one caller is no good to another.
 * - The bearer token (--http-token): a script's, compared in constant time.
 *
 * auth->lock guards the sign-ins; the secret and the token are set at
 * start and only read after. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <security/pam_appl.h>

#include "console.h"
#include "layerd_int.h"

#define MAX_SIGNINS 256
#define CSRF_SECONDS (12 * 3600)

struct signin {
	char sid[65];                /* "" : a free slot */
	char user[260];
	uid_t uid;
	time_t used;                 /* CLOCK_MONOTONIC seconds */
};

struct console_auth {
	const char *viewers, *admins, *service;
	unsigned char secret[32];
	char token[256];             /* "": no --http-token */
	unsigned idle;               /* seconds */
	pthread_mutex_t lock;        /* AUTH: signins (a leaf: nothing is taken under it) */
	struct signin signins[MAX_SIGNINS];
};

enum console_role console_role_of(const char *viewers, const char *admins, uid_t uid)
{
	if (uid == 0)
		return ROLE_ADMIN;
	char buf[16384];
	struct passwd pw, *p = NULL;
	if (getpwuid_r(uid, &pw, buf, sizeof buf, &p) || !p)
		return ROLE_NOBODY;
	gid_t groups[256];
	int n = 256;
	if (getgrouplist(p->pw_name, p->pw_gid, groups, &n) < 0)
		n = 0;
	const char *names[2] = { admins, viewers };
	for (int k = 0; k < 2; k++) {
		char gb[16384];
		struct group g, *gp = NULL;
		if (getgrnam_r(names[k], &g, gb, sizeof gb, &gp) || !gp)
			continue;
		for (int i = 0; i < n; i++)
			if (groups[i] == gp->gr_gid)
				return k == 0 ? ROLE_ADMIN : ROLE_VIEWER;
	}
	return ROLE_NOBODY;
}

static time_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void hex(const unsigned char *v, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", v[i]);
}

static int random_bytes(unsigned char *v, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t k = getrandom(v + got, n - got, 0);
		if (k < 0 && errno != EINTR)
			return -1;
		got += k > 0 ? (size_t)k : 0;
	}
	return 0;
}

/* The bearer token: the first line of a regular file of root's that no
 * one else may read or write (a token others can read is no secret). */
static int read_token(const char *path, char *out, size_t size, struct lf_err *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return lf_err_set(err, e, "--http-token %s: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077)) {
		close(fd);
		return lf_err_set(err, EPERM, "--http-token %s: not a file of root's that only "
				  "root may read (chown root and chmod 600 it)", path);
	}
	ssize_t n = read(fd, out, size - 1);
	close(fd);
	if (n < 0)
		return lf_err_set(err, errno, "--http-token %s: %s", path, strerror(errno));
	out[n] = 0;
	out[strcspn(out, "\r\n")] = 0;
	if (strlen(out) < 16)
		return lf_err_set(err, EINVAL, "--http-token %s: the token is shorter than 16 "
				  "characters (make one: openssl rand -hex 32)", path);
	return 0;
}

int auth_start(const struct console_opts *o, struct console_auth **out, struct lf_err *err)
{
	struct console_auth *a = calloc(1, sizeof *a);
	if (!a)
		return lf_err_set(err, ENOMEM, "out of memory");
	a->viewers = o->viewers;
	a->admins = o->admins;
	a->service = o->pam_service ? o->pam_service : "layerd";
	a->idle = (unsigned)(o->idle_seconds > 0 ? o->idle_seconds : 15 * 60);
	pthread_mutex_init(&a->lock, NULL);
	if (random_bytes(a->secret, sizeof a->secret)) {
		auth_stop(a);
		return lf_err_set(err, errno, "getrandom: %s", strerror(errno));
	}
	if (o->token_file && read_token(o->token_file, a->token, sizeof a->token, err)) {
		auth_stop(a);
		return -1;
	}
	*out = a;
	return 0;
}

void auth_stop(struct console_auth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	explicit_bzero(a, sizeof *a);
	free(a);
}

static void csrf_mac(const struct console_auth *a, const char *identity, long long expiry,
		     char out[65])
{
	struct hmac_sha256_ctx h;
	unsigned char mac[SHA256_DIGEST_SIZE];
	char msg[256];
	int n = snprintf(msg, sizeof msg, "%s\n%lld", identity, expiry);
	hmac_sha256_set_key(&h, sizeof a->secret, a->secret);
	hmac_sha256_update(&h, (size_t)n, (const uint8_t *)msg);
	hmac_sha256_digest(&h, sizeof mac, mac);
	hex(mac, sizeof mac, out);
}

void auth_csrf_make(struct console_auth *a, const char *identity, struct console_caller *who)
{
	long long expiry = (long long)time(NULL) + CSRF_SECONDS;
	char mac[65];
	csrf_mac(a, identity, expiry, mac);
	snprintf(who->csrf, sizeof who->csrf, "%lld.%s", expiry, mac);
}

int auth_csrf_ok(struct console_auth *a, const char *identity, const char *token)
{
	if (!token)
		return 0;
	char *end;
	errno = 0;
	long long expiry = strtoll(token, &end, 10);
	if (errno || *end != '.' || strlen(end + 1) != 64 || expiry < (long long)time(NULL))
		return 0;
	char mac[65];
	csrf_mac(a, identity, expiry, mac);
	return memeql_sec(mac, end + 1, 64);
}

/* PAM asks; the password answers what is not shown, the user what is. */
struct conv_data {
	const char *user, *password;
};

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	const struct conv_data *c = data;
	struct pam_response *r = calloc((size_t)n, sizeof *r);
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const char *say = msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ? c->password
				  : msg[i]->msg_style == PAM_PROMPT_ECHO_ON ? c->user : NULL;
		if (say && !(r[i].resp = strdup(say))) {
			for (int k = 0; k < i; k++)
				free(r[k].resp);
			free(r);
			return PAM_BUF_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

int auth_sign_in(struct console_auth *a, const char *user, const char *password,
		 char sid[65], char *why, size_t size)
{
	struct conv_data cd = { user, password };
	struct pam_conv pc = { conv, &cd };
	pam_handle_t *h = NULL;
	int rc = pam_start(a->service, user, &pc, &h);
	if (rc == PAM_SUCCESS)
		rc = pam_authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc != PAM_SUCCESS) {
		/* the same words whether the account or the password was wrong */
		snprintf(why, size, "the user name or the password is wrong, or the account may "
			 "not sign in (PAM: %s)", rc == PAM_AUTH_ERR || rc == PAM_USER_UNKNOWN
			 ? "authentication failure" : pam_strerror(h, rc));
		if (h)
			pam_end(h, rc);
		return 401;
	}
	pam_end(h, rc);
	struct lf_account acct;
	if (lf_account_get(user, 0, &acct)) {
		snprintf(why, size, "%s: no such account here", user);
		return 401;
	}
	if (console_role_of(a->viewers, a->admins, acct.uid) == ROLE_NOBODY) {
		snprintf(why, size, "%s is neither root nor in group %s or %s", user, a->viewers,
			 a->admins);
		return 403;
	}
	unsigned char id[32];
	if (random_bytes(id, sizeof id)) {
		snprintf(why, size, "getrandom: %s", strerror(errno));
		return 500;
	}
	pthread_mutex_lock(&a->lock);
	time_t now = mono();
	struct signin *slot = NULL;
	for (int i = 0; i < MAX_SIGNINS && !slot; i++)
		if (!a->signins[i].sid[0] || now - a->signins[i].used > (time_t)a->idle)
			slot = &a->signins[i];
	if (slot) {
		hex(id, sizeof id, slot->sid);
		snprintf(slot->user, sizeof slot->user, "%s", user);
		slot->uid = acct.uid;
		slot->used = now;
		memcpy(sid, slot->sid, 65);
	}
	pthread_mutex_unlock(&a->lock);
	explicit_bzero(id, sizeof id);
	if (!slot) {
		snprintf(why, size, "%d people are signed in: try again when one signs out",
			 MAX_SIGNINS);
		return 503;
	}
	return 0;
}

int auth_session(struct console_auth *a, const char *sid, struct console_caller *who)
{
	if (!sid || strlen(sid) != 64)
		return 0;
	int found = 0;
	uid_t uid = 0;
	pthread_mutex_lock(&a->lock);
	time_t now = mono();
	for (int i = 0; i < MAX_SIGNINS && !found; i++) {
		struct signin *s = &a->signins[i];
		if (!s->sid[0] || !memeql_sec(s->sid, sid, 64))
			continue;
		if (now - s->used > (time_t)a->idle) {
			s->sid[0] = 0;          /* idle too long: over */
			break;
		}
		s->used = now;
		snprintf(who->name, sizeof who->name, "%s", s->user);
		memcpy(who->sid, s->sid, 65);
		uid = s->uid;
		found = 1;
	}
	pthread_mutex_unlock(&a->lock);
	if (found)
		who->role = console_role_of(a->viewers, a->admins, uid);
	return found && who->role != ROLE_NOBODY;
}

void auth_sign_out(struct console_auth *a, const char *sid)
{
	pthread_mutex_lock(&a->lock);
	for (int i = 0; i < MAX_SIGNINS; i++)
		if (a->signins[i].sid[0] && !strcmp(a->signins[i].sid, sid))
			explicit_bzero(&a->signins[i], sizeof a->signins[i]);
	pthread_mutex_unlock(&a->lock);
}

int auth_bearer_ok(struct console_auth *a, const char *token)
{
	size_t n = strlen(a->token);
	return n && token && strlen(token) == n && memeql_sec(a->token, token, n);
}
