#!/bin/sh
# Install Outflow for osquery autoload.
#   sudo ./install.sh [--prefix /usr/local/outflow] [--config outflow.yaml] --extensions-load FILE
# Copies this directory to PREFIX owned by root with mode 0755, installs the extension's config (when given) as
# PREFIX/outflow.yaml (root-owned, 0644; outflow.ext reads it there), then appends PREFIX/outflow.ext to the
# extensions.load FILE (once): the file osqueryd's --extensions_autoload names, by default
# /var/osquery/extensions.load on macOS and /etc/osquery/extensions.load on Linux.
# Refuses a PREFIX that someone other than root could change (osqueryd would run their code as root), and a
# world-writable or sticky-bit location (e.g. /tmp), where osqueryd does not load extensions.
set -eu

prefix=/usr/local/outflow
load=""
config=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --extensions-load) load=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

die() { echo "install.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (osqueryd loads only root-owned extensions)"
case "$prefix" in /*) ;; *) die "--prefix must be an absolute path" ;; esac
[ -n "$load" ] || die "--extensions-load FILE is required (osqueryd's default: /var/osquery/extensions.load on macOS, /etc/osquery/extensions.load on Linux, unless --extensions_autoload names another)"
if [ -n "$config" ]; then [ -f "$config" ] || die "--config $config is not a file"; fi
case "$load" in /*) ;; *) die "--extensions-load must be an absolute path" ;; esac

# stat FORMAT_GNU FORMAT_BSD PATH: GNU stat (Linux) or BSD stat (macOS).
stat_of() { stat -c "$1" "$3" 2>/dev/null || stat -f "$2" "$3"; }

# Walk every ancestor of the prefix that exists: no sticky bit, not world-writable. Through links, as osqueryd
# and the kernel go (-L): a link's own mode bits mean nothing (Linux shows every link as lrwxrwxrwx), and who
# owns a link on the way is check_resolved's business.
check_dir() {
  d=$1
  while [ -n "$d" ] && [ "$d" != "/" ]; do
    if [ -e "$d" ]; then
      [ -k "$d" ] && die "$d has the sticky bit; osqueryd refuses extensions there (choose e.g. /usr/local/outflow)"
      case "$(stat -L -c %A "$d" 2>/dev/null || stat -L -f %Sp "$d")" in ????????w?) die "$d is world-writable; osqueryd refuses extensions there" ;; esac
    fi
    d=$(dirname "$d")
  done
}
check_dir "$prefix"
check_dir "$(dirname "$load")"

src=$(cd "$(dirname "$0")" && pwd)
[ -f "$src/outflow.ext" ] || die "outflow.ext not found next to install.sh"

# osqueryd runs outflow.ext as root; outflow.ext runs the Node interpreter named on its first line and then the
# code and config beside itself. Each of these, and every directory above it, must be writable by root only, or
# whoever can write there becomes root (a Homebrew node under /opt/homebrew belongs to the user who installed
# Homebrew; a prefix under a user's folder can be swapped for their own lib/ next to a link to outflow.ext).
# owned_by_root PATH WHAT: PATH itself (not its directories) is root's and only root (or group 0) can write it.
owned_by_root() {
  owner=$(stat_of %u %u "$1")
  group=$(stat_of %g %g "$1")
  perms=$(stat_of %A %Sp "$1")
  [ "$owner" = 0 ] || die "$1 is owned by uid $owner, not root: $2 would run as root from a path another user can change"
  # a link's own mode bits mean nothing (Linux shows lrwxrwxrwx): replacing it takes its directory, checked too
  [ -L "$1" ] && perms=----------
  case "$perms" in
    ????????w?) die "$1 is world-writable: $2 would run as root from a path anyone can change" ;;
    ?????w????) [ "$group" = 0 ] || die "$1 is writable by group $group: $2 would run as root from a path that group can change" ;;
  esac
}
# check_resolved PATH WHAT file|dir: resolves PATH one name at a time, as the kernel does, and checks every
# directory, link (file or directory, however deep in a target) and the file at the end with owned_by_root. A dir
# PATH's missing rest is skipped (mkdir -p creates it root-owned). Plain readlink only: realpath and readlink -f
# are missing on macOS before 12.3.
check_resolved() {
  rest=$1
  cur=
  hops=0
  while [ -n "$rest" ]; do
    case "$rest" in
      /*) rest=${rest#/}; continue ;;
      */*) name=${rest%%/*}; rest=${rest#*/} ;;
      *) name=$rest; rest= ;;
    esac
    case "$name" in
      .) continue ;;
      ..) cur=$(dirname "${cur:-/}"); [ "$cur" != / ] || cur=; continue ;;
    esac
    entry=$cur/$name
    if [ ! -e "$entry" ] && [ ! -L "$entry" ]; then
      # a prefix's missing rest is created by mkdir -p, root-owned
      [ "$3" = dir ] && return 0
      die "$1 leads to $entry, which does not exist"
    fi
    owned_by_root "$entry" "$2"
    if [ -L "$entry" ]; then
      hops=$((hops + 1))
      [ "$hops" -le 40 ] || die "$1: more than 40 links on the way to the file"
      target=$(readlink "$entry") || die "cannot read the link $entry"
      case "$target" in /*) cur= ;; esac
      rest=$target${rest:+/$rest}
    else
      cur=$entry
    fi
  done
  case "$3" in
    file) [ -f "$cur" ] || die "$1 leads to ${cur:-/}, which is not a file" ;;
    *) [ -d "${cur:-/}" ] || die "$1 leads to ${cur:-/}, which is not a directory" ;;
  esac
}
# the prefix as the kernel reaches it: a directory link on the way could lead into another user's folder
check_resolved "$prefix" "Outflow installed in $prefix" dir
interp=$(sed -n '1s/^#!\([^ ]*\).*/\1/p' "$src/outflow.ext")
[ -n "$interp" ] || die "outflow.ext has no interpreter line"
[ -e "$interp" ] || die "$interp does not exist (the Node interpreter named in outflow.ext)"
check_resolved "$interp" "the Node interpreter $interp (repackage with --node pointing at a root-owned Node, see docs/deploy.md)" file
if [ "$src" != "$prefix" ]; then
  # everything under the prefix is made root's below: never a directory that holds other software (/usr/local, say)
  if [ -d "$prefix" ] && [ -n "$(ls -A "$prefix")" ] && [ ! -e "$prefix/outflow.ext" ]; then
    die "$prefix is not empty and holds no earlier Outflow install; give Outflow a directory of its own (e.g. $prefix/outflow): install.sh makes everything under --prefix root's"
  fi
  mkdir -p "$prefix"
  cp -R "$src/." "$prefix/"
