# bench/report.awk: the table of bench/run.sh from its raw figures, lines
# "ROUND VARIANT METRIC VALUE". Medians over all values of a variant and
# metric; ratios are sshroute's median over the other variant's median.
# Variables: rounds, conc, seq, stall, base (set when the run has the
# baseline variant).

{
	k = $2 SUBSEP $3
	n[k]++
	val[k, n[k]] = $4
	sum[k] += $4
	if (!(k in max) || $4 > max[k]) max[k] = $4
}

function median(v, m,    k, i, j, c, a, t) {
	k = v SUBSEP m
	c = n[k]
	if (c == 0) return ""
	for (i = 1; i <= c; i++) a[i] = val[k, i]
	for (i = 2; i <= c; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
}

# verdict RATIO OP LIMIT: "1.62 (>= 1.5 met)".
function verdict(r, op, lim,    ok) {
	if (r == "") return "-"
	ok = op == ">=" ? r >= lim : r <= lim
	return sprintf("%.2fx (%s%s %s)", r, op, lim, ok ? "met" : "MISSED")
}

function plain(r) { return r == "" ? "-" : sprintf("%.2fx", r) }

function ratio(m, other,    a, b) {
	a = median("sshroute", m); b = median(other, m)
	return (a == "" || b == "" || b == 0) ? "" : a / b
}

function row(label, m, fmt, opb, limb, opd, limd,    d, b, s) {
	d = median("direct", m); b = median("bastion", m); s = median("sshroute", m)
	printf "%-26s %9s %9s %9s  %-22s %s\n", label,
		d == "" ? "-" : sprintf(fmt, d), b == "" ? "-" : sprintf(fmt, b),
		s == "" ? "-" : sprintf(fmt, s),
		opb == "" ? plain(ratio(m, "bastion")) : verdict(ratio(m, "bastion"), opb, limb),
		opd == "" ? plain(ratio(m, "direct")) : verdict(ratio(m, "direct"), opd, limd)
}

function ab(label, m, fmt,    b, s) {
	b = median("baseline", m); s = median("sshroute", m)
	printf "%-26s %9s %9s  %s\n", label, b == "" ? "-" : sprintf(fmt, b),
		s == "" ? "-" : sprintf(fmt, s), (b > 0 && s != "" ? sprintf("%.2fx", s / b) : "-")
}

function count(v, m) { return sum[v SUBSEP m] + 0 }

END {
	printf "%-26s %9s %9s %9s  %-22s %s\n", "median of " rounds " rounds", "direct", "bastion", "sshroute",
		"sshroute/bastion", "sshroute/direct"
	row("upload, MiB/s", "up_mibs", "%.1f", ">=", 1.5, ">=", 0.8)
	row("download, MiB/s", "down_mibs", "%.1f", ">=", 1.5, ">=", 0.8)
	row("machine CPU up, s/GiB", "up_cpu", "%.2f", "<=", 0.65, "", 0)
	row("machine CPU down, s/GiB", "down_cpu", "%.2f", "<=", 0.65, "", 0)
	if (n["sshroute" SUBSEP "up_own_cpu"]) {
		row("  own processes up", "up_own_cpu", "%.2f", "<=", 0.65, "", 0)
		row("  own processes down", "down_own_cpu", "%.2f", "<=", 0.65, "", 0)
	}
	row("relay CPU up, s/GiB", "up_relay_cpu", "%.2f", "<=", 0.8, "", 0)
	row("relay CPU down, s/GiB", "down_relay_cpu", "%.2f", "<=", 0.8, "", 0)
	row("setup (ssh true), ms", "setup_ms", "%d", "<=", 0.75, "<=", 1.4)
	row(conc " at once, logins/s", "conc_cps", "%.1f", "", 0, "", 0)
	print ""

	want = rounds * conc
	all = 1
	line = ""
	for (i = 1; i <= 3; i++) {
		v = i == 1 ? "direct" : i == 2 ? "bastion" : "sshroute"
		got = count(v, "conc_ok")
		if (got != want) all = 0
		line = line sprintf(" %s %d/%d,", v, got, want)
		fails = count(v, "setup_failed") + count(v, "up_failed") + count(v, "down_failed")
		if (fails) line = line sprintf(" (%d other failures)", fails)
	}
	sub(/,$/, "", line)
	printf "%-26s%s  (%s)\n", "logins " conc " at once:", line, all ? "met" : "MISSED"

	rss = max["sshroute" SUBSEP "rss_kib"]
	anon = max["sshroute" SUBSEP "anon_kib"]
	se = median("sshroute", "stall_end_kib")
	sea = median("sshroute", "stall_end_anon_kib")
	if (se > rss) rss = se
	if (sea > anon) anon = sea
	printf "%-26s %.1f MiB VmHWM (< 8 MiB %s), of which its own (RssAnon) at most %.1f MiB\n",
		"sshroute peak RSS:", rss / 1024, rss < 8 * 1024 ? "met" : "MISSED", anon / 1024
	s1 = median("sshroute", "stall1_kib")
	st = median("sshroute", "stall_kib")
	printf "%-26s %.1f MiB 1 s into the stall, %.1f MiB (RssAnon %.1f) after %d s: %s; %.1f MiB (RssAnon %.1f) once drained\n",
		"  stalled reader:", s1 / 1024, st / 1024, median("sshroute", "stall_anon_kib") / 1024, stall,
		st - s1 <= 256 ? "bounded (met)" : sprintf("grew by %d KiB (MISSED)", st - s1), se / 1024, sea / 1024
	printf "%-26s at most %.1f MiB, in every transfer and the stall (<= 3 MiB %s)\n", "sshroute RssAnon:",
		anon / 1024, anon <= 3 * 1024 ? "met" : "MISSED"
	up = median("sshroute", "up_relay_cpu"); down = median("sshroute", "down_relay_cpu")
	if (up > 0)
		printf "%-26s down %.2f / up %.2f s/GiB = %.2f (<= 1.15 %s)\n", "sshroute relay CPU:",
			down, up, down / up, down / up <= 1.15 ? "met" : "MISSED"
	ok = count("sshroute", "seq_ok")
	left = count("sshroute", "seq_procs_left")
	fds = count("sshroute", "seq_fds_delta")
	files = count("sshroute", "seq_files_left")
	printf "%-26s %d/%d ok, %.1f/s; left behind: %d processes, %+d fds, %d files  (%s)\n",
		seq " sequential logins:", ok, seq, median("sshroute", "seq_lps"), left, fds, files,
		ok == seq && left == 0 && fds == 0 && files == 0 ? "met" : "MISSED"
	printf "%-26s %d s\n", "benchmark took:", count("all", "bench_secs")
	if (base != "") {
		print ""
		printf "A/B, median of %d rounds     baseline  sshroute  sshroute/baseline\n", rounds
		ab("relay CPU up, s/GiB", "up_relay_cpu", "%.2f")
		ab("relay CPU down, s/GiB", "down_relay_cpu", "%.2f")
		ab("upload, MiB/s", "up_mibs", "%.1f")
		ab("download, MiB/s", "down_mibs", "%.1f")
		ab("setup (ssh true), ms", "setup_ms", "%d")
		printf "%-26s %9.1f %9.1f\n", "peak RssAnon, MiB", max["baseline" SUBSEP "anon_kib"] / 1024,
			max["sshroute" SUBSEP "anon_kib"] / 1024
	}
}
