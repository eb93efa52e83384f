# Sourced by the scripts that fetch Debian packages or bootstrap Debian: they
# use the mirror this host already uses, never one written here.

# The first URI of the host's apt sources (deb822 or one-line) whose suites
# match $1 (an extended regular expression).
host_apt_uri() {
  local pattern=$1 file
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    awk -v pat="$pattern" '
      function flush() { if (uri != "" && suites ~ pat && !found) { print uri; found = 1 } uri = ""; suites = "" }
      /^[[:space:]]*$/ { flush(); next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { $1 = ""; suites = $0 }
      END { flush() }' "$file"
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    awk -v pat="$pattern" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) ~ pat) print $i }' "$file"
  done
  return 0
}
