#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TEST-00-SMOKE: the harness itself. Boot the newest Debian kernel on this
# machine (read from /boot, never written) with a minimal busybox initramfs
# and look for the guest's marker on the serial console.
# shellcheck source=../test-functions
. "$(dirname "$0")/../test-functions"
# qt-estimate: 60 s (run-all starts the longest first; the last run's time wins)

test_setup() {
	qt_host_kernel
	qt_probe_accel
	rm -rf "$WORK" "$LOGDIR"
	mkdir -p "$WORK" "$LOGDIR"
	cat >"$WORK/init" <<-'INIT'
		#!/bin/busybox sh
		/bin/busybox mount -t devtmpfs dev /dev
		exec >/dev/console 2>&1
		/bin/busybox mount -t proc proc /proc
		echo "QT-SMOKE-OK-5c1e kernel=$(/bin/busybox uname -r)"
		/bin/busybox poweroff -f
	INIT
	qt_busybox_initrd "$WORK/initrd" "$WORK/init"
}

test_run() {
	local t0 log=$LOGDIR/console.log
	t0=$(qt_now)
	"$QT_DIR/run-qemu" -l "$log" -t 120 -- -m 512 \
		-kernel "$QT_HOST_VMLINUZ" -initrd "$WORK/initrd" \
		-append "console=ttyS0 panic=1 $QT_CMDLINE"
	printf '  %-24s %7ss\n' "boot" "$(qt_since "$t0")"
	qt_expect "$log" "QT-SMOKE-OK-5c1e kernel=$QT_HOST_KVER" "smoke marker"
}

qt_main "$@"; exit $?
