/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one context every operation receives: where the root is, where dkms's
 * trees are, which kernel and arch are targeted, and how to behave. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "util.h"

struct dk_ctx {
	char *root;		 /* "" for "/", else an absolute prefix without trailing '/' */
	char *dkms_tree;	 /* paths as seen inside root, e.g. /var/lib/dkms */
	char *source_tree;	 /* /usr/src */
	char *install_tree;	 /* /lib/modules */
	char *tmp_location;	 /* /tmp */
	char *kernel_source_dir; /* explicit --kernelsourcedir (host path), or NULL */
	char *arch;		 /* explicit -a, or NULL for uname's machine */
	char **kernels;		 /* -k values (KVER or KVER/ARCH) */
	char *module, *version;	 /* -m/-v or m/v */
	char *sign_file, *mok_key, *mok_cert;
	char *initramfs_mode; /* regenerate|append|off */
	int jobs;
	int verbose;
	bool quiet, force, all, no_depmod, no_initramfs, json, all_kernels;
	bool autoinstall_all_kernels, modprobe_on_install, symlink_modules;
	char *compress_gzip_opts, *compress_xz_opts, *compress_zstd_opts; /* NULL: ours */
	bool build_as_root;	    /* true: run make as root (unprivileged builds off) */
	bool trust_unsafe;	    /* true: accept sources writable by non-root */
	unsigned build_timeout_sec; /* build_timeout=: each build step, package script, bash
				     * reading of a dkms.conf is killed after this */
	bool build_sandbox_user;    /* build_sandbox=user: no namespaces, only the user */
	unsigned boot_budget_sec;
	char **early_modules; /* early_modules= of /etc/dkms-agent.conf */
	bool load_modules;    /* load_modules= (default yes) */
	char *post_transaction;
	char *root_device;	    /* check: probe this device/image as the root fs */
	bool skip_current_failures; /* autoinstall: skip failed builds whose inputs did not change */
	/* dkms's command line, beyond the above */
	char *conf_path;     /* -c: the dkms.conf to read instead of the module's own */
	char *kernel_config; /* --config: the kernel .config (host path) instead of <ksrc>/.config */
	char **directives;   /* --directive NAME=value, applied after dkms.conf and overrides */
	char *archive;	     /* --archive or a tarball argument (mktarball/ldtarball) */
	char *template_kernel; /* --templatekernel (match) */
	char *source_dir_arg;  /* a DIR or DIR/dkms.conf argument: the source to add */
	bool binaries_only, source_only, force_version_override, no_initrd;
	void (*progress)(void *userdata, const struct dk_event *ev); /* job events, or NULL */
	void *progress_userdata;
	/* A job's module files are in place, before depmod has seen them (the
	 * agent loads what the machine needs from there), or NULL. */
	void (*files_installed)(void *userdata, const char *kver, char *const *files);
	void *files_installed_userdata;
	int cache_mode;		 /* cache=: 0 no, 1 yes, 2 readonly (CACHE_* of cache.h) */
	char *cache_dir;	 /* cache_dir=, a path inside root */
	uint64_t cache_max_size; /* cache_max_size=, bytes */
};

/* Fills defaults ($DKMS_ROOT, uname machine, CPU count). */
void ctx_init(struct dk_ctx *ctx);
void ctx_done(struct dk_ctx *ctx);
/* Sets the root directory; "/" or "" means the host root. */
void ctx_set_root(struct dk_ctx *ctx, const char *root);
/* Reads <root>/etc/dkms/framework.conf and framework.conf.d/(*).conf, in
 * that order, each seeing what the earlier ones set, as dkms sources them. */
int ctx_load_framework(struct dk_ctx *ctx);
/* The signing settings for kver/arch: dkms reads them again when it signs,
 * with $kernelver and $arch set, so that a path may name the kernel. Each
 * result is the framework's value (NULL when unset: the default applies),
 * as a path inside the root. */
void ctx_signing_settings(const struct dk_ctx *ctx, const char *kver, const char *arch,
			  char **ret_sign_file, char **ret_key, char **ret_cert);
/* post_transaction as dkms runs it: read again with $kernelver set to kver
 * (NULL: unset), so that "update-initramfs -u -k $kernelver" names the
 * kernel. A new string, or NULL when unset or empty. */
char *ctx_post_transaction(const struct dk_ctx *ctx, const char *kver);

/* Returns a new string: the root prefix followed by p (an absolute path). */
char *ctx_path(const struct dk_ctx *ctx, const char *p);
/* Convenience for "<root><dkms_tree>/a/b/..." */
#define ctx_dkms_path(ctx, ...) ctx_tree_path((ctx), (ctx)->dkms_tree, __VA_ARGS__, NULL)
#define ctx_source_path(ctx, ...) ctx_tree_path((ctx), (ctx)->source_tree, __VA_ARGS__, NULL)
#define ctx_install_path(ctx, ...) ctx_tree_path((ctx), (ctx)->install_tree, __VA_ARGS__, NULL)
char *ctx_tree_path(const struct dk_ctx *ctx, const char *tree, ...);

/* Returns a new string: the host path of p (a path inside the root), its
 * symbolic links followed as a chroot into the root follows them: an
 * absolute link such as /usr/src/foo-1.0 -> /opt/foo leads to
 * <root>/opt/foo, never to the host's /opt. Where p does not resolve (it or
 * a link on the way is missing), the path as far as it resolves followed by
 * the missing part (<root>/opt/foo when /opt/foo is missing in the root),
 * for the caller's error message: a string that leads nowhere on the host
 * either. */
char *ctx_resolved_path(const struct dk_ctx *ctx, const char *p);
/* Opens p (a path inside the root) as a chroot into the root would, by
 * descriptor (basic/chase.h, CHASE_IN_ROOT); flags as for openat. With
 * create, p and its missing parents are made as directories (0755). Returns
 * the fd or -errno; with ret_host_path, also the host path it resolved to. */
int ctx_open(const struct dk_ctx *ctx, const char *p, int flags, bool create, char **ret_host_path);
/* The source tree of m/v as ctx_resolved_path() finds it, through the dkms
 * tree's source link: <root><dkms_tree>/m/v/source followed inside the root. */
char *ctx_source_dir(const struct dk_ctx *ctx, const char *m, const char *v);
/* Its dkms.conf, the file itself resolved inside the root too (a dkms.conf
 * that is an absolute link leads into the root, never to the host's file). */
char *ctx_source_conf(const struct dk_ctx *ctx, const char *m, const char *v);

/* The arch for kernel kver: explicit -a, else the machine's. */
const char *ctx_arch(const struct dk_ctx *ctx);
/* The kernel .config for kver (host path): --config, else <ksrc>/.config. */
char *ctx_kernel_config(const struct dk_ctx *ctx, const char *kver);
/* The kernel build directory for kver (host path): --kernelsourcedir, else
 * <root><install_tree>/<kver>/build (or source). */
char *ctx_kernel_source_dir(const struct dk_ctx *ctx, const char *kver);

/* Passes ev to ctx->progress when one is set. */
void ctx_emit(const struct dk_ctx *ctx, const struct dk_event *ev);
/* Emits a phase change of the job m/v/kver/arch. */
void ctx_phase(const struct dk_ctx *ctx, const char *m, const char *v, const char *kver,
	       const char *arch, enum dk_phase phase);