fi
if [ -n "$config" ]; then
  cp "$config" "$prefix/outflow.yaml.new"
  mv "$prefix/outflow.yaml.new" "$prefix/outflow.yaml"
fi
chown -R 0:0 "$prefix"
chmod -R go-w "$prefix"
chmod 0755 "$prefix" "$prefix/outflow.ext" "$prefix/outflow"
if [ -f "$prefix/outflow.yaml" ]; then chmod 0644 "$prefix/outflow.yaml"; fi

mkdir -p "$(dirname "$load")"
touch "$load"
# osqueryd can load one Outflow (a second registers the same tables, is refused and restarted for ever), and it
# reads each line trimmed, skipping comments (# or ;): every Outflow line goes, then this install's is appended
outflow_line='{ l = $0; sub(/\r$/, "", l); gsub(/^[ \t]+|[ \t]+$/, "", l) } l !~ /^[#;]/ && l ~ /\/outflow\.ext$/'
others=$(awk -v mine="$prefix/outflow.ext" "$outflow_line"' && l != mine { print l }' "$load")
awk "$outflow_line"' { next } { print }' "$load" > "$load.new"
echo "$prefix/outflow.ext" >> "$load.new"
cat "$load.new" > "$load"
rm -f "$load.new"
if [ -n "$others" ]; then
  printf 'removed from %s (osqueryd loads one Outflow): %s\n' "$load" "$others"
fi
if [ -f "$prefix/outflow.yaml" ]; then cfg="config $prefix/outflow.yaml"; else cfg="no config (defaults; see --config)"; fi
echo "installed $prefix/outflow.ext ($cfg) and listed it in $load; restart osqueryd to load it"
# fleetd: with any extension in the agent options, orbit passes --extensions_autoload for its own file after the
# flagfile, and osqueryd reads only that one (docs/deploy.md §3)
orbit_load=${OUTFLOW_ORBIT_EXTENSIONS_LOAD:-/opt/orbit/extensions.load}
if [ "$load" != "$orbit_load" ] && [ -s "$orbit_load" ]; then
  echo "install.sh: warning: $orbit_load is in use (fleetd agent options list extensions): osqueryd under fleetd reads that file, not $load, and Outflow will not start; see docs/deploy.md §3" >&2
fi
