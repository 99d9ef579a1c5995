#!/bin/bash
# The C sources follow .clang-format (make format-check).
. "$(dirname "$0")/lib.sh"
command -v clang-format >/dev/null || skip "clang-format not installed"
make -s -C "$TOP" format-check || fail "run: clang-format -i src/*.c src/*.h"
ok "src/ is clang-formatted"
