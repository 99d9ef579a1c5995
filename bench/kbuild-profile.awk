# SPDX-License-Identifier: GPL-2.0-or-later
# Reads `strace -f -tt -e trace=execve,exit_group` output of one autoinstall
# and prints where its wall time went outside the compiler: the time before
# the first make starts, after the last make ends, and each helper program
# as COUNTxMEAN seconds (including what it waited for; "build" is a whole
# make run), and with -v slots=N how busy N build slots were between the
# first make and the last. The first line
# of the trace is the traced program's own execve.
function secs(s,   p) { split(s, p, ":"); return p[1] * 3600 + p[2] * 60 + p[3] }
{
	pid = $1
	t = secs($2)
	if (NR == 1)
		t0 = t
	tend = t
	if ($3 ~ /^execve\(/ && $0 !~ /= -1 /) {
		prog = $3
		sub(/^execve\("/, "", prog)
		sub(/".*/, "", prog)
		n = split(prog, q, "/")
		prog = q[n]
		# dkms-agent runs MAKE through bash -c (directly, or as an
		# argument of a script that sets dkms's variables); that bash's
		# lifetime is the build; make's own recursion shows as "make".
		if (prog == "bash" && ($0 ~ /"-c", "make / || $0 ~ /"dkms", "make /))
			prog = "build"
		else if (prog == "make" && exe[pid] == "build")
			next
		exe[pid] = prog
		start[pid] = t
	} else if ($0 ~ /\+\+\+ exited with/ && (pid in exe)) {
		p = exe[pid]
		cnt[p]++
		tot[p] += t - start[pid]
		if (p == "build") {
			busy += t - start[pid]
			if (!fm || start[pid] < fm)
				fm = start[pid]
			if (t > lm)
				lm = t
		}
		delete exe[pid]
	}
}
END {
	printf "wall=%.2f before-first-make=%.2f after-last-make=%.2f", tend - t0, fm - t0, tend - lm
	# How full the build slots were between the first and the last make.
	if (slots && lm > fm)
		printf " slots-busy=%.1f%%", 100 * busy / (slots * (lm - fm))
	n = split("build cp strip sign-file openssl depmod xz gzip", w, " ")
	for (i = 1; i <= n; i++)
		if (cnt[w[i]])
			printf " %s=%dx%.3fs", w[i], cnt[w[i]], tot[w[i]] / cnt[w[i]]
	printf "\n"
}
