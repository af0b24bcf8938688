#!/usr/bin/env bash
# gen-dist.sh BIN OUTDIR - files generated from the binary's own --help, so
# they cannot drift from it:
#   OUTDIR/man/pictor.1, OUTDIR/man/pictor-<command>.1   (man pages)
#   OUTDIR/pictor.env   (the commented example configuration: every
#                        setting of `pictor serve --help` as a PICTOR_*
#                        variable, for systemd's EnvironmentFile=)
# tests/e2e/install.test.mjs checks the installed pages against --help.
set -euo pipefail
bin=$1
case $bin in */*) ;; *) bin=./$bin ;; esac
out=$2
mkdir -p "$out/man"
version=$("$bin" version | awk 'NR==1{print $2}')

# roff-escape a text block for .nf: backslashes, and lines starting with
# a control character
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

commands=$("$bin" --help | awk '/^commands:/{f=1;next} f&&/^  [a-z]/{print $1} f&&/^$/{f=0}')

page() { # name summary helptext
	local name=$1 summary=$2 help=$3 upper
	upper=$(printf '%s' "$name" | tr 'a-z-' 'A-Z-')
	{
		printf '.TH %s 1 "" "pictor %s" "Pictor Manual"\n' "$upper" "$version"
		printf '.SH NAME\n%s \\- %s\n' "$name" "$summary"
		printf '.SH DESCRIPTION\n.nf\n'
		printf '%s\n' "$help" | esc
		printf '.fi\n.SH SEE ALSO\n'
		if [ "$name" = pictor ]; then
			for c in $commands; do printf '.BR pictor-%s (1)\n' "$c"; done
		else
			printf '.BR pictor (1)\n'
		fi
	} > "$out/man/$name.1"
}

page pictor "a self-hosted image server" "$("$bin" --help)"
for c in $commands; do
	summary=$("$bin" --help | awk -v c="$c" '$1==c{$1=""; sub(/^ +/,""); print; exit}')
	page "pictor-$c" "$summary" "$("$bin" "$c" --help)"
done

{
	cat <<'HEAD'
# pictor.env - settings of the pictor service as PICTOR_* environment
# variables (systemd reads this file through EnvironmentFile=). Every
# setting is listed, commented out at its default; uncomment to change.
# Generated from `pictor serve --help`; see pictor-serve(1) and CONFIG.md.
# Precedence: command-line flags > these variables > a JSON --config file.
# The unit passes --data /var/lib/pictor: change the data directory there
# (and ReadWritePaths=), not here.
HEAD
	"$bin" serve --help | awk '
		/^  --/ && match($0, /\[PICTOR_[A-Z0-9_]+(, default [^]]*)?\]$/) {
			tag = substr($0, RSTART + 1, RLENGTH - 2)
			text = substr($0, 1, RSTART - 1)
			sub(/^  --[a-z0-9-]+ [A-Z]+ */, "", text)
			sub(/ +$/, "", text)
			var = tag; def = ""
			if (index(tag, ", default ")) {
				var = substr(tag, 1, index(tag, ", default ") - 1)
				def = substr(tag, index(tag, ", default ") + 10)
			}
			printf "\n# %s\n#%s=%s\n", text, var, def
		}'
} > "$out/pictor.env"
