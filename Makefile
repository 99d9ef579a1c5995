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
LDLIBS += $(shell $(PKG_CONFIG) --libs $(LIBS_PC) 2>/dev/null || echo -lkmod -lblkid -lzstd) -lpthread
ifdef CI
CFLAGS += -Werror
endif
ifdef SAN
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:src/%.c=$(O)/%.o)
LIB_OBJS := $(filter-out $(O)/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/unit/%)

all: $(BIN) $(O)/dkms

$(O)/%.o: src/%.c | $(O)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BIN): $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/dkms: | $(O)
	ln -sf dkms-agent $@

$(O):
	mkdir -p $(O)/unit

$(O)/unit/%: tests/unit/%.c $(LIB_OBJS)
	$(CC) $(CFLAGS) -Isrc -MMD -MP $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

deps:
	@.ci/deps

check: deps all $(UNIT_BINS)
	@O=$(O) tests/run

demo: deps all
	@O=$(O) tests/demo.sh

format-check:
	clang-format --dry-run --Werror src/*.c src/*.h

clean:
	rm -rf build build-san tests/out

.PHONY: all check demo deps clean format-check

-include $(OBJS:.o=.d) $(UNIT_BINS:=.d)
