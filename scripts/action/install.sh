#!/usr/bin/env bash
# The GitHub Action's install step: puts the lapse that the action's own ref names into a folder
# of its own, and prints (and writes to $GITHUB_OUTPUT as `path`) the binary's absolute path.
#
#   * At a release tag (`uses: OWNER/lapse@v1.2.3`, or a moving `@v1` / `@v1.2` pointing at it) the
#     checkout holds release/<tag>.sha256, committed at that tag. The release binary for the
#     runner's OS and architecture is downloaded and installed only if its SHA-256 equals the
#     committed one: a checksum fetched from the same release could not reveal a tampered release.
#     A mismatch is refused, loudly, with no fallback.
#   * Pinned by a commit SHA, on a branch, with no recorded release, or when the release has no
#     asset for this platform, it builds from the action's own checkout ($GITHUB_ACTION_PATH) with
#     `cargo build --locked`. Nothing is ever installed by bare name from a registry, and a `lapse`
#     already on PATH is never used.
#
# Environment (the action passes its inputs and contexts this way, never spliced into a script):
#   GITHUB_ACTION_PATH       the action's checkout (required)
#   LAPSE_ACTION_REF         github.action_ref: the tag, branch or SHA in `uses:`
#   LAPSE_ACTION_REPOSITORY  github.action_repository (OWNER/NAME), for the release URL
#   LAPSE_RELEASE_BASE_URL   where releases live (default https://github.com/$LAPSE_ACTION_REPOSITORY/releases/download);
#                            whatever it serves is still checked against the committed checksums
#   RUNNER_OS, RUNNER_ARCH   Linux|macOS, X64|ARM64
#   LAPSE_INSTALL_DIR        where the binary goes (default $RUNNER_TEMP/lapse-bin)
set -euo pipefail

log() { printf 'lapse install: %s\n' "$*" >&2; }
die() { printf '::error title=lapse install::%s\n' "$*" >&2; exit 1; }

action_path="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH must name the action checkout}"
action_path="$(cd "$action_path" && pwd)"
ref="${LAPSE_ACTION_REF:-}"
tmp_root="${RUNNER_TEMP:-${TMPDIR:-/tmp}}"
install_dir="${LAPSE_INSTALL_DIR:-$tmp_root/lapse-bin}"
mkdir -p "$install_dir"
install_dir="$(cd "$install_dir" && pwd)"

# The release asset name for this runner: lapse-<target triple>.
target_triple() {
  case "${RUNNER_OS:-$(uname -s)}/${RUNNER_ARCH:-$(uname -m)}" in
    Linux/X64 | Linux/x86_64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64 | Linux/aarch64) echo aarch64-unknown-linux-musl ;;
    macOS/ARM64 | Darwin/arm64) echo aarch64-apple-darwin ;;
    macOS/X64 | Darwin/x86_64) echo x86_64-apple-darwin ;;
    *) echo "" ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# The one release/<tag>.sha256 committed in the checkout, or nothing.
recorded_release() {
  local files=("$action_path"/release/*.sha256)
  [ -e "${files[0]}" ] || return 0
  [ "${#files[@]}" -eq 1 ] || die "more than one release/*.sha256 in $action_path: a release commit records exactly one"
  basename "${files[0]}" .sha256
}

# Whether the ref in `uses:` names the recorded release: the tag itself, or a moving major/minor
# tag (v1, v1.2) that points at it. A commit SHA, a branch or an empty ref does not.
ref_names_release() {
  local tag="$1"
  [ -n "$ref" ] || return 1
  [[ "$ref" =~ ^[0-9a-f]{40}$ ]] && return 1
  [ "$ref" = "$tag" ] && return 0
  [[ "$ref" =~ ^v[0-9]+(\.[0-9]+)?$ ]] && [[ "$tag" == "$ref".* ]] && return 0
  return 1
}

install_binary() {
  install -m 0755 "$1" "$install_dir/lapse"
  local path="$install_dir/lapse"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "path=$path" >> "$GITHUB_OUTPUT"; fi
  echo "$path"
}

build_from_checkout() {
  log "building from the action's own checkout ($1)"
  command -v cargo >/dev/null 2>&1 || die "no release binary to install ($1) and no cargo to build $action_path: add a Rust toolchain step (e.g. dtolnay/rust-toolchain) before this action"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$tmp_root/lapse-target}"
  # A CI gate writes JSON, HTML, SARIF and Markdown: the Parquet/CSV tables (polars, the heaviest
  # dependency) are left out, which shortens this build considerably.
  cargo build --release --locked --no-default-features --bin lapse --manifest-path "$action_path/Cargo.toml" >&2
  install_binary "$CARGO_TARGET_DIR/release/lapse"
}

tag="$(recorded_release)"
if [ -z "$tag" ]; then
  build_from_checkout "no release recorded in release/ at this ref"
  exit 0
fi
if ! ref_names_release "$tag"; then
  build_from_checkout "ref '${ref:-<none>}' is not the release tag $tag"
  exit 0
fi
triple="$(target_triple)"
asset="lapse-$triple"
expected="$(awk -v name="$asset" '$1 !~ /^#/ && ($2 == name || $2 == "*" name) { print $1 }' "$action_path/release/$tag.sha256")"
if [ -z "$triple" ] || [ -z "$expected" ]; then
  build_from_checkout "release $tag has no asset for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}"
  exit 0
fi
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] || die "release/$tag.sha256: the entry for $asset is not a SHA-256"

base="${LAPSE_RELEASE_BASE_URL:-https://github.com/${LAPSE_ACTION_REPOSITORY:?LAPSE_ACTION_REPOSITORY must name OWNER/NAME}/releases/download}"
download="$(mktemp "$tmp_root/lapse-download.XXXXXX")"
trap 'rm -f "$download"' EXIT
if ! curl --fail --silent --show-error --location --proto '=https,file' --retry 3 \
    --output "$download" "$base/$tag/$asset"; then
  build_from_checkout "could not download $asset of release $tag"
  exit 0
fi
actual="$(sha256_of "$download")"
if [ "$actual" != "$expected" ]; then
  die "refusing $asset of release $tag: its SHA-256 is $actual, but release/$tag.sha256 at this ref records $expected"
fi
log "release $tag, $asset, SHA-256 $actual matches release/$tag.sha256"
install_binary "$download"
