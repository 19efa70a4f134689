#!/usr/bin/env python3
"""Writes the offline demo estate of one AWS account, as the AWS CLI would fetch it.

  aws iam get-account-authorization-details --output json   -> authorization-details-page-{1,2}.json
  aws iam list-roles --output json                          -> list-roles.json
  aws iam get-credential-report (Content, base64-decoded)   -> credential-report.csv

ListRoles carries what the details leave out (MaxSessionDuration, Description).

Snapshot date 2026-11-20; scan it with --as-of 2026-11-20T00:00:00Z so ages stay as written.
Every built-in AWS rule fires on some identity here and stays quiet on a look-alike.
Rerun with `python3 examples/estate/generate.py` after editing; the output is deterministic.
"""
import csv, hashlib, io, json, os, urllib.parse
from datetime import datetime, timedelta, timezone

ACCOUNT = "111122223333"
SNAP = datetime(2026, 11, 20, tzinfo=timezone.utc)
HERE = os.path.dirname(os.path.abspath(__file__))


def ago(days):
    return (SNAP - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_ts(days):
    return (SNAP - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def enc(doc):
    # Real AWS returns policy documents URL-encoded.
    return urllib.parse.quote(json.dumps(doc, separators=(",", ":")), safe="")


def stmt(actions, resource="*", effect="Allow", key="Action", **extra):
    s = {"Effect": effect, key: actions, "Resource": resource}
    s.update(extra)
    return s


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


AWS_MANAGED = {
    "AdministratorAccess": doc(stmt("*")),
    "ReadOnlyAccess": doc(stmt(["s3:Get*", "s3:List*", "ec2:Describe*", "iam:Get*", "iam:List*", "cloudwatch:Describe*"])),
    "AmazonS3ReadOnlyAccess": doc(stmt(["s3:Get*", "s3:List*"])),
    "IAMFullAccess": doc(stmt("iam:*")),
    "AWSSupportServiceRolePolicy": doc(stmt(["support:*"])),
}
CUSTOMER = {
    "deploy-artifacts": doc(stmt(["s3:PutObject", "s3:GetObject"], "arn:aws:s3:::acme-artifacts/*")),
    "logs-bucket-full": doc(stmt("s3:*", ["arn:aws:s3:::acme-logs", "arn:aws:s3:::acme-logs/*"])),
    "everything-but-iam": doc(stmt("iam:*", key="NotAction")),
    "metrics-put": doc(stmt(["cloudwatch:PutMetricData"])),
    "deny-everything": doc(stmt("*", effect="Deny")),
    "ecr-push": doc(stmt(["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"], f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/app")),
    "dynamo-reader": doc(stmt(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"], f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/orders")),
}


def policy_arn(name):
    if name in AWS_MANAGED:
        return f"arn:aws:iam::aws:policy/{name}"
    return f"arn:aws:iam::{ACCOUNT}:policy/{name}"


def attached(*names):
    return [{"PolicyName": n, "PolicyArn": policy_arn(n)} for n in names]


def tags(**kv):
    return [{"Key": k.replace("__", ":").replace("_", "-"), "Value": v} for k, v in kv.items()]


# name: (age_days, password?, mfa?, groups, managed, inline, tags, keys[(active, rotated_days, used_days|None|'NA')])
USERS = {
    "ci-deploy": (400, False, False, [], ["AdministratorAccess"], {}, {}, [(True, 200, 1)]),
    "terraform": (500, False, False, [], ["IAMFullAccess"], {}, {"lapse__owner": "platform@acme.example"}, [(True, 30, 1), (True, 20, 2)]),
    "backup-agent": (300, False, False, [], ["AmazonS3ReadOnlyAccess"], {}, {}, [(True, 60, 60)]),
    "new-integration": (20, False, False, [], ["dynamo-reader"], {}, {}, [(True, 20, "NA")]),
    "fresh-bot": (2, False, False, [], ["dynamo-reader"], {}, {"lapse__expires-at": "2027-02-01T00:00:00Z"}, [(True, 2, "NA")]),
    "alice": (700, True, True, ["Admins"], [], {}, {"team": "platform"}, []),
    "bob": (650, True, True, ["Developers"], [], {}, {}, []),
    "contractor-temp": (40, False, False, [], ["deploy-artifacts"], {}, {"lapse__expires-at": "2026-11-01T00:00:00Z", "lapse__owner": "sec@acme.example", "lapse__reason": "INC-4411 data fix"}, [(True, 40, 3)]),
    "oncall-breakglass": (10, False, False, [], ["ReadOnlyAccess"], {}, {"lapse__expires-at": "2026-12-15T00:00:00Z", "lapse__owner": "oncall@acme.example"}, [(True, 10, 1)]),
    "legacy-etl": (900, False, False, [], ["dynamo-reader"], {}, {"lapse__expires-at": "next tuesday"}, [(True, 30, 2)]),
    "s3-reader": (100, False, False, [], ["AmazonS3ReadOnlyAccess"], {}, {"lapse__expires-at": "2027-01-31T00:00:00Z"}, [(True, 10, 0)]),
    "data-pipeline": (200, False, False, [], ["everything-but-iam"], {}, {"lapse__expires-at": "2027-03-01T00:00:00Z"}, [(True, 15, 1)]),
    "log-shipper": (250, False, False, [], ["logs-bucket-full"], {}, {"lapse__expires-at": "2027-04-01T00:00:00Z"}, [(True, 25, 1)]),
    "metrics-writer": (180, False, False, [], ["metrics-put"], {}, {"lapse__expires-at": "2027-04-01T00:00:00Z"}, [(True, 25, 0)]),
    "fenced-admin": (150, False, False, [], ["AdministratorAccess", "deny-everything"], {}, {"lapse__expires-at": "2027-04-01T00:00:00Z"}, [(True, 20, 1)]),
    "ecr-publisher": (90, False, False, [], ["ecr-push"], {}, {"lapse__expires-at": "2027-02-01T00:00:00Z"}, [(True, 30, 0)]),
    "inline-admin-bot": (365, False, False, [], [], {"god-mode": doc(stmt("*"))}, {}, [(True, 80, 5)]),
    "retired-service": (800, False, False, [], ["AmazonS3ReadOnlyAccess"], {}, {}, [(False, 500, 400)]),
}
for i in range(1, 12):  # a tidy fleet: short-lived, tagged, rotated, in use
    USERS[f"svc-worker-{i:02d}"] = (60, False, False, [], ["dynamo-reader"], {}, {"lapse__expires-at": "2027-01-15T00:00:00Z", "lapse__owner": "payments@acme.example"}, [(True, 5 + i, 0)])

GROUPS = {
    "Admins": (["AdministratorAccess"], {}),
    "Developers": (["ReadOnlyAccess"], {"deploy": doc(stmt(["s3:PutObject"], "arn:aws:s3:::acme-artifacts/*"))}),
}

GITHUB_OIDC = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"


def trust(*statements):
    return doc(*statements)


def assume(principal, action="sts:AssumeRole", **cond):
    s = {"Effect": "Allow", "Principal": principal, "Action": action}
    if cond:
        s["Condition"] = cond
    return s


# name: (age, path, trust, managed, inline, tags, last_used_days|None, max_session)
ROLES = {
    "github-deploy-unbound": (120, "/", trust(assume({"Federated": GITHUB_OIDC}, "sts:AssumeRoleWithWebIdentity", StringEquals={"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"})), ["deploy-artifacts"], {}, {}, 1, 3600),
    "github-deploy-org-wide": (110, "/", trust(assume({"Federated": GITHUB_OIDC}, "sts:AssumeRoleWithWebIdentity", StringEquals={"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}, StringLike={"token.actions.githubusercontent.com:sub": "repo:acme/*"})), ["ecr-push"], {}, {}, 2, 3600),
    "github-deploy-app": (100, "/", trust(assume({"Federated": GITHUB_OIDC}, "sts:AssumeRoleWithWebIdentity", StringEquals={"token.actions.githubusercontent.com:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main"})), ["deploy-artifacts"], {}, {}, 1, 3600),
    "partner-readonly": (400, "/partners/", trust(assume({"AWS": "arn:aws:iam::444455556666:root"})), ["ReadOnlyAccess"], {}, {}, 10, 3600),
    "partner-readonly-ext": (400, "/partners/", trust(assume({"AWS": "arn:aws:iam::777788889999:root"}, StringEquals={"sts:ExternalId": "acme-7f3a"})), ["ReadOnlyAccess"], {}, {}, 5, 3600),
    "public-bucket-role": (50, "/", trust(assume({"AWS": "*"})), ["AmazonS3ReadOnlyAccess"], {}, {}, 20, 3600),
    "org-restricted-any": (50, "/", trust(assume({"AWS": "*"}, StringEquals={"aws:PrincipalOrgID": "o-acme12345"})), ["AmazonS3ReadOnlyAccess"], {}, {}, 3, 3600),
    "lambda-orders": (300, "/service/", trust(assume({"Service": "lambda.amazonaws.com"})), ["dynamo-reader"], {}, {}, 0, 3600),
    # Can make itself admin, but only with MFA: conditional admin (AWS-018).
    "mfa-gated-deployer": (90, "/", trust(assume({"Service": "codebuild.amazonaws.com"})), [], {"self-edit": doc(stmt(["iam:PutRolePolicy"], f"arn:aws:iam::{ACCOUNT}:role/mfa-gated-deployer", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))}, {}, 2, 3600),
    "analytics-long-session": (200, "/", trust(assume({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})), ["ReadOnlyAccess"], {}, {}, 4, 43200),
    "old-migration-role": (600, "/", trust(assume({"Service": "ec2.amazonaws.com"})), ["deploy-artifacts"], {}, {}, 200, 3600),
    "never-used-role": (150, "/", trust(assume({"Service": "ec2.amazonaws.com"})), ["dynamo-reader"], {}, {}, None, 3600),
    "admin-automation": (500, "/", trust(assume({"Service": "ec2.amazonaws.com"})), ["AdministratorAccess"], {}, {}, 1, 3600),
    "incident-responder": (30, "/", trust(assume({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})), ["AdministratorAccess"], {}, {"lapse__expires-at": "2026-11-10T00:00:00Z", "lapse__reason": "INC-4411"}, 12, 3600),
    "release-approver": (5, "/", trust(assume({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})), ["AdministratorAccess"], {}, {"lapse__expires-at": "2026-11-27T00:00:00Z", "lapse__owner": "release@acme.example"}, 1, 3600),
    "AWSServiceRoleForSupport": (900, "/aws-service-role/support.amazonaws.com/", trust(assume({"Service": "support.amazonaws.com"})), ["AWSSupportServiceRolePolicy"], {}, {}, None, 3600),
    "AWSReservedSSO_AdministratorAccess_0123456789abcdef": (800, "/aws-reserved/sso.amazonaws.com/", trust(assume({"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/AWSSSO_abc_DO_NOT_DELETE"}, "sts:AssumeRoleWithSAML")), ["AdministratorAccess"], {}, {}, 1, 43200),
}

DESCRIPTIONS = {
    "analytics-long-session": "Analysts' notebooks; long sessions for overnight queries",
    "lambda-orders": "Orders API Lambda",
}


def user_detail(name, spec):
    age, _pw, _mfa, groups, managed, inline, tg, _keys = spec
    d = {
        "Path": "/", "UserName": name, "UserId": "AIDA" + hashlib.sha256(name.encode()).hexdigest()[:16].upper(),
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "CreateDate": ago(age),
        "UserPolicyList": [{"PolicyName": k, "PolicyDocument": enc(v)} for k, v in inline.items()],
        "GroupList": groups, "AttachedManagedPolicies": attached(*managed), "Tags": tags(**tg),
    }
    return d


def role_base(name, spec):
    """The fields GetAccountAuthorizationDetails and ListRoles share."""
    age, path, tr = spec[:3]
    return {
        "Path": path, "RoleName": name, "RoleId": "AROA" + ("%016X" % (sum(map(ord, name)) * 7919))[:16],
        "Arn": f"arn:aws:iam::{ACCOUNT}:role{path}{name}", "CreateDate": ago(age),
        "AssumeRolePolicyDocument": enc(tr),
    }


def role_detail(name, spec):
    _age, _path, _tr, managed, inline, tg, used, _max_session = spec
    d = role_base(name, spec)
    d.update({
        "InstanceProfileList": [],
        "RolePolicyList": [{"PolicyName": k, "PolicyDocument": enc(v)} for k, v in inline.items()],
        "AttachedManagedPolicies": attached(*managed), "Tags": tags(**tg),
        "RoleLastUsed": {} if used is None else {"LastUsedDate": ago(used), "Region": "eu-west-1"},
    })
    return d


def listed_role(name, spec):
    """One role as ListRoles returns it (no tags, policies or last use; session limit instead)."""
    d = role_base(name, spec)
    d["MaxSessionDuration"] = spec[7]
    if name in DESCRIPTIONS:
        d["Description"] = DESCRIPTIONS[name]
    return d


def policy_detail(name, document):
    aws = name in AWS_MANAGED
    return {
        "PolicyName": name, "PolicyId": "ANPA" + ("%016X" % (sum(map(ord, name)) * 104729))[:16],
        "Arn": policy_arn(name), "Path": "/" if not aws else "/", "DefaultVersionId": "v1",
        "AttachmentCount": 1, "IsAttachable": True, "CreateDate": ago(1000),
        "UpdateDate": ago(1000),
        "PolicyVersionList": [{"Document": enc(document), "VersionId": "v1", "IsDefaultVersion": True, "CreateDate": ago(1000)}],
    }


def main():
    users = [user_detail(n, s) for n, s in USERS.items()]
    roles = [role_detail(n, s) for n, s in ROLES.items()]
    groups = [{"Path": "/", "GroupName": g, "GroupId": "AGPA" + g.upper()[:8].ljust(8, "X"),
               "Arn": f"arn:aws:iam::{ACCOUNT}:group/{g}", "CreateDate": ago(1000),
               "GroupPolicyList": [{"PolicyName": k, "PolicyDocument": enc(v)} for k, v in inline.items()],
               "AttachedManagedPolicies": attached(*managed)} for g, (managed, inline) in GROUPS.items()]
    policies = [policy_detail(n, d) for n, d in {**AWS_MANAGED, **CUSTOMER}.items()]
    half = len(users) // 2
    page1 = {"UserDetailList": users[:half], "GroupDetailList": groups, "RoleDetailList": roles[:8],
             "Policies": policies[:6], "IsTruncated": True, "Marker": "bWFya2VyLXBhZ2UtMg=="}
    page2 = {"UserDetailList": users[half:], "GroupDetailList": [], "RoleDetailList": roles[8:],
             "Policies": policies[6:], "IsTruncated": False}
    for i, page in enumerate([page1, page2], 1):
        with open(os.path.join(HERE, f"authorization-details-page-{i}.json"), "w") as f:
            json.dump(page, f, indent=2)
            f.write("\n")
    with open(os.path.join(HERE, "list-roles.json"), "w") as f:
        json.dump({"Roles": [listed_role(n, s) for n, s in ROLES.items()]}, f, indent=2)
        f.write("\n")

    cols = ["user", "arn", "user_creation_time", "password_enabled", "password_last_used",
            "password_last_changed", "password_next_rotation", "mfa_active",
            "access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
            "access_key_1_last_used_region", "access_key_1_last_used_service",
            "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
            "access_key_2_last_used_region", "access_key_2_last_used_service",
            "cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated"]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(cols)
    # The root user: console password used recently, and an access key (CIS 1.4 says none).
    w.writerow(["<root_account>", f"arn:aws:iam::{ACCOUNT}:root", report_ts(2000), "not_supported",
                report_ts(30), "not_supported", "not_supported", "true",
                "true", report_ts(1200), report_ts(90), "us-east-1", "iam",
                "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "false", "N/A"])
    for name, (age, pw, mfa, *_rest) in USERS.items():
        keys = USERS[name][7]
        row = [name, f"arn:aws:iam::{ACCOUNT}:user/{name}", report_ts(age), str(pw).lower(),
               report_ts(3) if pw else "N/A", report_ts(80) if pw else "N/A", "N/A", str(mfa).lower()]
        for slot in range(2):
            if slot < len(keys):
                active, rotated, used = keys[slot]
                if used == "NA":
                    row += [str(active).lower(), report_ts(rotated), "N/A", "N/A", "N/A"]
                else:
                    row += [str(active).lower(), report_ts(rotated), report_ts(used), "eu-west-1", "s3"]
            else:
                row += ["false", "N/A", "N/A", "N/A", "N/A"]
        row += ["false", "N/A", "false", "N/A"]
        w.writerow(row)
    with open(os.path.join(HERE, "credential-report.csv"), "w") as f:
        f.write(out.getvalue())


if __name__ == "__main__":
    main()
