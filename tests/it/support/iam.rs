//! Test support: IAM fixtures in moto and the list calls that prove what a run changed.

use aws_sdk_iam::types::{StatusType, Tag};

pub const READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}"#;

pub fn expiry(value: &str) -> Tag {
    Tag::builder()
        .key("lapse:expires-at")
        .value(value)
        .build()
        .expect("tag")
}

/// A user with `keys` access keys, a login profile, a managed and an inline policy; `marker` is its
/// `lapse:expires-at` tag (none for a standing user).
pub async fn user(
    iam: &aws_sdk_iam::Client,
    name: &str,
    marker: Option<&str>,
    keys: usize,
    policy_arn: &str,
) {
    let mut create = iam.create_user().user_name(name);
    if let Some(value) = marker {
        create = create.tags(expiry(value));
    }
    create.send().await.expect("create user");
    for _ in 0..keys {
        iam.create_access_key()
            .user_name(name)
            .send()
            .await
            .expect("key");
    }
    iam.create_login_profile()
        .user_name(name)
        .password("Correct-Horse-9!")
        .send()
        .await
        .expect("login profile");
    iam.attach_user_policy()
        .user_name(name)
        .policy_arn(policy_arn)
        .send()
        .await
        .expect("attach");
    iam.put_user_policy()
        .user_name(name)
        .policy_name("inline-read")
        .policy_document(READ_ONLY)
        .send()
        .await
        .expect("inline");
}

pub async fn managed_policy(iam: &aws_sdk_iam::Client, name: &str) -> String {
    let out = iam
        .create_policy()
        .policy_name(name)
        .policy_document(READ_ONLY)
        .send()
        .await
        .expect("policy");
    out.policy().and_then(|p| p.arn()).expect("arn").to_string()
}

pub async fn key_states(iam: &aws_sdk_iam::Client, user: &str) -> Vec<StatusType> {
    let out = iam
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .expect("list keys");
    out.access_key_metadata()
        .iter()
        .filter_map(|k| k.status().cloned())
        .collect()
}

pub async fn attached(iam: &aws_sdk_iam::Client, kind: &str, name: &str) -> Vec<String> {
    let arns: Vec<String> = if kind == "user" {
        let out = iam
            .list_attached_user_policies()
            .user_name(name)
            .send()
            .await
            .expect("list");
        out.attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_string))
            .collect()
    } else {
        let out = iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .expect("list");
        out.attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_string))
            .collect()
    };
    arns
}

pub async fn inline(iam: &aws_sdk_iam::Client, kind: &str, name: &str) -> Vec<String> {
    if kind == "user" {
        let out = iam
            .list_user_policies()
            .user_name(name)
            .send()
            .await
            .expect("list");
        out.policy_names().to_vec()
    } else {
        let out = iam
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .expect("list");
        out.policy_names().to_vec()
    }
}

pub async fn has_login_profile(iam: &aws_sdk_iam::Client, user: &str) -> bool {
    iam.get_login_profile().user_name(user).send().await.is_ok()
}
