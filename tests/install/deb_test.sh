#!/usr/bin/env bash
# Builds the .deb with CPack and checks what a Debian machine would get: the files in the
# standard places, the config as a conffile, maintainer scripts that only use Debian's own
# tools, and dependencies on Debian packages.
#   deb_test.sh BUILD_DIR
# Exit 77 (skipped) without cpack or dpkg-deb.
set -euo pipefail
build=$1
command -v cpack >/dev/null && command -v dpkg-deb >/dev/null || { echo "SKIP: needs cpack and dpkg-deb" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$tmp" && cpack --config "$build/CPackConfig.cmake" -G DEB >cpack.log 2>&1) || { cat "$tmp/cpack.log" >&2; fail "cpack failed"; }
deb=$(ls "$tmp"/webhookd_*.deb)
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/webhookd ./usr/lib/systemd/system/webhookd.service ./etc/webhookd/webhookd.json \
         ./usr/share/webhookd/migrations/0001_initial.sql ./usr/share/doc/webhookd/README.md \
         ./usr/share/doc/webhookd/copyright ./usr/share/doc/webhookd/changelog.gz ./usr/share/doc/webhookd/docs/api.md; do
    grep -qx "$f" <<<"$files" || fail "$f is not in the package"
done
dpkg-deb -e "$deb" "$tmp/control"
grep -qx /etc/webhookd/webhookd.json "$tmp/control/conffiles" || fail "the config is not a conffile"
for script in postinst prerm postrm; do
    [ -x "$tmp/control/$script" ] || fail "$script missing or not executable"
    sh -n "$tmp/control/$script" || fail "$script is not valid sh"
    # Only what every Debian system has: sh builtins, systemctl (guarded), rm.
    if grep -vE '^\s*(#|$)' "$tmp/control/$script" | grep -oE '\b(deb-systemd-[a-z-]+|adduser|useradd|python3?|perl|curl)\b'; then
        fail "$script needs a tool beyond Debian's base"
    fi
done
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libssl3 libsqlite3-0 libboost-url1.81.0; do
    grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
dpkg-deb -x "$deb" "$tmp/root"
grep -qx "ExecStart=/usr/bin/webhookd --config /etc/webhookd/webhookd.json" "$tmp/root/usr/lib/systemd/system/webhookd.service" ||
    fail "the packaged unit does not start /usr/bin/webhookd with /etc/webhookd/webhookd.json"
# Every relative link of the packaged docs resolves inside the package.
docroot="$tmp/root/usr/share/doc/webhookd"
while IFS= read -r -d '' md; do
    for link in $(grep -oE '\]\([^)#]+' "$md" | sed 's/^](//' | grep -vE '^[a-z]+:'); do
        [ -e "$(dirname "$md")/$link" ] || fail "$(basename "$md") links to $link, which the package lacks"
    done
done < <(find "$docroot" -name '*.md' -print0)
"$tmp/root/usr/bin/webhookd" --version | grep -q '^webhookd ' || fail "the packaged binary does not run"
echo "PASS: $(basename "$deb"): $(wc -l <<<"$files") entries, Depends: $depends"
