#!/usr/bin/env bash
# History scan benchmark: a generated repository of ~10k commits (seeded, `git fast-import`),
# each changing one to three of 500 text files, with a synthetic key planted every 500 commits
# and deleted 100 commits later. Times `lapse collect --repo R --git-history` and prints the
# commits, blobs and bytes read and the secrets found (each once), with peak memory.
#
#   benches/history.sh            # 10000 commits
#   COMMITS=2000 benches/history.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lapse/target}"
COMMITS=${COMMITS:-10000}
REPO="${BENCH_DIR:-/tmp/lapse-bench-history}/repo-$COMMITS"
cargo build --release --quiet --bin lapse
BIN="$CARGO_TARGET_DIR/release/lapse"
if [ ! -d "$REPO/.git" ]; then
  mkdir -p "$REPO"
  git -C "$REPO" init -q
  python3 - "$COMMITS" <<'PY' | git -C "$REPO" fast-import --quiet
import random, string, sys
rng = random.Random(42)
commits = int(sys.argv[1])
words = ["alpha", "beta", "gamma", "delta", "config", "value", "name", "port", "host", "mode"]
out = sys.stdout.buffer
def data(text):
    raw = text.encode()
    out.write(b"data %d\n" % len(raw) + raw + b"\n")
def body():
    return "".join(f"{rng.choice(words)}_{i} = {rng.randint(0, 10**6)}\n" for i in range(rng.randint(20, 60)))
def key():
    return "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
for n in range(1, commits + 1):
    out.write(b"commit refs/heads/main\n")
    out.write(b"committer bench <bench@example.com> %d +0000\n" % (1_600_000_000 + n * 60))
    data(f"commit {n}")
    for _ in range(rng.randint(1, 3)):
        out.write(f"M 100644 inline src/file{rng.randint(0, 499)}.conf\n".encode())
        data(body())
    if n % 500 == 0:
        out.write(f"M 100644 inline secrets/leak{n}.env\n".encode())
        data(f"AWS_ACCESS_KEY_ID={key()}\n")
    if n % 500 == 100 and n > 500:
        out.write(f"D secrets/leak{n - 100}.env\n".encode())
PY
  git -C "$REPO" checkout -q main
fi
OUT=$(mktemp -d)
/usr/bin/time -v "$BIN" collect --repo "$REPO" --git-history --save "$OUT/inv.json" 2> "$OUT/time.txt"
python3 - "$OUT/inv.json" <<'PY'
import json, sys
inv = json.load(open(sys.argv[1]))
a = inv["sources"][0]["attributes"]
creds = inv["credentials"]
print(f'{a["history_commits"]} commits, {a["history_blobs"]} blobs, {a["history_bytes"] / 1e6:.0f} MB; '
      f'{len(creds)} secrets ({sum(1 for c in creds if c["attributes"].get("in_head"))} still in HEAD)')
PY
grep -E "Elapsed|Maximum resident" "$OUT/time.txt"
