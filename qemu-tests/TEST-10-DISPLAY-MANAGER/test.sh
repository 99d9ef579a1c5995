#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TEST-10-DISPLAY-MANAGER: the first boot of a new kernel on a machine whose
# display needs a DKMS driver. The guest (Debian's defaults, our `make
# install` tree) has kernel N installed with its headers (an upgrade done
# before the driver was there) and qtpci, a driver for QEMU's pci-testdev
# standing in for a GPU driver, registered (dkms add) and never built for N.
# A unit aliased display-manager.service, like gdm3/sddm/lightdm, refuses
# to start unless qtpci is loaded.
#   boot 1 (kernel N, first boot): dkms-agent.service builds, installs and
#     loads qtpci before the display manager starts; the display manager
#     starts. The agent's own time from its start to qtpci loaded, minus the
#     build, is printed as "bench: boot-rescue-overhead ours=<s>".
#   boot 2 (kernel N): the fast path: nothing to build, the display manager
#     starts, the agent's run time is printed; `dkms-agent check` (plain and
#     --json) names the root file system's type and device as libblkid sees
#     them (blkid and findmnt in the guest are the reference).
# (This covers what TEST-01-BOOT-RESCUE and TEST-06-ROOTFS-CHECK did.)
# shellcheck source=../test-functions
. "$(dirname "$0")/../test-functions"
QT_FLAVOUR=debian-upgraded
# qt-estimate: 800 s (run-all starts the longest first; the last run's time wins)

QT_QEMU_ARGS=(-device pci-testdev)

test_setup() {
	qt_guest_kvers
	[ -n "$QT_KVER_NEW" ] || qt_skip "the archive has only one kernel ABI of this series"
	qt_prepare
	qt_setup_boot
}

test_run() {
	local overhead build ms1 ms2
	qt_boot 1 "$QT_KVER_NEW"
	qt_expect "$QT_LAST_LOG" "STANDIN-DM-STARTED module qtpci loaded" "display manager after the rescue"
	qt_expect "$QT_LAST_LOG" "TEST-10-DM-BOOT1-PASS-e61f" "boot 1 (rescue before the display manager)"
	overhead=$(qt_value "$QT_LAST_LOG" overhead-s)
	build=$(qt_value "$QT_LAST_LOG" build-s)
	ms1=$(qt_value "$QT_LAST_LOG" agent-ms)
	qt_boot 2 "$QT_KVER_NEW"
	qt_expect "$QT_LAST_LOG" "STANDIN-DM-STARTED module qtpci loaded" "display manager on the second boot"
	qt_expect "$QT_LAST_LOG" "TEST-10-DM-BOOT2-PASS-e61f" "boot 2 (fast path)"
	ms2=$(qt_value "$QT_LAST_LOG" agent-ms)
	printf '  %-24s %7s ms\n' "agent, boot 1 (rescue)" "$ms1" "agent, boot 2 (no-op)" "$ms2"
	printf '  %-24s %7s s\n' "build of qtpci" "$build" "rescue overhead" "$overhead"
	qt_bench "boot-rescue-overhead ours=$overhead (build ${build}s excluded; goal <= 1 s under TCG; $(cat "$QT_CACHE/accel" 2>/dev/null || echo tcg))"
	qt_bench "boot-noop ours=$(echo "scale=3; $ms2 / 1000" | bc) (second boot, nothing missing)"
	qt_proved "first boot of $QT_KVER_NEW: dkms-agent.service built and loaded qtpci before display-manager.service started (overhead ${overhead}s beyond the ${build}s build); second boot: fast path in ${ms2} ms; check names the root file system ($(qt_value "$QT_LAST_LOG" rootfs))"
}

qt_main "$@"; exit $?
