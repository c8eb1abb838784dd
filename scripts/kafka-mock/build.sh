#!/usr/bin/env bash
# Builds the kafka-mock launcher (scripts/kafka-mock/launcher.c) statically linked against
# Debian's librdkafka 2.0.2 with scripts/kafka-mock/librdkafka-2.0.2-mock-fixes.patch applied,
# and prints the path of the executable.
#
# Both the library and the launcher are cached outside the clone, keyed by content hashes:
#   $HES_CACHE_DIR/librdkafka-2.0.2-<hash of patch + build flags>/{lib,include}
#   $HES_CACHE_DIR/kafka-mock-<hash of library key + launcher.c>/kafka-mock
# so a changed patch rebuilds the library (about 50 s on 2 cores) and a changed launcher only
# relinks it. HES_CACHE_DIR defaults to /var/cache/hes as root, else $XDG_CACHE_HOME/hes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
patch_file="$here/librdkafka-2.0.2-mock-fixes.patch"
launcher_src="$here/launcher.c"
librdkafka_version="2.0.2"
configure_flags=(--disable-ssl --disable-sasl --disable-gssapi --disable-zstd --disable-curl
  --disable-zlib --disable-lz4-ext --no-download)

if [[ -z "${HES_CACHE_DIR:-}" ]]; then
  if [[ "$(id -u)" == 0 ]]; then HES_CACHE_DIR=/var/cache/hes; else HES_CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/hes"; fi
fi
mkdir -p "$HES_CACHE_DIR"

lib_key="$( (cat "$patch_file"; echo "$librdkafka_version ${configure_flags[*]}") | sha256sum | cut -c1-16)"
lib_dir="$HES_CACHE_DIR/librdkafka-$librdkafka_version-$lib_key"
bin_key="$( (echo "$lib_key"; cat "$launcher_src") | sha256sum | cut -c1-16)"
bin_dir="$HES_CACHE_DIR/kafka-mock-$bin_key"
launcher="$bin_dir/kafka-mock"

log() { echo "kafka-mock build: $*" >&2; }

# apt-get with a private sources list holding deb-src entries for the same mirrors and snapshot
# as the machine's debian.sources (the machine itself has no deb-src entries).
private_apt() {
  local apt_dir="$HES_CACHE_DIR/apt"
  mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial"
  local system_sources=/etc/apt/sources.list.d/debian.sources
  if [[ ! -f "$system_sources" ]]; then
    log "no $system_sources to derive deb-src entries from"
    return 1
  fi
  sed 's/^Types: deb$/Types: deb-src/' "$system_sources" >"$apt_dir/sources.list.d/debian-src.sources"
  local opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
    -o "Dir::State::Lists=$apt_dir/lists" -o "APT::Sandbox::User=root")
  if ! compgen -G "$apt_dir/lists/*Sources*" >/dev/null; then
    apt-get -qq "${opts[@]}" update >&2
  fi
  apt-get -qq "${opts[@]}" "$@" >&2
}

build_library() {
  local work
  work="$(mktemp -d "$HES_CACHE_DIR/build.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: the trap must remove this build's directory
  trap "rm -rf '$work'" RETURN
  log "fetching Debian source of librdkafka $librdkafka_version"
  (cd "$work" && private_apt source --download-only "librdkafka=$librdkafka_version-1")
  (cd "$work" && dpkg-source --no-check -x librdkafka_"$librdkafka_version"-1.dsc src >&2)
  log "applying $(basename "$patch_file")"
  (cd "$work/src" && patch -p1 --forward --quiet <"$patch_file" >&2)
  log "building static librdkafka (about a minute on 2 cores)"
  (cd "$work/src" && ./configure "${configure_flags[@]}" >"$work/configure.log" 2>&1) ||
    { tail -20 "$work/configure.log" >&2; return 1; }
  (cd "$work/src" && make -j"$(nproc)" -C src librdkafka.a >"$work/make.log" 2>&1) ||
    { grep -E 'error|Error' "$work/make.log" | head -20 >&2; return 1; }
  mkdir -p "$work/out/lib" "$work/out/include"
  cp "$work/src/src/librdkafka.a" "$work/out/lib/"
  cp "$work/src/src/rdkafka.h" "$work/src/src/rdkafka_mock.h" "$work/out/include/"
  rm -rf "$lib_dir"
  mv "$work/out" "$lib_dir"
}

link_launcher() {
  local tmp="$bin_dir.tmp.$$"
  mkdir -p "$tmp"
  gcc -O2 -Wall -Wextra -o "$tmp/kafka-mock" "$launcher_src" -I"$lib_dir/include" \
    "$lib_dir/lib/librdkafka.a" -lpthread -lm -ldl -lrt
  rm -rf "$bin_dir"
  mv "$tmp" "$bin_dir"
}

if [[ ! -x "$launcher" ]]; then
  # One build at a time per cache; a waiting caller finds the finished result.
  exec 9>"$HES_CACHE_DIR/build.lock"
  flock 9
  if [[ ! -f "$lib_dir/lib/librdkafka.a" ]]; then build_library; fi
  if [[ ! -x "$launcher" ]]; then link_launcher; fi
  flock -u 9
fi

echo "$launcher"
