// SPDX-License-Identifier: GPL-2.0-or-later
/* libcrypto is loaded on first use, as kmod.c loads libkmod: relocating it
 * costs more than the whole boot fast path. A static build has no dlopen()
 * and cannot verify (callers treat that as "cannot trust"). */
#include <dlfcn.h>
#include <openssl/bio.h>
#include <fcntl.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "modsig.h"
#include "util.h"

#define MODSIG_MAGIC "~Module signature appended~\n"
#define PKEY_ID_PKCS7 2

/* The kernel's struct module_signature (include/linux/module_signature.h). */
struct module_signature {
	uint8_t algo, hash, id_type, signer_len, key_id_len, pad[3];
	uint8_t sig_len[4]; /* big endian */
};

#define SYMBOLS(X)                                                                                 \
	X(BIO_new_mem_buf)                                                                         \
	X(BIO_free)                                                                                \
	X(d2i_CMS_bio)                                                                             \
	X(CMS_ContentInfo_free)                                                                    \
	X(CMS_verify)                                                                              \
	X(d2i_X509)                                                                                \
	X(PEM_read_bio_X509)                                                                       \
	X(X509_free)                                                                               \
	X(OPENSSL_sk_new_null)                                                                     \
	X(OPENSSL_sk_push)                                                                         \
	X(OPENSSL_sk_free)                                                                         \
	X(ERR_clear_error)                                                                         \
	X(BIO_new)                                                                                 \
	X(BIO_s_mem)                                                                               \
	X(BIO_ctrl)                                                                                \
	X(PEM_read_bio_PrivateKey)                                                                 \
	X(d2i_AutoPrivateKey)                                                                      \
	X(EVP_PKEY_free)                                                                           \
	X(EVP_get_digestbyname)                                                                    \
	X(CMS_sign)                                                                                \
	X(CMS_add1_signer)                                                                         \
	X(CMS_final)                                                                               \
	X(i2d_CMS_bio_stream)

static struct {
#define DECLARE(f) typeof(f) *f;
	SYMBOLS(DECLARE)
} C;

#ifdef DK_KMOD_DIRECT
static int crypto_dl(void)
{
	return -EOPNOTSUPP;
}
#else
static int crypto_dl(void)
{
	static int state = 1;
	if (state <= 0)
		return state;
	void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!h)
		return state = -EOPNOTSUPP;
