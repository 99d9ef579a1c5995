#!/bin/bash
# autoinstall side by side: one failed module makes the run exit 11 while
# the others still install; ours refuses --all (5) and two -k (4) as dkms
# 3.1+ does (have_one_kernel) and gives 21 for a kernel without headers
# (3.0.10 says 11 there).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-conformance.sh"
cd "$T"
mkdir -p src
cp -r "$FIXTURES/hello" src/hello-1.0
cp -r "$FIXTURES/broken" src/broken-1.0

fresh
both 0 add src/hello-1.0
both 0 add src/broken-1.0
both 11 autoinstall -k "$K"
same_status "one failed, one installed"
grep -q "^hello/1.0, $K, $A_: installed$" "$T/st.o" || fail "hello not installed"
same_files "autoinstall" # our bookkeeping (dot files) aside
ok "one failure: exit 11, the others installed"

ours_rc 21 autoinstall -k "$K-noheaders"
grep -q 'headers' "$T/o.out" || fail "no word about headers"
ours_rc 5 autoinstall --all
ours_rc 4 autoinstall -k "$K" -k "$K"
ok "autoinstall argument checks"

# No -k and a running kernel without headers: dkms's default picks the
# running kernel; ours says so and uses the newest kernel that has them.
if [ -d "/usr/src/linux-headers-$(uname -r)" ]; then
	ok "(running kernel has headers here: default choice not exercised)"
else
	ours_rc 0 remove hello/1.0 --all
	ours_rc 0 install -m hello -v 1.0
	grep -q "running kernel $(uname -r) has no headers" "$T/o.out" || fail "did not say what it did: $(cat "$T/o.out")"
	ours status | grep -q "^hello/1.0, $K, $A_: installed$" || fail "not installed for $K"
	ours_rc 0 remove -m hello -v 1.0 --all
	[ ! -e "$OU/lib/modules/$K/updates/dkms/hello.ko" ] || fail "remove --all left the module"
	ok "no -k: the running kernel has no headers, the newest kernel with headers is used"
fi
