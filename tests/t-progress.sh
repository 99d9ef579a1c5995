#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What a person sees while modules build (src/tools/progress.c):
#  - on a terminal, a live area (one line per running build: module,
#    version, kernel, phase, elapsed time) redrawn in place and gone at the
#    end, leaving one line per finished job;
#  - in a pipe or the journal ($JOURNAL_STREAM), one line per phase, no
#    escape sequences;
#  - a failure prints the last lines of the build log and its path;
#  - --verbose streams the build's own output.
# The terminal is a real pty (python3's pty module); what it would show is
# worked out by replaying the cursor-up/erase sequences the live area uses.
# The once-a-minute heartbeat in a pipe is not tested: it needs a build that
# runs over a minute, and a test must not depend on time.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
command -v python3 >/dev/null || skip "python3 is needed to drive a pty"
A=$(uname -m)
ROOT=$T/root
mk_root "$ROOT" "$K"
add_fixture "$ROOT" hello 1.0
add_fixture "$ROOT" broken 1.0
dk add hello/1.0 >/dev/null
dk add broken/1.0 >/dev/null
# Every build compiles: with the build cache a rebuild would skip make.
echo "cache=no" >"$ROOT/etc/dkms-agent.conf"

# on_pty OUT CMD...: runs CMD with stdout and stderr on a new pty, TERM=xterm
# (the caller's environment otherwise); OUT gets the raw bytes. Exits as CMD
# did.
on_pty() {
	local out=$1
	shift
	python3 - "$out" "$@" <<'PY'
import os, pty, subprocess, sys
out, cmd = sys.argv[1], sys.argv[2:]
m, s = pty.openpty()
env = dict(os.environ, TERM="xterm")
p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=s, stderr=s, env=env)
os.close(s)
data = b""
while True:
    try:
        chunk = os.read(m, 65536)
    except OSError:  # EIO: every writer closed the pty
        break
    if not chunk:
        break
    data += chunk
open(out, "wb").write(data)
sys.exit(p.wait())
PY
}

# screen RAW: the lines a terminal shows at the end: "\r\e[NA\e[J" erases the
# last N lines, as the live area does.
screen() {
	python3 - "$1" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read().decode("utf-8", "replace").replace("\r\n", "\n")
lines, cur = [], ""
for tok in re.split(r"(\r\x1b\[\d+A\x1b\[J|\n)", data):
    m = re.fullmatch(r"\r\x1b\[(\d+)A\x1b\[J", tok)
    if m:
        n = int(m.group(1))
        assert cur == "" and n <= len(lines), "erase of %d lines with %d on screen" % (n, len(lines))
        del lines[len(lines) - n:]
    elif tok == "\n":
        lines.append(cur)
        cur = ""
    else:
        cur += tok
if cur:
    lines.append(cur)
print("\n".join(lines))
PY
}

KEY="hello/1.0 $K ($A)"

# --- terminal: the live area shows the build while it runs, then goes.
on_pty "$T/tty.raw" env -u JOURNAL_STREAM "$DKMS_AGENT" --root "$ROOT" build hello/1.0 -k "$K" ||
	fail "build on a pty failed: $(cat -v "$T/tty.raw")"
grep -aqF "  $KEY: make 0:" "$T/tty.raw" || fail "no live line for the running make: $(cat -v "$T/tty.raw")"
grep -aqP '\r\x1b\[\d+A\x1b\[J' "$T/tty.raw" || fail "the live area is never redrawn in place: $(cat -v "$T/tty.raw")"
screen "$T/tty.raw" >"$T/tty.screen" || fail "the live area erased lines it had not drawn: $(cat -v "$T/tty.raw")"
grep -qF "$KEY: built" "$T/tty.screen" || fail "no 'built' line left on the terminal: $(cat "$T/tty.screen")"
grep -q "^  " "$T/tty.screen" && fail "the live area stayed on the terminal: $(cat "$T/tty.screen")"
grep -qE ": (prepare|make|sign)$" "$T/tty.screen" && fail "phase lines on a terminal (they belong to the live area): $(cat "$T/tty.screen")"
ok "terminal: live area while make runs, one line per finished job at the end"

# --- pipe: one line per phase, in order, no escape sequences.
dk unbuild hello/1.0 -k "$K" >/dev/null
dk build hello/1.0 -k "$K" >"$T/pipe" 2>&1 || fail "build in a pipe failed: $(cat "$T/pipe")"
grep -q $'\x1b' "$T/pipe" && fail "escape sequences in a pipe: $(cat -v "$T/pipe")"
phases=$(grep -F "$KEY: " "$T/pipe" | sed "s|^.*): ||; s| (.*||" | tr '\n' ',')
case $phases in
*prepare*make*built*) ;;
*) fail "pipe: expected prepare, make, built lines in order, got '$phases': $(cat "$T/pipe")" ;;
esac
ok "pipe: one line per phase ($phases)"

# --- the journal: a terminal with JOURNAL_STREAM set gets lines, not a live area.
dk unbuild hello/1.0 -k "$K" >/dev/null
on_pty "$T/journal.raw" env JOURNAL_STREAM=8:12345 "$DKMS_AGENT" --root "$ROOT" build hello/1.0 -k "$K" ||
	fail "build with JOURNAL_STREAM failed: $(cat -v "$T/journal.raw")"
grep -aq $'\x1b' "$T/journal.raw" && fail "escape sequences with JOURNAL_STREAM: $(cat -v "$T/journal.raw")"
grep -aqF "$KEY: " "$T/journal.raw" || fail "no progress lines with JOURNAL_STREAM: $(cat -v "$T/journal.raw")"
ok "journal: lines, no live area"

# --- a failure: the last lines of the log and where the whole log is.
rc=0
dk build broken/1.0 -k "$K" >"$T/fail.out" 2>"$T/fail.err" || rc=$?
[ "$rc" -ne 0 ] || fail "broken built"
grep -qF "Error! broken/1.0 $K ($A)" "$T/fail.err" || fail "no error line naming the job: $(cat "$T/fail.err")"
grep -q "Last lines of the build log" "$T/fail.err" || fail "no log tail: $(cat "$T/fail.err")"
grep -q "^  | .*error" "$T/fail.err" || fail "the log tail does not show the compiler's error: $(cat "$T/fail.err")"
log=$(sed -n 's/^Consult \(.*\) for more information\.$/\1/p' "$T/fail.err" | tail -n1)
[ -n "$log" ] || fail "the log's path is not named: $(cat "$T/fail.err")"
[ -f "$log" ] || [ -f "$ROOT$log" ] || fail "the named log $log does not exist"
ok "failure: log tail and path ($log)"

# --- --verbose streams the build's own output.
dk unbuild hello/1.0 -k "$K" >/dev/null
dk build hello/1.0 -k "$K" --verbose >"$T/verbose" 2>&1 ||
	fail "verbose build failed: $(cat "$T/verbose")"
grep -qE "CC \[M\].*hello\.o|hello\.ko" "$T/verbose" || fail "--verbose did not show the build's output: $(cat "$T/verbose")"
ok "--verbose: the build's output is streamed"
