#!/bin/sh
# Install Outflow for osquery autoload.
#   sudo ./install.sh [--prefix /usr/local/outflow] --extensions-load /etc/osquery/extensions.load
# Copies this directory to PREFIX owned by root with mode 0755, then appends PREFIX/outflow.ext to the
# extensions.load file (once). Refuses locations osqueryd would reject: a world-writable directory or one
# with the sticky bit anywhere on the path (e.g. /tmp), because osqueryd will not load from there.
set -eu

prefix=/usr/local/outflow
load=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --extensions-load) load=$2; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

die() { echo "install.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (osqueryd loads only root-owned extensions)"
case "$prefix" in /*) ;; *) die "--prefix must be an absolute path" ;; esac
[ -n "$load" ] || die "--extensions-load FILE is required (osqueryd default: /etc/osquery/extensions.load)"
case "$load" in /*) ;; *) die "--extensions-load must be an absolute path" ;; esac

# stat FORMAT_GNU FORMAT_BSD PATH: GNU stat (Linux) or BSD stat (macOS).
stat_of() { stat -c "$1" "$3" 2>/dev/null || stat -f "$2" "$3"; }

# Walk every ancestor of the prefix that exists: no sticky bit, not world-writable.
check_dir() {
  d=$1
  while [ -n "$d" ] && [ "$d" != "/" ]; do
    if [ -e "$d" ]; then
      [ -k "$d" ] && die "$d has the sticky bit; osqueryd refuses extensions there (choose e.g. /usr/local/outflow)"
      case "$(stat_of %A %Sp "$d")" in ????????w?) die "$d is world-writable; osqueryd refuses extensions there" ;; esac
    fi
    d=$(dirname "$d")
  done
}
check_dir "$prefix"
check_dir "$(dirname "$load")"

src=$(cd "$(dirname "$0")" && pwd)
[ -f "$src/outflow.ext" ] || die "outflow.ext not found next to install.sh"

# osqueryd runs outflow.ext as root, and outflow.ext runs the Node interpreter named on its first line: that
# file, and every directory above it, must be writable by root only, or whoever can write there becomes root
# (a Homebrew node under /opt/homebrew belongs to the user who installed Homebrew).
root_only() {
  p=$1
  while [ -n "$p" ] && [ "$p" != "/" ]; do
    [ -e "$p" ] || die "$p does not exist (the Node interpreter named in outflow.ext)"
    owner=$(stat_of %u %u "$p")
    group=$(stat_of %g %g "$p")
    perms=$(stat_of %A %Sp "$p")
    [ "$owner" = 0 ] || die "$p is owned by uid $owner, not root: the Node interpreter $interp would run as root from a path another user can change; repackage with --node pointing at a root-owned Node (see docs/deploy.md)"
    case "$perms" in
      ????????w?) die "$p is world-writable: the Node interpreter $interp would run as root from a path anyone can change" ;;
      ?????w????) [ "$group" = 0 ] || die "$p is writable by group $group: the Node interpreter $interp would run as root from a path that group can change" ;;
    esac
    p=$(dirname "$p")
  done
}
interp=$(sed -n '1s/^#!\([^ ]*\).*/\1/p' "$src/outflow.ext")
[ -n "$interp" ] || die "outflow.ext has no interpreter line"
root_only "$interp"
resolved=$(realpath "$interp" 2>/dev/null || readlink -f "$interp" 2>/dev/null || echo "$interp")
[ "$resolved" = "$interp" ] || root_only "$resolved"
if [ "$src" != "$prefix" ]; then
  mkdir -p "$prefix"
  cp -R "$src/." "$prefix/"
fi
chown -R 0:0 "$prefix"
chmod -R go-w "$prefix"
chmod 0755 "$prefix" "$prefix/outflow.ext" "$prefix/outflow"

mkdir -p "$(dirname "$load")"
touch "$load"
if ! grep -qxF "$prefix/outflow.ext" "$load"; then
  echo "$prefix/outflow.ext" >> "$load"
fi
echo "installed $prefix/outflow.ext and listed it in $load; restart osqueryd to load it"
