# SPDX-License-Identifier: GPL-2.0-or-later
# dkms-agent — plain GNU make.
#   make            build ./build/dkms-agent (and the dkms symlink)
#   make check      install missing Debian packages, build, run the tests
#   make check SAN=1   the same with ASan+UBSan
#   make demo       a sandbox where a module is missing; the agent repairs it
#   make install DESTDIR=… PREFIX=…

PREFIX ?= /usr
SBINDIR ?= $(PREFIX)/sbin
DESTDIR ?=
CC ?= cc
PKG_CONFIG ?= pkg-config
LIBS_PC := libkmod blkid libzstd

O := build$(if $(SAN),-san)
BIN := $(O)/dkms-agent

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 \
	-Wmissing-prototypes -D_GNU_SOURCE -fno-strict-aliasing \
	$(shell $(PKG_CONFIG) --cflags $(LIBS_PC) 2>/dev/null)
# libzstd and libblkid are loaded on first use (src/libdkms/dlopen-libs.c),
# libkmod too (src/libdkms/kmod.c): the boot fast path needs none of them.
LDLIBS += -ldl -lpthread
ifdef CI
CFLAGS += -Werror
endif
ifdef SAN
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

# src/basic (helpers) < src/libdkms (the engine) < src/tools (commands).
SRC_DIRS := src/basic src/libdkms src/tools
INCLUDES := $(SRC_DIRS:%=-I%)
CFLAGS += $(INCLUDES)
SRCS := $(wildcard $(SRC_DIRS:%=%/*.c))
HDRS := $(wildcard $(SRC_DIRS:%=%/*.h))
OBJS := $(SRCS:src/%.c=$(O)/%.o)
LIB_OBJS := $(filter-out $(O)/tools/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/unit/%)

all: $(BIN) $(O)/dkms

$(O)/%.o: src/%.c | $(O)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BIN): $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/dkms: | $(O)
	ln -sf dkms-agent $@

$(O):
	mkdir -p $(O)/unit

$(O)/unit/%: tests/unit/%.c $(LIB_OBJS)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

deps:
	@.ci/deps

unit: $(UNIT_BINS)

check: deps all unit
	@O=$(O) tests/run

# Debian's zfs-dkms and nvidia-kernel-dkms built by Debian's dkms and ours,
# side by side (downloads them; about 20 minutes on 2 cores). Not in check.
long-check: deps all
	@O=$(O) tests/long/zfs-nvidia.sh

demo: deps all
	@O=$(O) tests/demo.sh

format-check:
	clang-format --dry-run --Werror $(SRCS) $(HDRS)

clean:
	rm -rf build build-san tests/out demo

.PHONY: all unit check long-check demo deps clean format-check

-include $(OBJS:.o=.d) $(UNIT_BINS:=.d)

# ---------------------------------------------------------------------------
# Integration: install, uninstall, static. (Section owned by the integration
# work: agent/, mkinitcpio-hook/, dracut-module/, man/. Appended; the rules
# above are untouched.)
#   make install DESTDIR=… PREFIX=… SBINDIR=…   everything below
#   make uninstall                              removes what install put there
#   make static                                 $(O)/dkms-agent-static, no shared libraries
SYSCONFDIR ?= /etc
LIBDIR_AGENT ?= $(PREFIX)/lib/dkms-agent
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= $(or $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null),/usr/lib/systemd/system)
KERNELINSTALLDIR ?= $(PREFIX)/lib/kernel/install.d
ALPMHOOKDIR ?= $(PREFIX)/share/libalpm/hooks
ALPMSCRIPTDIR ?= $(PREFIX)/share/libalpm/scripts
INITCPIODIR ?= $(PREFIX)/lib/initcpio
DRACUTMODDIR ?= $(PREFIX)/lib/dracut/modules.d
BASHCOMPDIR ?= $(or $(shell $(PKG_CONFIG) --variable=completionsdir bash-completion 2>/dev/null),$(PREFIX)/share/bash-completion/completions)
STATIC_BIN := $(O)/dkms-agent-static

# Paths other programs look up by name, whatever PREFIX is: the *-dkms
# packages' maintainer scripts run /usr/lib/dkms/common.postinst, and
# mkinitramfs reads hooks from /usr/share/initramfs-tools.
DKMSLIBDIR ?= /usr/lib/dkms
INITRAMFSTOOLSDIR ?= /usr/share/initramfs-tools
# What `make install` put where, for `make uninstall` (empty: no manifest, as
# for a package build). OWNER_CHECK=auto leaves alone, and names, files that
# a Debian package owns (dpkg -S) when installing into the live system
# (DESTDIR empty): beside Debian's dkms, /usr/sbin/dkms stays Debian's.
MANIFEST ?= $(PREFIX)/lib/dkms-agent/make-install.manifest
OWNER_CHECK ?= auto
# packaging/inst rewrites /usr/sbin/dkms-agent in scripts to SBINDIR.
INST = DESTDIR='$(DESTDIR)' SBINDIR='$(SBINDIR)' MANIFEST='$(MANIFEST)' \
	OWNER_CHECK='$(OWNER_CHECK)' packaging/inst

# One operation a line (packaging/inst): file, file? (if built), link, conf.
define INSTALL_OPS
file 755 $(BIN) $(SBINDIR)/dkms-agent
link dkms-agent $(SBINDIR)/dkms
file? 755 $(STATIC_BIN) $(LIBDIR_AGENT)/dkms-agent-static
file 644 agent/dkms-agent.service $(UNITDIR)/dkms-agent.service
link dkms-agent.service $(UNITDIR)/dkms.service
file 755 agent/45-dkms-agent.install $(KERNELINSTALLDIR)/45-dkms-agent.install
file 755 agent/debian/kernel-postinst.d-dkms-agent $(SYSCONFDIR)/kernel/postinst.d/dkms-agent
file 755 agent/debian/header_postinst.d-dkms-agent $(SYSCONFDIR)/kernel/header_postinst.d/dkms-agent
file 755 agent/debian/prerm.d-dkms-agent $(SYSCONFDIR)/kernel/prerm.d/dkms-agent
file 755 agent/debian/common.postinst $(DKMSLIBDIR)/common.postinst
file 755 agent/debian/dkms_autoinstaller $(DKMSLIBDIR)/dkms_autoinstaller
file 755 agent/initramfs-tools/hooks/dkms-agent $(INITRAMFSTOOLSDIR)/hooks/dkms-agent
file 755 agent/initramfs-tools/scripts/init-bottom/dkms-agent $(INITRAMFSTOOLSDIR)/scripts/init-bottom/dkms-agent
file 644 agent/pacman/70-dkms-agent-install.hook $(ALPMHOOKDIR)/70-dkms-agent-install.hook
file 644 agent/pacman/70-dkms-agent-remove.hook $(ALPMHOOKDIR)/70-dkms-agent-remove.hook
file 644 agent/pacman/70-dkms-agent-cleanup.hook $(ALPMHOOKDIR)/70-dkms-agent-cleanup.hook
file 755 agent/pacman/dkms-agent-alpm $(ALPMSCRIPTDIR)/dkms-agent
file 644 mkinitcpio-hook/install/dkms-agent $(INITCPIODIR)/install/dkms-agent
file 644 mkinitcpio-hook/hooks/dkms-agent $(INITCPIODIR)/hooks/dkms-agent
file 755 dracut-module/90dkms-agent/module-setup.sh $(DRACUTMODDIR)/90dkms-agent/module-setup.sh
file 755 dracut-module/90dkms-agent/dkms-agent-check.sh $(DRACUTMODDIR)/90dkms-agent/dkms-agent-check.sh
file 644 man/dkms-agent.8 $(MANDIR)/man8/dkms-agent.8
link dkms-agent.8 $(MANDIR)/man8/dkms.8
file 644 man/dkms.conf.5 $(MANDIR)/man5/dkms.conf.5
file 644 agent/completion/dkms-agent.bash $(BASHCOMPDIR)/dkms-agent
link dkms-agent $(BASHCOMPDIR)/dkms
conf 644 agent/dkms-agent.conf $(SYSCONFDIR)/dkms-agent.conf
endef
export INSTALL_OPS

install: all
	@printf '%s\n' "$$INSTALL_OPS" | $(INST) install

# Removes what the manifest lists (never a file a package has taken over
# since); /etc/dkms-agent.conf only if unchanged from the default.
uninstall:
	@$(INST) uninstall

# ---- dist, deb, distro-check (section owned by packaging/) -----------------
#   make dist           $(DISTDIR)/dkms-agent-VERSION.tar.gz: the files git
#                       tracks (or, outside git, this tree less build output),
#                       owned by root, modes without group/other write
#   make deb            a Debian binary package of it, built by
#                       dpkg-buildpackage/debhelper with packaging/debian as
#                       debian/: $(O)/deb/dkms-agent_VERSION-REV_ARCH.deb
#   make distro-check   packaging/distro-check: the .deb and `make install` in
#                       a bookworm chroot with real *-dkms packages and kernels
VERSION := $(shell sed -n 's/^\#define VERSION "\(.*\)"/\1/p' src/tools/main.c)
DIST_NAME := dkms-agent-$(VERSION)
DISTDIR ?= build/dist
DIST_TAR := $(DISTDIR)/$(DIST_NAME).tar.gz

dist:
	@packaging/mkdist $(DIST_TAR) $(DIST_NAME)

deb: dist
	@.ci/deps packaging/packages
	@packaging/mkdeb $(DIST_TAR) $(O)/deb

distro-check: deb
	@.ci/deps packaging/packages
	@O=$(O) packaging/distro-check $(O)/deb

.PHONY: dist deb distro-check
# ---- end of dist, deb, distro-check ------------------------------------------

# A fully static program, for initramfs images and rescue systems. libblkid.a
# and libzstd.a (and liblzma.a) come from Debian's -dev packages; Debian ships
# no libkmod.a, so .ci/build-libkmod-static builds one from Debian's kmod
# source package into build/static.
STATIC_DEPS ?= build/static
STATIC_LIBS := $(STATIC_DEPS)/lib/libkmod.a -l:libblkid.a -l:libzstd.a -l:liblzma.a -lpthread

$(STATIC_DEPS)/lib/libkmod.a:
	.ci/build-libkmod-static $(STATIC_DEPS)

$(STATIC_BIN): $(SRCS) $(HDRS) $(STATIC_DEPS)/lib/libkmod.a | $(O)
	$(CC) -static -DDK_KMOD_DIRECT -I$(STATIC_DEPS)/include $(CFLAGS) $(LDFLAGS) -o $@ $(SRCS) $(STATIC_LIBS)

static: $(STATIC_BIN)
	@file $(STATIC_BIN)
	@! ldd $(STATIC_BIN) >/dev/null 2>&1 || { echo "$(STATIC_BIN) is not static" >&2; exit 1; }

.PHONY: install uninstall static

# ---- arch, arch-check (section owned by packaging/arch/, tests/arch/) ------
#   make arch         the Arch package of make dist's tarball, by makepkg:
#                     $(O)/arch/dkms-agent-VERSION-REL-ARCH.pkg.tar.*
#   make arch-check   tests/arch/run: that package and example DKMS packages
#                     installed by pacman into a scratch root made of this
#                     machine's userland, with the real mkinitcpio (release 41,
#                     ../shared/third-party): hooks, a kernel upgrade, removals,
#                     the initramfs, systemctl enable dkms.service. Needs root.
arch: dist
	@.ci/deps packaging/arch/packages
	@packaging/arch/build $(DIST_TAR) $(O)/arch

arch-check: arch
	@tests/arch/run $(O)/arch

.PHONY: arch arch-check
# ---- end of arch, arch-check -------------------------------------------------

# ---- bench: owned by bench/ (see bench/run) --------------------------------
#   make bench         dkms-agent vs Debian's dkms, writes bench/results.md (~15 min)
#   make bench-quick   the same with 5 modules and 2 repetitions
#   make bench-deps    install bench/packages (a second kernel's headers, dracut…)
bench: all
	bench/run

bench-quick: all
	bench/run --quick

bench-deps:
	apt-get install -y --no-install-recommends $$(sed 's/#.*//' bench/packages)

.PHONY: bench bench-quick bench-deps
# ---- end of bench -----------------------------------------------------------

# ---- qemu-check (section owned by qemu-tests/) ------------------------------
# make qemu-check [QEMU_TESTS='TEST-0[01]*']
# Boots real kernels under QEMU (TCG unless KVM really works): Debian guest
# roots built once with mmdebstrap into qemu-tests/.cache, our `make install`
# tree or `make deb` package inside them, one qemu-tests/TEST-*/test.sh per
# scenario, two at a time. Needs root; prints each test's time and what it
# proved and ends with "N passed, N failed". With CI=1 a skipped scenario
# counts as failed.
# make qemu-prepare: only the guest roots and images (no build), e.g. in the
# background while the host tests run.
QEMU_TESTS ?= TEST-*

qemu-check: deps all
	@.ci/deps qemu-tests/packages
	@O=$(O) $(if $(CI),QT_STRICT=1) qemu-tests/run-all '$(QEMU_TESTS)'

qemu-prepare:
	@.ci/deps qemu-tests/packages
	@QT_ROOTS_ONLY=1 qemu-tests/run-all --prepare-only '$(QEMU_TESTS)'

.PHONY: qemu-check qemu-prepare
# ---- end of qemu-check -------------------------------------------------------

# ---- fuzz (section owned by tests/fuzz/) ------------------------------------
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS='conf cpio'] [FUZZ_JOBS=1]
#   make fuzz-build       only build $(FUZZ_O)/fuzz-*
# libFuzzer targets built with clang into $(FUZZ_O) (never into build/): the
# library objects of src/ with -fsanitize=fuzzer-no-link,address,undefined,
# linked with -Wl,--wrap=spawn_* so that no child process is ever started
# (tests/fuzz/nospawn.c). Each target runs FUZZ_SECONDS over its seed corpus
# (tests/fuzz/corpus/NAME plus seeds generated into $(FUZZ_O)/seeds) after
# replaying tests/fuzz/regressions/NAME; the run ends with "N passed, N failed".
FUZZ_CC ?= clang
FUZZ_O ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
FUZZ_ALL := $(patsubst tests/fuzz/fuzz-%.c,%,$(filter-out tests/fuzz/fuzz-util.c,$(wildcard tests/fuzz/fuzz-*.c)))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -O1 -g $(FUZZ_SAN) -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
	-D_GNU_SOURCE -fno-strict-aliasing $(INCLUDES) $(shell $(PKG_CONFIG) --cflags $(LIBS_PC) 2>/dev/null)
FUZZ_WRAP := -Wl,--wrap=spawn_wait,--wrap=spawn_capture,--wrap=spawn_start
FUZZ_LIB_OBJS := $(filter-out $(FUZZ_O)/obj/tools/main.o,$(SRCS:src/%.c=$(FUZZ_O)/obj/%.o))
FUZZ_HARNESS := $(FUZZ_O)/obj/fuzz-util.o $(FUZZ_O)/obj/nospawn.o
FUZZ_BINS := $(FUZZ_ALL:%=$(FUZZ_O)/fuzz-%)

$(FUZZ_O)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_O)/obj/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -c -o $@ $<

$(FUZZ_O)/libdkms-agent.a: $(FUZZ_LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_O)/fuzz-%: $(FUZZ_O)/obj/fuzz-%.o $(FUZZ_HARNESS) $(FUZZ_O)/libdkms-agent.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $(FUZZ_WRAP) -o $@ $< $(FUZZ_HARNESS) \
		$(FUZZ_O)/libdkms-agent.a $(LDLIBS) -lz -llzma

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@FUZZ_O=$(FUZZ_O) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) \
		tests/fuzz/run $(FUZZ_TARGETS)

fuzz-clean:
	rm -rf $(FUZZ_O)

.PHONY: fuzz fuzz-build fuzz-clean
.PRECIOUS: $(FUZZ_O)/obj/%.o
-include $(wildcard $(FUZZ_O)/obj/*.d $(FUZZ_O)/obj/*/*.d)
# ---- end of fuzz -------------------------------------------------------------
