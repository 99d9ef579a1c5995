#!/bin/bash
# The build cache with real kbuild, real signing and depmod: a rebuild of
# unchanged source restores without compiling; each key input changing is a
# miss; a corrupt, foreign, wrongly signed or untrusted entry is ignored with
# a warning and never installed; a read-only shared cache is used without
# being written; the size bound holds; cache list|prune|clear.
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
A=$(uname -m)
command -v openssl >/dev/null || skip "openssl missing"

# A private copy of the kernel's headers, whose .config and Module.symvers
# the test may change (Debian's small per-flavour directory; its links to
# linux-kbuild made absolute).
HDR=$T/headers-$K
cp -a "/usr/src/linux-headers-$K" "$HDR"
for l in "$HDR"/scripts "$HDR"/tools; do
	[ -L "$l" ] || continue
	ln -sfn "$(readlink -f "/usr/src/linux-headers-$K/${l##*/}")" "$l"
done

ROOT=$T/root
mk_root "$ROOT" "$K"
ln -sfn "$HDR" "$ROOT/lib/modules/$K/build"
add_fixture "$ROOT" hello 1.0
add_fixture "$ROOT" twoko 2.1
CACHE=$ROOT/var/cache/dkms-agent
BUILT=$ROOT/var/lib/dkms/hello/1.0/$K/$A
OUT=$T/out

# build_hello: unbuild, build again; sets $how to "cache" or "compiled".
build_hello() {
	dk unbuild hello/1.0 -k "$K" >/dev/null 2>&1 || true
	dk build hello/1.0 -k "$K" "$@" >"$OUT" 2>&1 || { cat "$OUT"; fail "build failed"; }
	if grep -q "from the build cache" "$OUT"; then how=cache; else how=compiled; fi
	[ -f "$BUILT/module/hello.ko" ] || fail "no built module after the build"
}
entries() { find "$CACHE" -mindepth 2 -maxdepth 2 -name '????????????????????????????????????????????????????????????????' | wc -l; }
entry() { find "$CACHE" -mindepth 2 -maxdepth 2 -name "$1*" | head -n1; }
# The entry the last hit came from (its key is in the restored make.log).
current_entry() {
	local k
	k=$(sed -n 's/.*(entry \([0-9a-f]*\), built.*/\1/p' "$BUILT/log/make.log" | tail -n1)
	[ -n "$k" ] || fail "no entry named in make.log"
	echo "$CACHE/${k:0:2}/$k"
}
expect_how() { [ "$how" = "$1" ] || { cat "$OUT"; fail "$2: expected $1, got $how"; }; }

# ---- a hit installs without compiling ----
dk add hello/1.0 >/dev/null
dk build hello/1.0 -k "$K" >"$OUT" 2>&1
[ "$(entries)" -eq 1 ] || fail "the first build stored $(entries) entries"
cp "$BUILT/module/hello.ko" "$T/first.ko"
/sbin/modinfo -F signer "$T/first.ko" | grep -q . || skip "this kernel's config does not sign modules"
build_hello
expect_how cache "rebuild of unchanged source"
cmp "$T/first.ko" "$BUILT/module/hello.ko" || fail "restored module differs from the built one"
grep -q "Restored from the dkms-agent build cache" "$BUILT/log/make.log" || fail "make.log does not say it was restored"
cmp "$HDR/.config" "$BUILT/log/.config" || fail "log/.config not restored"
[ ! -e "$ROOT/var/lib/dkms/hello/1.0/.build-$K-$A" ] || fail "a build directory was made for a hit"
# remove, add, install: the package reinstalled
dk remove hello/1.0 --all >/dev/null
dk add hello/1.0 >/dev/null
dk install hello/1.0 -k "$K" >"$OUT" 2>&1
grep -q "from the build cache" "$OUT" || { cat "$OUT"; fail "remove/add/install compiled"; }
grep -q "updates/dkms/hello.ko:" "$ROOT/lib/modules/$K/modules.dep" || fail "depmod did not see the restored module"
[ "$(dk status hello)" = "hello/1.0, $K, $A: installed" ] || fail "status: $(dk status hello)"
dk uninstall hello/1.0 -k "$K" >/dev/null
ok hit

# --force rebuilds (and refreshes the entry)
build_hello --force
expect_how compiled "--force"
ok force

# ---- each input of the key ----
cp "$ROOT/usr/src/hello-1.0/hello.c" "$T/hello.c.orig"
echo "/* a change */" >>"$ROOT/usr/src/hello-1.0/hello.c"
build_hello
expect_how compiled "source changed"
cp "$T/hello.c.orig" "$ROOT/usr/src/hello-1.0/hello.c"
build_hello
expect_how cache "source changed back"

chmod +x "$ROOT/usr/src/hello-1.0/Makefile"
build_hello
expect_how compiled "a file's mode changed"
chmod -x "$ROOT/usr/src/hello-1.0/Makefile"

echo 'STRIP[0]="no"' >>"$ROOT/usr/src/hello-1.0/dkms.conf"
build_hello
expect_how compiled "dkms.conf changed"
sed -i '/^STRIP/d' "$ROOT/usr/src/hello-1.0/dkms.conf"
echo 'STRIP[0]="no"' >"$ROOT/etc/dkms/hello.conf"
build_hello
expect_how compiled "an /etc/dkms override (dkms.conf as evaluated)"
rm "$ROOT/etc/dkms/hello.conf"
build_hello
expect_how cache "override gone"

cp "$HDR/.config" "$T/config.orig"
echo "# a change" >>"$HDR/.config"
build_hello
expect_how compiled ".config changed"
cp "$T/config.orig" "$HDR/.config"
printf '0x00000000\tdkms_agent_test_symbol\tvmlinux\tEXPORT_SYMBOL\t\n' >>"$HDR/Module.symvers"
build_hello
expect_how compiled "Module.symvers changed"

# The compiler: a wrapper that reports another version, in /usr/local/bin
# (first in a build's fixed PATH) of a private mount namespace.
if unshare -m true 2>/dev/null; then
	mkdir -p "$T/bin"
	cc=$(awk -F'"' '/^CONFIG_CC_VERSION_TEXT=/ { split($2, w, " "); print w[1] }' "$HDR/.config")
	real=$(command -v "$cc") || skip "$cc missing"
	# shellcheck disable=SC2016 # $1 and $@ belong to the wrapper
	printf '#!/bin/sh\nif [ "$1" = --version ]; then echo "%s (patched) 99"; exit 0; fi\nexec %s "$@"\n' "$cc" "$real" >"$T/bin/$cc"
	chmod 755 "$T/bin" "$T/bin/$cc"
	dk unbuild hello/1.0 -k "$K" >/dev/null
	# shellcheck disable=SC2016 # the inner script expands its own arguments
	unshare -m --propagation private bash -c 'mount --bind "$1" /usr/local/bin && "$2" --root "$3" build hello/1.0 -k "$4"' \
		_ "$T/bin" "$DKMS_AGENT" "$ROOT" "$K" >"$OUT" 2>&1 || { cat "$OUT"; fail "build with another compiler version"; }
	grep -q "from the build cache" "$OUT" && { cat "$OUT"; fail "compiler version changed: restored from the cache"; }
	grep -q "patched) 99" "$(find "$CACHE" -name inputs -newer "$T/bin/$cc" | head -n1)" ||
		fail "the new entry does not name the compiler version"
	build_hello
	expect_how cache "compiler back"
fi

# The signing key.
mv "$ROOT/var/lib/dkms/mok.key" "$T/mok.key"
mv "$ROOT/var/lib/dkms/mok.pub" "$T/mok.pub"
build_hello
expect_how compiled "new signing key"
/sbin/modinfo -F signer "$BUILT/module/hello.ko" | grep -q . || fail "not signed with the new key"
grep -q "^kernel $K $A\$" "$(entry "")/inputs" || fail "arch is not in the inputs"
ok misses

# ---- corruption and foreign entries: warned, never installed ----
build_hello
expect_how cache "before corruption"
e=$(current_entry)
printf '\x01' | dd of="$e/files/module/hello.ko" bs=1 seek=100 conv=notrunc status=none
build_hello
expect_how compiled "corrupt module"
grep -q "Ignoring build cache entry .*does not match its digest" "$OUT" || { cat "$OUT"; fail "no warning for a corrupt entry"; }
/sbin/modinfo -F signer "$BUILT/module/hello.ko" | grep -q . || fail "bad module after a corrupt entry"
build_hello
expect_how cache "entry replaced after corruption"

e=$(current_entry)
echo garbage >"$e/manifest"
build_hello
expect_how compiled "garbage manifest"
grep -q "Ignoring build cache entry .*manifest is unreadable" "$OUT" || { cat "$OUT"; fail "no warning for a bad manifest"; }

# An entry moved under another key (a foreign entry).
dk add twoko/2.1 >/dev/null
dk build twoko/2.1 -k "$K" >/dev/null
build_hello
expect_how cache "before the foreign entry"
e=$(current_entry)
t=$(grep -l "^module twoko" "$CACHE"/*/*/manifest | xargs dirname)
rm -rf "$e"
mkdir -p "$(dirname "$e")"
cp -a "$t" "$e"
build_hello
expect_how compiled "twoko's entry under hello's key"
grep -q "Ignoring build cache entry .*foreign" "$OUT" || { cat "$OUT"; fail "no warning for a foreign entry"; }
/sbin/modinfo -F name "$BUILT/module/hello.ko" | grep -qx hello || fail "foreign module installed"

# Consistent digests, but a module signed with another key: the signature
# check refuses it (as it would an entry planted in a shared cache).
build_hello
expect_how cache "before the wrongly signed entry"
e=$(current_entry)
openssl req -new -x509 -nodes -days 1 -subj /CN=other -newkey rsa:2048 \
	-keyout "$T/other.key" -outform DER -out "$T/other.pub" >/dev/null 2>&1
sf=$(find /usr/lib/linux-kbuild-*/scripts -name sign-file 2>/dev/null | head -n1)
[ -x "$sf" ] || skip "sign-file missing"
ko=$e/files/module/hello.ko
# Strip the signature: cut at the PKCS#7 (sign-file appends; strip -g keeps it).
python3 - "$ko" "$T/unsigned.ko" <<'EOF'
import sys, struct
d = open(sys.argv[1], 'rb').read()
magic = b"~Module signature appended~\n"
assert d.endswith(magic)
sig_len = struct.unpack(">I", d[-len(magic) - 4:-len(magic)])[0]
open(sys.argv[2], 'wb').write(d[:len(d) - len(magic) - 12 - sig_len])
EOF
cp "$T/unsigned.ko" "$T/other.ko"
"$sf" sha256 "$T/other.key" "$T/other.pub" "$T/other.ko"
cp "$T/other.ko" "$ko"
sha=$(sha256sum "$ko" | cut -d' ' -f1)
size=$(stat -c %s "$ko")
sed -i "s|^file [0-9a-f]* [0-9]* \([0-7]*\) module/hello.ko\$|file $sha $size \1 module/hello.ko|" "$e/manifest"
build_hello
expect_how compiled "entry signed with another key"
grep -q "not signed with this machine's key" "$OUT" || { cat "$OUT"; fail "no warning for a foreign signature"; }
cmp -s "$T/other.ko" "$BUILT/module/hello.ko" && fail "module signed with another key was restored"
# The same with no signature at all.
build_hello
expect_how cache "before the unsigned entry"
e=$(current_entry)
cp "$T/unsigned.ko" "$e/files/module/hello.ko"
sha=$(sha256sum "$T/unsigned.ko" | cut -d' ' -f1)
size=$(stat -c %s "$T/unsigned.ko")
sed -i "s|^file [0-9a-f]* [0-9]* \([0-7]*\) module/hello.ko\$|file $sha $size \1 module/hello.ko|" "$e/manifest"
build_hello
expect_how compiled "unsigned entry"
grep -q "hello.ko: not signed" "$OUT" || { cat "$OUT"; fail "no warning for an unsigned entry"; }
ok corrupt-foreign

# ---- read-only shared cache (a fleet): used, never written ----
ROOT2=$T/root2
mk_root "$ROOT2" "$K"
ln -sfn "$HDR" "$ROOT2/lib/modules/$K/build"
add_fixture "$ROOT2" hello 1.0
cp -a "$ROOT/var/lib/dkms/mok.key" "$ROOT/var/lib/dkms/mok.pub" "$ROOT2/var/lib/dkms/"
build_hello # makes sure the entry is current
mkdir -p "$ROOT2/var/cache/dkms-agent"
before=$(cd "$CACHE" && find . -printf '%p %s %T@\n' | sort | sha256sum)
if unshare -m true 2>/dev/null; then
	# shellcheck disable=SC2016 # the inner script expands its own arguments
	unshare -m --propagation private bash -c '
		set -e
		mount --bind "$1" "$2/var/cache/dkms-agent"
		mount -o remount,bind,ro "$2/var/cache/dkms-agent"
		"$3" --root "$2" add hello/1.0 >/dev/null
		"$3" --root "$2" build hello/1.0 -k "$4" >"$5" 2>&1
		grep -q "from the build cache" "$5"
		"$3" --root "$2" unbuild hello/1.0 -k "$4" >/dev/null
		echo "/* fleet change */" >>"$2/usr/src/hello-1.0/hello.c"
		"$3" --root "$2" build hello/1.0 -k "$4" >>"$5" 2>&1
		rc=0; "$3" --root "$2" cache prune >>"$5" 2>&1 || rc=$?
		[ "$rc" -eq 1 ]
		"$3" --root "$2" cache list >>"$5"
		grep -q "read-only" "$5"
	' _ "$CACHE" "$ROOT2" "$DKMS_AGENT" "$K" "$OUT" || { cat "$OUT"; fail "read-only shared cache"; }
else
	# No mount namespace: the readonly setting gives the same behaviour.
	rm -rf "$ROOT2/var/cache/dkms-agent"
	cp -a "$CACHE" "$ROOT2/var/cache/dkms-agent"
	echo "cache=readonly" >"$ROOT2/etc/dkms-agent.conf"
	CACHE=$ROOT2/var/cache/dkms-agent
	before=$(cd "$CACHE" && find . -printf '%p %s %T@\n' | sort | sha256sum)
	ROOT=$ROOT2 dk add hello/1.0 >/dev/null
	ROOT=$ROOT2 dk build hello/1.0 -k "$K" | grep -q "from the build cache" || fail "readonly cache: no hit"
	CACHE=$ROOT/var/cache/dkms-agent
fi
after=$(cd "$CACHE" && find . -printf '%p %s %T@\n' | sort | sha256sum)
[ "$before" = "$after" ] || fail "the read-only cache was written"
# cache=readonly in the configuration: a miss is not stored.
ROOT3=$T/root3
mk_root "$ROOT3" "$K"
add_fixture "$ROOT3" hello 1.0
echo "cache=readonly" >"$ROOT3/etc/dkms-agent.conf"
mkdir -p "$ROOT3/var/cache/dkms-agent"
ROOT=$ROOT3 dk add hello/1.0 >/dev/null
ROOT=$ROOT3 dk build hello/1.0 -k "$K" >/dev/null
[ -z "$(ls "$ROOT3/var/cache/dkms-agent")" ] || fail "cache=readonly stored an entry"
expect_rc 1 env DKMS_ROOT="$ROOT3" "$DKMS_AGENT" cache clear
# cache=no: nothing stored, nothing read.
echo "cache=no" >"$ROOT3/etc/dkms-agent.conf"
ROOT=$ROOT3 dk unbuild hello/1.0 -k "$K" >/dev/null
ROOT=$ROOT3 dk build hello/1.0 -k "$K" >/dev/null
[ -z "$(ls "$ROOT3/var/cache/dkms-agent")" ] || fail "cache=no stored an entry"
ok read-only

# ---- untrusted entries (unsigned modules: ownership is all that vouches) ----
# A kernel that does not sign modules (its .config says so; kbuild reads
# auto.conf, so the build is the same).
HDR4=$T/headers4
cp -a "$HDR" "$HDR4"
sed -i -e 's/^CONFIG_MODULE_SIG=y/# CONFIG_MODULE_SIG is not set/' -e '/^CONFIG_MODULE_SIG_HASH=/d' "$HDR4/.config"
ROOT4=$T/root4
mk_root "$ROOT4" "$K"
ln -sfn "$HDR4" "$ROOT4/lib/modules/$K/build"
add_fixture "$ROOT4" hello 1.0
ROOT=$ROOT4 dk add hello/1.0 >/dev/null
ROOT=$ROOT4 dk build hello/1.0 -k "$K" >/dev/null
grep -q "^sign none" "$ROOT4"/var/cache/dkms-agent/*/*/inputs || fail "unsigned build keyed as signed"
chown -R nobody "$ROOT4"/var/cache/dkms-agent/??
ROOT=$ROOT4 dk unbuild hello/1.0 -k "$K" >/dev/null
ROOT=$ROOT4 dk build hello/1.0 -k "$K" >"$OUT" 2>&1
grep -q "from the build cache" "$OUT" && fail "an entry owned by another user was used"
grep -q "owned or writable by a user other than root" "$OUT" || { cat "$OUT"; fail "no warning for an untrusted entry"; }
ok untrusted

# ---- ldtarball fills the cache ----
build_hello
expect_how cache "before mktarball"
dk mktarball hello/1.0 -k "$K" >/dev/null
tarball=$(find "$ROOT/var/lib/dkms/hello/1.0/tarball" -name '*.tar.gz' | head -n1)
[ -f "$tarball" ] || fail "mktarball made no tarball"
ROOT5=$T/root5
mk_root "$ROOT5" "$K"
ln -sfn "$HDR" "$ROOT5/lib/modules/$K/build"
cp -a "$ROOT/var/lib/dkms/mok.key" "$ROOT/var/lib/dkms/mok.pub" "$ROOT5/var/lib/dkms/"
ROOT=$ROOT5 dk ldtarball "$tarball" >/dev/null
[ -n "$(find "$ROOT5/var/cache/dkms-agent" -name manifest)" ] || fail "ldtarball did not fill the cache"
ROOT=$ROOT5 dk unbuild hello/1.0 -k "$K" >/dev/null
ROOT=$ROOT5 dk build hello/1.0 -k "$K" >"$OUT" 2>&1
grep -q "from the build cache" "$OUT" || { cat "$OUT"; fail "no hit after ldtarball"; }
# Modules signed with another machine's key are loaded, not cached.
ROOT6=$T/root6
mk_root "$ROOT6" "$K"
ln -sfn "$HDR" "$ROOT6/lib/modules/$K/build"
cp "$T/other.key" "$ROOT6/var/lib/dkms/mok.key"
cp "$T/other.pub" "$ROOT6/var/lib/dkms/mok.pub"
ROOT=$ROOT6 dk ldtarball "$tarball" >/dev/null
[ -z "$(find "$ROOT6/var/cache/dkms-agent" -name manifest 2>/dev/null)" ] || fail "another key's modules went into the cache"
ok ldtarball

# ---- size bound, list, prune, clear ----
n=$(entries)
[ "$n" -ge 2 ] || fail "expected at least 2 entries, got $n"
dk cache list >"$OUT"
grep -q "hello/1.0, $K, $A" "$OUT" || { cat "$OUT"; fail "cache list"; }
dk cache list --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["entries"] and d["writable"]' ||
	fail "cache list --json"
# Oldest first: make twoko the least recently used, then bound the size
# to what hello's entry needs.
touch -d '2001-01-01' "$CACHE"/*/*/manifest
build_hello
expect_how cache "before the bound"
# Entries come least recently used first: the last is the one just used.
hello_size=$(dk cache list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"][-1]["size"])')
echo "cache_max_size=$((hello_size + 100))" >"$ROOT/etc/dkms-agent.conf"
dk cache prune >"$OUT"
dk cache list >"$OUT"
grep -q twoko "$OUT" && { cat "$OUT"; fail "prune kept the least recently used entry"; }
grep -q "hello/1.0" "$OUT" || { cat "$OUT"; fail "prune removed the most recently used entry"; }
grep -q "^1 entry" "$OUT" || { cat "$OUT"; fail "prune kept more than the bound allows"; }
# A build that goes past the bound prunes by itself.
dk unbuild twoko/2.1 -k "$K" >/dev/null
dk build twoko/2.1 -k "$K" >/dev/null
total=$(dk cache list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["size"])')
[ "$total" -le $((hello_size + 100)) ] || fail "the cache holds $total bytes, more than its bound"
# Leftovers of an interrupted store.
mkdir -p "$CACHE/tmp/new-1-0000000000000000"
touch -d '2001-01-01' "$CACHE/tmp/new-1-0000000000000000"
expect_rc 2 dk cache prune --max-size lots
dk cache prune >/dev/null
[ ! -e "$CACHE/tmp/new-1-0000000000000000" ] || fail "prune left a stale temporary"
dk cache clear | grep -q "Removed" || fail "cache clear"
[ "$(entries)" -eq 0 ] || fail "clear left entries"
echo "cache_max_size=lots" >"$ROOT/etc/dkms-agent.conf"
dk cache list 2>&1 | grep -q "cache_max_size=lots is not a size" || fail "no warning for a bad cache_max_size"
expect_rc 2 dk cache frobnicate
ok bound-list-prune-clear
