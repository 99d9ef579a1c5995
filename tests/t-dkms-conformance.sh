#!/bin/bash
# dkms's command line and states, side by side with Debian's dkms 3.0.10:
# the same exit codes, the same `status` lines and the same files for the
# argument forms (DIR, ./DIR, DIR/dkms.conf, --opt=VALUE), the combinations
# dkms refuses, and the states a tree can be in (built, installed, installed
# but different, incomplete). Scenarios are written from dkms(8).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-conformance.sh"
cd "$T"
mkdir -p src
cp -r "$FIXTURES/hello" src/hello-1.0
cp -r "$FIXTURES/twoko" src/twoko-2.1

fresh
# A relative directory wins over M/V, with or without ./; a dkms.conf path too.
both 0 add src/hello-1.0
both 3 add ./src/hello-1.0
same_status "add DIR"
same_files "add"
ok "add DIR, ./DIR"

# build -k K path/dkms.conf (adds it), --opt=VALUE forms, the built state.
both 0 build -k "$K" src/twoko-2.1/dkms.conf
both 3 add src/twoko-2.1/dkms.conf
both 0 build --kernelver="$K" --module=hello/1.0 --arch="$A_"
same_status "built"
same_files "built"
# Already built: skipped, not an error.
both 0 build --kernelver "$K" -m hello -v 1.0
ok "build -k K DIR/dkms.conf, add DIR/dkms.conf, --opt=VALUE"

both 0 install -k "$K" hello/1.0
same_status "installed"
same_files "installed"
ok "install -k K M/V"

# Installed, then the installed file changed: the diff warning.
echo x >>"$TH/lib/modules/$K/updates/dkms/hello.ko"
echo x >>"$OU/lib/modules/$K/updates/dkms/hello.ko"
same_status "installed but differs"
grep -q 'WARNING! Diff between built and installed module!' "$T/st.o" || fail "no diff warning"
ok "installed-but-differs"

# Incomplete: one built module file of twoko deleted.
rm "$TH/var/lib/dkms/twoko/2.1/$K/$A_/module/beta.ko" "$OU/var/lib/dkms/twoko/2.1/$K/$A_/module/beta.ko"
same_status "incomplete"
grep -q '^twoko/2.1: added' "$T/st.o" || fail "an incomplete build is not 'added'"
both 3 install -k "$K" -m twoko -v 2.1
both 3 build -k "$K" -m twoko -v 2.1
ok "incomplete: status and the codes of build/install"

# Combinations dkms refuses, and unknown options.
both 2 status -k "$K" --all
both 3 status -a "$A_" --all
both 8 build -m hello -v 1.0 --binaries-only --source-only
both 1 build -m hello -v 1.0 -k "$K" -k "$K" -a x86_64 -a i386 -a arm64
both 2 status --no-such-option
both 1 remove
both 3 remove -m nosuch -v 1.0 -k "$K"
both 5 install -m hello -v 1.0 --all
ours status --no-such-option 2>&1 | grep -q 'Unknown option: --no-such-option' ||
	fail "unknown option not named"
ok "refused combinations and unknown options"

# Accepted options (their effect is shown elsewhere): both forms.
both 0 status --verbose --no-prepare-kernel --no-clean-kernel --modprobe-on-install \
	--force-version-override --kernelsourcedir="/usr/src/linux-headers-$K" -q
both 0 status --directive="MAKE[0]=make" --config "/usr/src/linux-headers-$K/.config" -c src/hello-1.0/dkms.conf
ours_rc 0 status --no-initrd --templatekernel="$K" --archive=/nonexistent
ok "every long option is accepted, --opt VALUE and --opt=VALUE"

# remove --all takes out every kernel. twoko is incomplete (above): dkms
# 3.0 leaves it behind, 3.1+ removes it as dkms(8) says (ours; t-dkms-32),
# so theirs is cleared by hand before the trees are compared.
both 0 remove -m hello -v 1.0 --all
both 0 remove twoko/2.1 --all
[ ! -e "$OU/var/lib/dkms/twoko" ] || fail "remove --all left the incomplete twoko"
rm -rf "$TH/var/lib/dkms/twoko"
same_status "removed"
same_files "removed"
ok "remove --all"
