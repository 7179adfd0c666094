# table.awk: the medians table of bench.sh from its results file.
#
# Input lines: "<workload> <target> key=value ..." (or "... FAIL"),
# "loopback - mbps=<n>" and "forkfloor - cpu_us_per_fork=<n> ...";
# -v order="<workload> ..." sets the rows.

function median(key,    n, i, j, t, v) {
	n = cnt[key]
	if (n == 0)
		return ""
	for (i = 1; i <= n; i++)
		v[i] = val[key, i]
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	if (n % 2)
		return v[(n + 1) / 2]
	return (v[n / 2] + v[n / 2 + 1]) / 2
}
function num(x, fmt) {
	return x == "" ? "-" : sprintf(fmt, x)
}
function frac(a, c) {
	return a == "" ? "-" : sprintf("%.2f", a / c)
}
function ratio(a, b) {
	return (a == "" || b == "" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b)
}
{
	for (i = 3; i <= NF; i++) {
		if ($i == "FAIL") {
			fail[$1, $2]++
			continue
		}
		split($i, kv, "=")
		k = $1 SUBSEP $2 SUBSEP kv[1]
		val[k, ++cnt[k]] = kv[2] + 0
	}
}
END {
	printf "%-23s | %-44s | %-44s | %s\n", "", "ietd", "tgtd", "ietd/tgtd"
	cols = "%8s %7s %7s %8s %9s"
	printf "%-23s | " cols " | " cols " | %5s %5s %5s\n", "workload",
	    "IOPS", "MB/s", "lat", "p99", "CPU", "IOPS", "MB/s", "lat",
	    "p99", "CPU", "IOPS", "lat", "CPU"
	n = split(order, names, " ")
	for (w = 1; w <= n; w++) {
		nm = names[w]
		line = sprintf("%-23s", nm)
		for (t = 1; t <= 2; t++) {
			tg = t == 1 ? "ietd" : "tgtd"
			io[t] = median(nm SUBSEP tg SUBSEP "iops")
			mb[t] = median(nm SUBSEP tg SUBSEP "mbps")
			la[t] = median(nm SUBSEP tg SUBSEP "avg_us")
			p9[t] = median(nm SUBSEP tg SUBSEP "p99_us")
			cp[t] = median(nm SUBSEP tg SUBSEP "cpu_us_per_io")
			if (nm ~ /^login/)
				mb[t] = ""
			line = line sprintf(" | %8s %7s %7s %8s %9s",
			    num(io[t], "%.0f"), num(mb[t], "%.1f"),
			    num(la[t], "%.1f"), num(p9[t], "%.1f"),
			    num(cp[t], "%.2f"))
			if ((nm, tg) in fail)
				failnote = failnote sprintf("  %s on %s: "\
				    "%d failed run(s)\n", nm, tg,
				    fail[nm, tg])
		}
		if (io[1] == "" && io[2] == "")
			continue
		line = line sprintf(" | %5s %5s %5s", ratio(io[1], io[2]),
		    ratio(la[1], la[2]), ratio(cp[1], cp[2]))
		print line
		rd[nm, 1] = mb[1]; rd[nm, 2] = mb[2]
	}
	print ""
	ceil = median("loopback" SUBSEP "-" SUBSEP "mbps")
	if (ceil == "")
		print "loopback ceiling: not measured (iperf3 not installed)"
	else {
		printf "loopback ceiling (iperf3, 1 TCP stream, "\
		    "127.0.0.1): %.0f MB/s\n", ceil
		for (w = 1; w <= n; w++) {
			nm = names[w]
			if (nm !~ /^128K/)
				continue
			printf "  %-21s ietd %s, tgtd %s of it\n", nm,
			    frac(rd[nm, 1], ceil), frac(rd[nm, 2], ceil)
		}
	}
	# What one fork per login costs before any login work.
	fl = median("forkfloor" SUBSEP "-" SUBSEP "cpu_us_per_fork")
	if (fl != "") {
		printf "fork floor (forkfloor: fork, _exit and wait of an "\
		    "empty child): %.1f us of CPU\n", fl
		li = median("login-8clients" SUBSEP "ietd" SUBSEP \
		    "cpu_us_per_io")
		lt = median("login-8clients" SUBSEP "tgtd" SUBSEP \
		    "cpu_us_per_io")
		if (li != "" && lt != "")
			printf "  %-21s ietd %.2f, tgtd %.2f of it per "\
			    "login\n", "login-8clients", li / fl, lt / fl
	}
	# The load generator is one thread: near 1.00 core it sets the pace.
	print "client CPU (ietd-load, one thread), in cores:"
	for (w = 1; w <= n; w++) {
		nm = names[w]
		cb1 = median(nm SUBSEP "ietd" SUBSEP "client_busy")
		cb2 = median(nm SUBSEP "tgtd" SUBSEP "client_busy")
		if (cb1 == "" && cb2 == "")
			continue
		printf "  %-21s ietd run %s, tgtd run %s\n", nm,
		    num(cb1, "%.2f"), num(cb2, "%.2f")
	}
	if (failnote != "")
		printf "\nFAILED runs (left out of the medians):\n%s", failnote
}