#!/usr/bin/env bash
# Bench: API calls and wall time of lapse's bulk live AWS collection against the per-entity
# pattern (ListUsers, then ListAccessKeys/GetAccessKeyLastUsed/... per user, GetRole/... per
# role), on moto's server holding USERS users (each with an access key) and ROLES roles.
#
#   benches/aws_live_calls.sh               # 1,000 users and 1,000 roles
#   USERS=200 ROLES=200 benches/aws_live_calls.sh
#
# moto answers in-process with no network latency, so the wall times understate real AWS (where
# each call costs ~50-150 ms and IAM throttles at a few calls per second); the call counts are
# exact. The per-entity pattern runs in boto3 next to the bulk pattern in boto3, so that the
# comparison is not one of languages; lapse's own run is reported as well.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${LAPSE_CACHE:-$HOME/.cache/lapse}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
MOTO="${LAPSE_MOTO_SERVER:-$CACHE/moto-5.2.5/bin/moto_server}"
[ -x "$MOTO" ] || { echo "moto_server not found at $MOTO: run scripts/test once (it installs moto)" >&2; exit 2; }
PY="$(dirname "$MOTO")/python"
USERS="${USERS:-1000}"
ROLES="${ROLES:-1000}"

cargo build --quiet --bin lapse
LAPSE="$CARGO_TARGET_DIR/debug/lapse"

PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
ENDPOINT="http://127.0.0.1:$PORT"
MOTO_IAM_LOAD_MANAGED_POLICIES=true "$MOTO" -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
MOTO_PID=$!
WORK="$(mktemp -d)"
trap 'kill "$MOTO_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do "$PY" -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break; sleep 0.2; done

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

echo "populating moto with $USERS users (+1 key each) and $ROLES roles ..." >&2
"$PY" - "$ENDPOINT" "$USERS" "$ROLES" <<'PYEOF'
import json, sys, boto3
endpoint, users, roles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
iam = boto3.client("iam", endpoint_url=endpoint)
trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
for i in range(users):
    iam.create_user(UserName=f"svc-{i:05}", Tags=[{"Key": "team", "Value": "bench"}])
    iam.create_access_key(UserName=f"svc-{i:05}")
for i in range(roles):
    iam.create_role(RoleName=f"app-{i:05}", AssumeRolePolicyDocument=trust)
    if i % 10 == 0:
        iam.attach_role_policy(RoleName=f"app-{i:05}", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
PYEOF

echo "lapse collect --aws (bulk, Rust) ..." >&2
START=$(date +%s.%N)
"$LAPSE" collect --aws --aws-endpoint-url "$ENDPOINT" --quiet --save "$WORK/inv.json" >/dev/null 2>&1 || true
END=$(date +%s.%N)
"$PY" - "$WORK/inv.json" "$START" "$END" <<'PYEOF'
import json, sys
inv = json.load(open(sys.argv[1]))
calls = {}
for s in inv["sources"]:
    for op, n in s["api_calls"].items():
        calls[op] = calls.get(op, 0) + n
users = sum(1 for p in inv["principals"] if p["kind"] == "user")
roles = sum(1 for p in inv["principals"] if p["kind"] == "role")
keys = sum(1 for c in inv["credentials"] if c["kind"] == "access_key")
print(f"lapse bulk (Rust):     {sum(calls.values()):>6} calls  {float(sys.argv[3]) - float(sys.argv[2]):7.2f} s  "
      f"({users} users, {roles} roles, {keys} keys, {len(inv['coverage_gaps'])} gaps)  {calls}")
PYEOF

"$PY" - "$ENDPOINT" <<'PYEOF'
import sys, time, boto3
from collections import Counter
endpoint = sys.argv[1]
iam = boto3.client("iam", endpoint_url=endpoint)
calls = Counter()
iam.meta.events.register("before-call.iam.*", lambda model, **kw: calls.update([model.name]))

def bulk():
    pages = iam.get_paginator("get_account_authorization_details").paginate(PaginationConfig={"PageSize": 1000})
    n = sum(len(p["UserDetailList"]) + len(p["RoleDetailList"]) for p in pages)
    while iam.generate_credential_report()["State"] != "COMPLETE":
        time.sleep(0.5)
    iam.get_credential_report()
    for _ in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 1000}):
        pass
    return n

def per_entity():
    n = 0
    for page in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 1000}):
        for u in page["Users"]:
            name = u["UserName"]; n += 1
            for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
                iam.get_access_key_last_used(AccessKeyId=k["AccessKeyId"])
            iam.list_attached_user_policies(UserName=name)
            iam.list_user_policies(UserName=name)
            iam.list_groups_for_user(UserName=name)
            iam.list_user_tags(UserName=name)
    for page in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 1000}):
        for r in page["Roles"]:
            name = r["RoleName"]; n += 1
            iam.get_role(RoleName=name)  # RoleLastUsed and tags are not in ListRoles
            iam.list_attached_role_policies(RoleName=name)
            iam.list_role_policies(RoleName=name)
    return n

for label, fn in [("boto3 bulk", bulk), ("boto3 per-entity", per_entity)]:
    calls.clear()
    start = time.monotonic()
    n = fn()
    took = time.monotonic() - start
    print(f"{label + ':':<22} {sum(calls.values()):>6} calls  {took:7.2f} s  ({n} principals)")
PYEOF
