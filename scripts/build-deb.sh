#!/usr/bin/env bash
# Builds the Debian package target/zaro_VERSION_all.deb from packaging/: the agent's jar in
# /usr/share/zaro, the zaro command in /usr/bin, the zaro.service systemd unit, and
# config/zaro.properties.example as the conffile /etc/zaro/zaro.properties. Builds the jar first
# when agent/target/zaro.jar is missing. Needs dpkg-deb (Debian's dpkg) and, for the jar, a JDK
# and Maven; runs as any user (the package's files belong to root). Prints the package's path.
#
# Usage: scripts/build-deb.sh [OUTPUT_DIRECTORY]   (default: target/ in the project root)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(mkdir -p "${1:-$root/target}" && cd "${1:-$root/target}" && pwd)

jar="$root/agent/target/zaro.jar"
if [[ ! -f "$jar" ]]; then
  echo "build-deb: building $jar" >&2
  mvn -q -B -ntp -f "$root/pom.xml" install -DskipTests >&2
fi

# The project's version (the parent POM's first <version>); a Maven snapshot sorts before its
# release in Debian's order: 0.1.0-SNAPSHOT becomes 0.1.0~SNAPSHOT.
version=$(sed -n 's:^  <version>\(.*\)</version>$:\1:p' "$root/pom.xml" | head -n 1)
if [[ -z "$version" ]]; then
  echo "build-deb: no <version> in $root/pom.xml" >&2
  exit 1
fi
version=${version//-/\~}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
install -D -m 0644 "$jar" "$stage/usr/share/zaro/zaro.jar"
install -D -m 0755 "$root/packaging/zaro" "$stage/usr/bin/zaro"
install -D -m 0644 "$root/config/jvm.options" "$stage/usr/share/zaro/jvm.options"
install -D -m 0644 "$root/packaging/zaro.service" "$stage/usr/lib/systemd/system/zaro.service"
install -D -m 0644 "$root/config/zaro.properties.example" "$stage/etc/zaro/zaro.properties"
install -D -m 0644 "$root/README.md" "$stage/usr/share/doc/zaro/README.md"
install -D -m 0644 "$root/config/zaro.properties.example" "$stage/usr/share/doc/zaro/zaro.properties.example"

install -d -m 0755 "$stage/DEBIAN"
for script in postinst prerm postrm; do
  install -m 0755 "$root/packaging/debian/$script" "$stage/DEBIAN/$script"
done
install -m 0644 "$root/packaging/debian/conffiles" "$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@INSTALLED_SIZE@/$size/" "$root/packaging/debian/control" > "$stage/DEBIAN/control"
chmod 0644 "$stage/DEBIAN/control"

deb="$out/zaro_${version}_all.deb"
# The jar is compressed already: gzip takes 2 s here, xz 30 s for a package 1 % smaller.
dpkg-deb --root-owner-group -Zgzip --build "$stage" "$deb" >/dev/null
echo "$deb"
