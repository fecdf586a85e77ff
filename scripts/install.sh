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

# Walk every ancestor of the prefix that exists: no sticky bit, not world-writable.
check_dir() {
  d=$1
  while [ -n "$d" ] && [ "$d" != "/" ]; do
    if [ -e "$d" ]; then
      [ -k "$d" ] && die "$d has the sticky bit; osqueryd refuses extensions there (choose e.g. /usr/local/outflow)"
      perms=$(stat -c %A "$d" 2>/dev/null || stat -f %Sp "$d")
      case "$perms" in ????????w?) die "$d is world-writable; osqueryd refuses extensions there" ;; esac
    fi
    d=$(dirname "$d")
  done
}
check_dir "$prefix"
check_dir "$(dirname "$load")"

src=$(cd "$(dirname "$0")" && pwd)
[ -f "$src/outflow.ext" ] || die "outflow.ext not found next to install.sh"
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
