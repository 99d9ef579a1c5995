// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "modsig.h"
#include "sign.h"
#include "spawn.h"

char *kconfig_get(const char *kconfig, const char *key)
{
	_cleanup_free_ char *c = NULL;
	if (read_full_file(kconfig, &c, NULL, 16 << 20) < 0)
		return NULL;
	/* The key at the start of a line, the first one included (a --config
	 * file may hold that one line). */
	_cleanup_free_ char *needle = xasprintf("\n%s=", key);
	const char *p = startswith(c, needle + 1);
	if (!p) {
		p = strstr(c, needle);
		if (!p)
			return NULL;
		p += strlen(needle);
	}
	size_t n = strcspn(p, "\n");
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"')
		return xstrndup(p + 1, n - 2);
	return xstrndup(p, n);
}

/* A key or certificate named in the configuration, inside the root; a
 * relative name as it is (from the working directory, as dkms takes it). */
static char *signing_file(const struct dk_ctx *ctx, const char *p)
{
	return p[0] == '/' ? ctx_resolved_path(ctx, p) : ctx_path(ctx, p);
}

static char *find_sign_file(const struct dk_ctx *ctx, const char *kver, const char *ksrc,
			    const char *configured)
{
	if (configured)
		return ctx_path(ctx, configured);
	/* Debian ships it with linux-kbuild-<major.minor>. */
	_cleanup_free_ char *mm = xstrdup(kver);
	char *dot = strchr(mm, '.');
	if (dot && (dot = strchr(dot + 1, '.')))
		*dot = 0;
	_cleanup_free_ char *deb_rel = xasprintf("/usr/lib/linux-kbuild-%s/scripts/sign-file", mm);
	char *deb = ctx_path(ctx, deb_rel);
	if (access(deb, X_OK) == 0)
		return deb;
	free(deb);
	/* Under a sandbox root, the headers come from the host. */
	if (access(deb_rel, X_OK) == 0)
		return xstrdup(deb_rel);
	char *build = path_join(ksrc, "scripts/sign-file");
	if (access(build, X_OK) == 0)
		return build;
	free(build);
	return NULL;
}

int sign_prepare(const struct dk_ctx *ctx, const char *kver, const char *kconfig,
		 struct dk_signer *s, char **ret_note)
{
	*s = (struct dk_signer){ 0 };
	/* dkms signs when the config names a hash (dkms build --config FILE
	 * may give only that line). */
	_cleanup_free_ char *sig = kconfig_get(kconfig, "CONFIG_MODULE_SIG");
	_cleanup_free_ char *hash = kconfig_get(kconfig, "CONFIG_MODULE_SIG_HASH");
	if ((!sig || !streq(sig, "y")) && !hash)
		return 0;
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, kver);
	_cleanup_free_ char *sign_file = NULL, *key = NULL, *cert = NULL;
	ctx_signing_settings(ctx, kver, ctx_arch(ctx), &sign_file, &key, &cert);
	s->sign_file = find_sign_file(ctx, kver, ksrc, sign_file);
	if (!s->sign_file) {
		if (ret_note)
			*ret_note = xasprintf("sign-file not found for %s, modules won't be signed",
					      kver);
		return 0;
	}
	s->hash = hash ? TAKE_PTR(hash) : xstrdup("sha512");
	/* sign-file also takes a "pkcs11:..." URI as the key. Key and
	 * certificate are found as in a chroot into the root: a link there
	 * never leads to the host's own signing key. */
	if (!key)
		key = path_join(ctx->dkms_tree, "mok.key");
	if (!cert)
		cert = path_join(ctx->dkms_tree, "mok.pub");
	s->key = startswith(key, "pkcs11:") ? xstrdup(key) : signing_file(ctx, key);
	s->cert = signing_file(ctx, cert);
	/* A sign_file of the administrator's (an HSM wrapper, say) runs as
	 * given; the kernel's own only costs a process start per module. */
	s->in_process = !sign_file && !startswith(s->key, "pkcs11:");
	return 1;
}

static bool key_usable(const struct dk_signer *s)
{
	return (startswith(s->key, "pkcs11:") || path_is_reg(s->key)) && path_is_reg(s->cert);
}

int sign_ensure_key(const struct dk_signer *s, const char *log_path)
{
	/* As dkms: when either file is missing (a PKCS#11 key is never made),
	 * openssl makes a new pair at both paths. */
	if (key_usable(s) || startswith(s->key, "pkcs11:"))
		return key_usable(s) ? 0 : -ENOENT;
	_cleanup_free_ char *tk = xasprintf("%s.new", s->key);
	_cleanup_free_ char *tc = xasprintf("%s.new", s->cert);
	char *argv[] = { "openssl", "req",	"-new",
			 "-x509",   "-nodes",	"-days",
			 "36500",   "-subj",	"/CN=DKMS module signing key",
			 "-newkey", "rsa:2048", "-keyout",
			 tk,	    "-outform", "DER",
			 "-out",    tc,		NULL };
	_cleanup_close_ int fd =
		log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
	struct spawn_opts o = { .out_fd = fd, .quiet = 1 };
	mode_t old = umask(077);
	int r = spawn_wait(argv, &o);
	umask(old);
	if (r != 0) {
		unlink(tk);
		unlink(tc);
		/* 127: the program could not be run at all. */
		return r < 0 ? r : r == 127 ? -ENOENT : -EIO;
	}
	if (rename(tk, s->key) < 0 || rename(tc, s->cert) < 0)
		return -errno;
	return 0;
}

int sign_module(const struct dk_signer *s, const char *ko, int log_fd)
{
	/* No key pair (it could not be made): modules are not signed, as in dkms. */
	if (!key_usable(s))
		return -ENOKEY;
	if (s->in_process) {
		int r = modsig_sign(ko, s->hash, s->key, s->cert);
		if (r == 0)
			return 0;
		if (r != -EOPNOTSUPP && log_fd >= 0)
			dprintf(log_fd, "Signing %s in-process failed (%s); running %s\n", ko,
				strerror(-r), s->sign_file);
	}
	char *argv[] = { s->sign_file, s->hash, s->key, s->cert, (char *)ko, NULL };
	struct spawn_opts o = { .out_fd = log_fd };
	int r = spawn_wait(argv, &o);
	return r == 0 ? 0 : r < 0 ? r : -EIO;
}

void sign_done(struct dk_signer *s)
{
	free(s->sign_file);
	free(s->hash);
	free(s->key);
	free(s->cert);
	*s = (struct dk_signer){ 0 };
}