#define RESOLVE(f)                                                                                 \
	if (!(C.f = (typeof(f) *)dlsym(h, #f)))                                                    \
		return state = -EOPNOTSUPP;
	SYMBOLS(RESOLVE)
	return state = 0;
}
#endif

int modsig_preload(void)
{
	return crypto_dl();
}

static X509 *load_cert(const char *path, int *ret_err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = read_full_file(path, &buf, &len, 1 << 20);
	if (r < 0) {
		*ret_err = r;
		return NULL;
	}
	const unsigned char *p = (const unsigned char *)buf;
	X509 *x = C.d2i_X509(NULL, &p, (long)len);
	if (!x) {
		BIO *b = C.BIO_new_mem_buf(buf, (int)len);
		x = b ? C.PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		if (b)
			C.BIO_free(b);
	}
	*ret_err = x ? 0 : -EBADMSG;
	return x;
}

/* Finds the signature: the signed length and the PKCS#7 blob. */
static int split(const uint8_t *d, size_t len, size_t *ret_signed, const uint8_t **ret_sig,
		 size_t *ret_sig_len)
{
	size_t ml = strlen(MODSIG_MAGIC);
	struct module_signature ms;
	if (len < ml + sizeof(ms) || memcmp(d + len - ml, MODSIG_MAGIC, ml) != 0)
		return -ENODATA;
	len -= ml;
	memcpy(&ms, d + len - sizeof(ms), sizeof(ms));
	len -= sizeof(ms);
	size_t sl = (size_t)ms.sig_len[0] << 24 | (size_t)ms.sig_len[1] << 16 |
		    (size_t)ms.sig_len[2] << 8 | ms.sig_len[3];
	if (ms.id_type != PKEY_ID_PKCS7 || sl == 0 || sl > len)
		return -EBADMSG;
	*ret_signed = len - sl;
	*ret_sig = d + len - sl;
	*ret_sig_len = sl;
	return 0;
}

int modsig_verify(const void *data, size_t len, const char *cert_path)
{
	size_t signed_len, sig_len;
	const uint8_t *sig;
	int r = split(data, len, &signed_len, &sig, &sig_len);
	if (r < 0)
		return r;
	r = crypto_dl();
	if (r < 0)
		return r;
	X509 *cert = load_cert(cert_path, &r);
	if (!cert)
		return r;
	BIO *sb = C.BIO_new_mem_buf(sig, (int)sig_len);
	BIO *content = C.BIO_new_mem_buf(data, (int)signed_len);
	CMS_ContentInfo *cms = sb ? C.d2i_CMS_bio(sb, NULL) : NULL;
	OPENSSL_STACK *certs = C.OPENSSL_sk_new_null();
	r = -EBADMSG;
	/* Only our certificate may have made it (NOINTERN); no chain to
	 * check for a self-signed MOK key (NOVERIFY). */
	if (cms && content && certs && C.OPENSSL_sk_push(certs, cert) > 0 &&
	    C.CMS_verify(cms, (STACK_OF(X509) *)certs, NULL, content, NULL,
			 CMS_BINARY | CMS_NOINTERN | CMS_NOVERIFY) == 1)
		r = 0;
	C.ERR_clear_error();
	if (certs)
		C.OPENSSL_sk_free(certs);
	if (cms)
		C.CMS_ContentInfo_free(cms);
	if (content)
		C.BIO_free(content);
	if (sb)
		C.BIO_free(sb);
	C.X509_free(cert);
	return r;
}

static EVP_PKEY *load_key(const char *path, int *ret_err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = read_full_file(path, &buf, &len, 1 << 20);
	if (r < 0) {
		*ret_err = r;
		return NULL;
	}
	BIO *b = C.BIO_new_mem_buf(buf, (int)len);
	EVP_PKEY *k = b ? C.PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	if (b)
		C.BIO_free(b);
	if (!k) {
		const unsigned char *p = (const unsigned char *)buf;
		k = C.d2i_AutoPrivateKey(NULL, &p, (long)len);
	}
	explicit_bzero(buf, len);
	*ret_err = k ? 0 : -EBADMSG;
	return k;
}

/* The DER signature of data (CMS, detached, no attributes, no certificates). */
static int make_signature(const char *data, size_t len, const char *hash, EVP_PKEY *key, X509 *cert,
			  char **ret, size_t *ret_len)
{
	const EVP_MD *md = C.EVP_get_digestbyname(hash);
	BIO *content = C.BIO_new_mem_buf(data, (int)len);
	BIO *out = C.BIO_new(C.BIO_s_mem());
	CMS_ContentInfo *cms = NULL;
	int r = -EBADMSG;
	if (md && content && out)
		cms = C.CMS_sign(NULL, NULL, NULL, NULL,
				 CMS_NOCERTS | CMS_PARTIAL | CMS_BINARY | CMS_DETACHED |
					 CMS_STREAM);
	if (cms &&
	    C.CMS_add1_signer(cms, cert, key, md,
			      CMS_NOCERTS | CMS_BINARY | CMS_NOSMIMECAP | CMS_NOATTR) &&
	    C.CMS_final(cms, content, NULL, CMS_NOCERTS | CMS_BINARY) == 1 &&
	    C.i2d_CMS_bio_stream(out, cms, NULL, 0) == 1) {
		char *p = NULL;
		long n = C.BIO_ctrl(out, BIO_CTRL_INFO, 0, &p);
		if (n > 0 && p) {
			*ret = xmalloc(n);
			memcpy(*ret, p, n);
			*ret_len = (size_t)n;
			r = 0;
		}
	}
	C.ERR_clear_error();
	if (cms)
		C.CMS_ContentInfo_free(cms);
	if (out)
		C.BIO_free(out);
	if (content)
		C.BIO_free(content);
	return r;
}

/* Writes data, the signature and the trailer to a temporary file beside
 * path, then renames it over path: the module is never held twice. */
static int write_signed(const char *path, mode_t mode, const char *data, size_t len,
			const char *sig, size_t sig_len)
{
	struct module_signature ms = { .id_type = PKEY_ID_PKCS7 };
	ms.sig_len[0] = (uint8_t)(sig_len >> 24);
	ms.sig_len[1] = (uint8_t)(sig_len >> 16);
	ms.sig_len[2] = (uint8_t)(sig_len >> 8);
	ms.sig_len[3] = (uint8_t)sig_len;
	_cleanup_free_ char *tmp = xasprintf("%s.dkms-sign.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fchmod(fd, mode) < 0 ? -errno : 0;
	if (r >= 0)
		r = write_all(fd, data, len);
	if (r >= 0)
		r = write_all(fd, sig, sig_len);
	if (r >= 0)
		r = write_all(fd, &ms, sizeof(ms));
	if (r >= 0)
		r = write_all(fd, MODSIG_MAGIC, strlen(MODSIG_MAGIC));
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int modsig_sign(const char *path, const char *hash, const char *key_path, const char *cert_path)
{
	int r = crypto_dl();
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		return -EINVAL;
	size_t len = (size_t)st.st_size, sig_len = 0;
	char *data = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (data == MAP_FAILED)
		return -errno;
	_cleanup_free_ char *sig = NULL;
	EVP_PKEY *key = load_key(key_path, &r);
	X509 *cert = key ? load_cert(cert_path, &r) : NULL;
	if (cert)
		r = make_signature(data, len, hash, key, cert, &sig, &sig_len);
	if (key)
		C.EVP_PKEY_free(key);
	if (cert)
		C.X509_free(cert);
	if (r >= 0)
		r = write_signed(path, st.st_mode & 07777, data, len, sig, sig_len);
	munmap(data, len);
	return r;
}
