#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Completion as a user gets it: an interactive bash on a pseudo-terminal,
readline and all, completes command lines typed into it.

usage: pty-complete.py RCFILE LINE...

For each LINE (the keys typed, without the final key), types LINE, then
Meta-* (readline's insert-completions: every completion bash's programmable
completion offers replaces the word under the cursor), then turns the line
into printf '[%s]' LINE and runs it. Prints one line per LINE: the words of
the completed line, separated by single spaces. Every step waits for what
bash prints (its prompt, the printf output), never for a length of time;
a bash that stops answering fails after 60 s.
"""
import os
import pty
import re
import select
import shlex
import sys
import tempfile
import time

PROMPT = b"PTY-READY> "


def main():
    rcfile, lines = sys.argv[1], sys.argv[2:]
    env = dict(os.environ, TERM="dumb", INPUTRC="/dev/null")
    rc = tempfile.NamedTemporaryFile("w", suffix=".rc")
    rc.write(". %s\nPS1=%s\nPROMPT_COMMAND=\n" % (shlex.quote(rcfile), shlex.quote(PROMPT.decode())))
    rc.flush()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe("bash", ["bash", "--noprofile", "--rcfile", rc.name, "-i"], env)
    buf = bytearray()
    deadline = time.monotonic() + 60

    def read_until(pattern):
        while True:
            m = re.search(pattern, bytes(buf))
            if m:
                del buf[: m.end()]
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                sys.exit("pty-complete: bash did not answer; it printed:\n" + buf.decode(errors="replace"))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    sys.exit("pty-complete: bash exited; it printed:\n" + buf.decode(errors="replace"))
                buf.extend(data)
                if os.environ.get("PTY_DEBUG"):
                    sys.stderr.write(repr(data) + "\n")

    read_until(re.escape(PROMPT))
    for line in lines:
        # Meta-* as ESC *, then ^A (beginning of line), the printf, Return;
        # the output, which ends where the next prompt starts.
        os.write(fd, line.encode() + b"\x1b*" + b"\x01printf '[%s]' \r")
        m = read_until(rb"\n((?:\[[^\]\r\n]*\])+)" + re.escape(PROMPT))
        words = re.findall(rb"\[([^\]]*)\]", m.group(1))
        print(" ".join(w.decode() for w in words))
    os.write(fd, b"exit\r")
    os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
