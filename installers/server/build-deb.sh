#!/bin/bash
# Builds the server's Debian package from a staged tree with dpkg-deb (no cargo-deb):
#   installers/server/build-deb.sh [--binary PATH] [--out DIR]
# --binary  a built schoolcard-server (default: `cargo build --release -p schoolcard-server`)
# --out     where the .deb goes (default: $CARGO_TARGET_DIR/debian, else target/debian)
# Prints the .deb's path on its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
binary=
out=$target/debian

while [ $# -gt 0 ]; do
    case $1 in
        --binary) binary=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "usage: $0 [--binary PATH] [--out DIR]" >&2; exit 2 ;;
    esac
done

if [ -z "$binary" ]; then
    (cd "$root" && cargo build --release --locked -p schoolcard-server)
    binary=$target/release/schoolcard-server
fi
[ -x "$binary" ] || { echo "build-deb.sh: $binary is not an executable" >&2; exit 1; }

# The workspace's version ([workspace.package] in the root Cargo.toml).
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml")
[ -n "$version" ] || { echo "build-deb.sh: no version in $root/Cargo.toml" >&2; exit 1; }
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/schoolcard-server
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/etc/schoolcard" "$pkg/usr/lib/systemd/system" \
    "$pkg/usr/share/doc/schoolcard-server/examples"
install -m 0755 "$binary" "$pkg/usr/bin/schoolcard-server"
strip --strip-unneeded "$pkg/usr/bin/schoolcard-server" 2>/dev/null || true
install -m 0755 "$here/schoolcard-server-backup" "$pkg/usr/bin/schoolcard-server-backup"
# 0640; the group becomes schoolcard in postinst (the group does not exist at build time).
install -m 0640 "$here/server.toml" "$pkg/etc/schoolcard/server.toml"
for unit in schoolcard-server.service schoolcard-server-backup.service schoolcard-server-backup.timer; do
    install -m 0644 "$here/$unit" "$pkg/usr/lib/systemd/system/$unit"
done
install -m 0644 "$here/README.md" "$pkg/usr/share/doc/schoolcard-server/README.md"
install -m 0644 "$here/nginx-schoolcard.conf" "$pkg/usr/share/doc/schoolcard-server/examples/nginx-schoolcard.conf"
license=$(sed -n '/^\[workspace.package\]/,/^\[/s/^license *= *"\(.*\)"/\1/p' "$root/Cargo.toml")
printf 'Проход и питание (schoolcard-server)\nLicense: %s\n' "${license:-see the project}" \
    >"$pkg/usr/share/doc/schoolcard-server/copyright"
for script in postinst prerm postrm; do
    install -m 0755 "$here/debian/$script" "$pkg/DEBIAN/$script"
done
echo /etc/schoolcard/server.toml >"$pkg/DEBIAN/conffiles"

# Depends: the package of each shared library the binary links (libc6 with the newest
# glibc symbol version it uses), the PostgreSQL client for backups, adduser for postinst.
glibc=$(objdump -T "$pkg/usr/bin/schoolcard-server" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
depends="libc6 (>= ${glibc:-2.31})"
for lib in $(objdump -p "$pkg/usr/bin/schoolcard-server" | awk '/NEEDED/ {print $2}'); do
    path=$(ldconfig -p | awk -v lib="$lib" '$1 == lib && !found {print $NF; found = 1}')
    [ -n "$path" ] || continue
    owner=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "$path" 2>/dev/null || true)
    owner=${owner%%:*}
    case $owner in
        "" | libc6) ;;
        *) case ", $depends, " in *", $owner, "*) ;; *) depends="$depends, $owner" ;; esac ;;
    esac
done
depends="$depends, postgresql-client, adduser"

cat >"$pkg/DEBIAN/control" <<CONTROL
Package: schoolcard-server
Version: $version
Architecture: $arch
Maintainer: Проход и питание <schoolcard@localhost>
Section: net
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
Depends: $depends
Recommends: postgresql (>= 13), nginx
Suggests: certbot, python3-certbot-nginx
Description: Проход и питание: the central server for school cards
 The municipality's server: workstations of every school enrol with a one-time
 code and sync their journal through it; it keeps the money ledger, takes online
 top-ups and serves the parent portal. PostgreSQL is its store.
 .
 Ships a hardened systemd unit, a daily backup timer and an nginx example.
CONTROL

mkdir -p "$out"
deb=$out/schoolcard-server_${version}_${arch}.deb
dpkg-deb --build --root-owner-group "$pkg" "$deb" >&2
echo "$deb"
