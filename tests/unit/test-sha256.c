// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of SHA-256: the FIPS 180-4 examples, every split of a streamed
 * input, and a file read by descriptor. */
#include <fcntl.h>
#include <stdio.h>

#include "sha256.h"
#include "util.h"
#include "unit.h"

static void test_vectors(void)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	};
	for (size_t i = 0; i < ELEMENTSOF(v); i++) {
		char hex[SHA256_HEX_SIZE];
		sha256_hex_of(v[i].in, strlen(v[i].in), hex);
		if (!streq(hex, v[i].hex))
			fprintf(stderr, "sha256(%s) = %s\n", v[i].in, hex);
		CHECK(streq(hex, v[i].hex));
	}
	/* A million 'a': many blocks. */
	char *a = xmalloc(1000000);
	memset(a, 'a', 1000000);
	char hex[SHA256_HEX_SIZE];
	sha256_hex_of(a, 1000000, hex);
	CHECK(streq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
	free(a);
}

/* Any split of the input into two updates gives the one-shot digest. */
static void test_splits(void)
{
	uint8_t data[300];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	char want[SHA256_HEX_SIZE];
	sha256_hex_of(data, sizeof(data), want);
	bool all = true;
	for (size_t cut = 0; cut <= sizeof(data); cut++) {
		struct sha256 s;
		uint8_t d[SHA256_DIGEST_SIZE];
		char hex[SHA256_HEX_SIZE];
		sha256_init(&s);
		sha256_update(&s, data, cut);
		sha256_update(&s, data + cut, sizeof(data) - cut);
		sha256_final(&s, d);
		sha256_hex(d, hex);
		all = all && streq(hex, want);
	}
	CHECK(all);
}

static void test_fd(const char *dir)
{
	char *p = path_join(dir, "f");
	uint8_t data[200000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ (i >> 8));
	CHECK(write_file_atomic(p, data, sizeof(data), 0644) == 0);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	struct sha256 s;
	uint8_t d[SHA256_DIGEST_SIZE];
	char hex[SHA256_HEX_SIZE], want[SHA256_HEX_SIZE];
	sha256_init(&s);
	CHECK(sha256_update_fd(&s, fd) == (int64_t)sizeof(data));
	sha256_final(&s, d);
	sha256_hex(d, hex);
	sha256_hex_of(data, sizeof(data), want);
	CHECK(streq(hex, want));
	close(fd);
	free(p);
}

static void test_same_both_ways(void)
{
	size_t len = 1 << 20;
	uint8_t *d = xmalloc(len);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		d[i] = (uint8_t)x;
	}
	bool all = true;
	for (size_t l = 0; l < len; l = l * 3 + 1) {
		char a[SHA256_HEX_SIZE], b[SHA256_HEX_SIZE];
		sha256_set_accel(true);
		sha256_hex_of(d, l, a);
		sha256_set_accel(false);
		sha256_hex_of(d, l, b);
		all = all && streq(a, b);
	}
	CHECK(all);
	free(d);
}

int main(void)
{
	char tmpl[] = "/tmp/dkms-agent-unit.XXXXXX";
	char *dir = mkdtemp(tmpl);
	if (!dir)
		return 1;
	/* Both ways of compressing: the CPU's SHA instructions (where it has
	 * them) and the portable code. */
	for (int accel = 1; accel >= 0; accel--) {
		sha256_set_accel(accel);
		test_vectors();
		test_splits();
		test_fd(dir);
	}
	test_same_both_ways();
	rm_rf(dir);
	return unit_summary();
}
