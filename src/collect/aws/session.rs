//! Collect, AWS sessions: the one builder of AWS clients, shared by `scan`, `collect`, `revoke`
//! and `grant`. From validated [`LiveOptions`] it makes the base SDK config (standard chain,
//! profile, region, endpoint, retries) and, per account, the session of the role to assume:
//! the read-only audit role (`role_arn`) for reading, the revoke role (`revoke_role_arn`) for
//! writing, both with the same STS options (external id, session name, duration). Assumed
//! credentials refresh themselves when an apply outlasts them.
//!
//! A writer is never handed out unverified: [`AwsSessions::writer`] asks
//! `sts:GetCallerIdentity` which account the session is in and refuses one that is not the
//! account asked for.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};

use super::accounts::{ACCOUNT_PLACEHOLDER, LiveOptions};
use super::client::{ClientSettings, sdk_config};
use super::fetch::{self, CallFailure, Calls, count};

/// Session name of the audit role when the options name none: CloudTrail says who read.
pub const AUDIT_SESSION_NAME: &str = "lapse-audit";
/// Session name of the revoke role when the options name none: CloudTrail says who wrote.
pub const WRITE_SESSION_NAME: &str = "lapse-revoke";
/// STS minimum, and the default: a scan needs far less, an apply's credentials refresh.
pub const DEFAULT_SESSION_SECONDS: u32 = 900;
/// Credentials closer than this to their expiry are fetched again.
const REFRESH_MARGIN: Duration = Duration::from_secs(120);

/// What a session is for: the role it assumes follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Reading: `role_arn` (the audit role), or the ambient credentials.
    Audit,
    /// Writing (`revoke`, `grant`): `revoke_role_arn`, or the ambient credentials.
    Write,
}

/// The AWS side of a run: base config plus the options every session is built from.
#[derive(Debug, Clone)]
pub struct AwsSessions {
    base: SdkConfig,
    opts: LiveOptions,
}

/// A session confirmed by `sts:GetCallerIdentity` to be in `account`.
#[derive(Debug, Clone)]
pub struct AccountSession {
    pub account: String,
    /// The caller ARN STS named (an assumed-role session, or the ambient identity).
    pub caller_arn: String,
    pub config: SdkConfig,
}

impl AccountSession {
    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.config)
    }
}

impl AwsSessions {
    /// Loads the base config once; nothing is called yet.
    pub async fn new(opts: &LiveOptions) -> AwsSessions {
        let base = sdk_config(ClientSettings {
            profile: opts.profile.as_deref(),
            region: opts.region.as_deref(),
            endpoint_url: opts.endpoint_url.as_deref(),
            max_attempts: opts.max_attempts,
        })
        .await;
        AwsSessions {
            base,
            opts: opts.clone(),
        }
    }

    /// Sessions over a base config the caller made (an embedding application, tests): clients
    /// are passed in, never global.
    pub fn with_base(base: SdkConfig, opts: &LiveOptions) -> AwsSessions {
        AwsSessions {
            base,
            opts: opts.clone(),
        }
    }

    pub fn options(&self) -> &LiveOptions {
        &self.opts
    }

    /// The ambient credentials' config.
    pub fn base(&self) -> &SdkConfig {
        &self.base
    }

    /// The role `purpose` assumes in `account`, if the options name one.
    pub fn role_for(&self, purpose: Purpose, account: &str) -> Option<String> {
        let template = match purpose {
            Purpose::Audit => self.opts.role_arn.as_ref(),
            Purpose::Write => self.opts.revoke_role_arn.as_ref(),
        }?;
        Some(template.replace(ACCOUNT_PLACEHOLDER, account))
    }

    fn session_name(&self, purpose: Purpose) -> String {
        match (&self.opts.session_name, purpose) {
            (Some(name), _) => name.clone(),
            (None, Purpose::Audit) => AUDIT_SESSION_NAME.to_string(),
            (None, Purpose::Write) => WRITE_SESSION_NAME.to_string(),
        }
    }

    /// The config of `role_arn` assumed with the base credentials. The first AssumeRole happens
    /// here (so its failure names `sts:AssumeRole`); later ones happen when the credentials
    /// near their expiry.
    pub async fn assume(
        &self,
        role_arn: &str,
        purpose: Purpose,
        calls: &mut Calls,
    ) -> Result<SdkConfig, CallFailure> {
        let assumer = Assumer {
            sts: aws_sdk_sts::Client::new(&self.base),
            role_arn: role_arn.to_string(),
            session_name: self.session_name(purpose),
            seconds: self.opts.session_seconds,
            external_id: self.opts.external_id.clone(),
        };
        count(calls, "sts:AssumeRole");
        let first = assumer.fetch().await?;
        let provider = RefreshingRole {
            assumer,
            current: Mutex::new(Some(first)),
        };
        Ok(self
            .base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build())
    }

    /// A writing session in `account`, verified: the revoke role assumed into it (or the
    /// ambient credentials when no revoke role is named), then `sts:GetCallerIdentity` must name
    /// `account`. Anything else is an error that refuses the account's actions.
    pub async fn writer(&self, account: &str) -> Result<AccountSession, CallFailure> {
        let mut calls = Calls::new();
        let config = match self.role_for(Purpose::Write, account) {
            Some(role_arn) => self.assume(&role_arn, Purpose::Write, &mut calls).await?,
            None => self.base.clone(),
        };
        let (actual, caller_arn) = caller_identity(&config, &mut calls).await?;
        if actual != account {
            let hint = if self.opts.revoke_role_arn.is_none() {
                " (name the role to assume there with --aws-revoke-role-arn or [aws] revoke_role_arn)"
            } else {
                ""
            };
            let reason = format!(
                "refused: the credentials for account {account} are in account {actual}{hint}"
            );
            return Err(CallFailure::new("sts:GetCallerIdentity", "account", reason));
        }
        Ok(AccountSession {
            account: actual,
            caller_arn,
            config,
        })
    }
}

/// `sts:GetCallerIdentity`: the account and ARN a config's credentials are in.
pub async fn caller_identity(
    config: &SdkConfig,
    calls: &mut Calls,
) -> Result<(String, String), CallFailure> {
    const OP: &str = "sts:GetCallerIdentity";
    count(calls, OP);
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| CallFailure::new(OP, "account", fetch::describe(&e)))?;
    let account = out
        .account()
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .ok_or_else(|| CallFailure::new(OP, "account", "the response names no Account"))?;
    Ok((account, out.arn().unwrap_or_default().to_string()))
}

/// One role's AssumeRole request, repeatable.
#[derive(Debug)]
struct Assumer {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    session_name: String,
    seconds: u32,
    external_id: Option<String>,
}

impl Assumer {
    async fn fetch(&self) -> Result<Credentials, CallFailure> {
        const OP: &str = "sts:AssumeRole";
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .duration_seconds(i32::try_from(self.seconds).unwrap_or(i32::MAX))
            .set_external_id(self.external_id.clone())
            .send()
            .await
            .map_err(|e| CallFailure::new(OP, "account", fetch::describe(&e)))?;
        let creds = out
            .credentials()
            .ok_or_else(|| CallFailure::new(OP, "account", "the response has no Credentials"))?;
        let expiry = SystemTime::try_from(*creds.expiration()).ok();
        Ok(Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_string()),
            expiry,
            "lapse-assume-role",
        ))
    }
}

/// Hands out the credentials of the first AssumeRole, and assumes the role again once they
/// near their expiry (the SDK's identity cache asks again when they expire).
#[derive(Debug)]
struct RefreshingRole {
    assumer: Assumer,
    current: Mutex<Option<Credentials>>,
}

impl RefreshingRole {
    fn fresh(&self) -> Option<Credentials> {
        let current = self.current.lock().ok()?;
        let creds = current.as_ref()?;
        let valid = creds
            .expiry()
            .is_none_or(|at| at > SystemTime::now() + REFRESH_MARGIN);
        valid.then(|| creds.clone())
    }
}

impl ProvideCredentials for RefreshingRole {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            if let Some(creds) = self.fresh() {
                return Ok(creds);
            }
            let creds = self.assumer.fetch().await.map_err(|failure| {
                provider::error::CredentialsError::provider_error(failure.reason)
            })?;
            if let Ok(mut current) = self.current.lock() {
                *current = Some(creds.clone());
            }
            Ok(creds)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role_with(expiry: SystemTime) -> RefreshingRole {
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        RefreshingRole {
            assumer: Assumer {
                sts: aws_sdk_sts::Client::from_conf(config),
                role_arn: "arn:aws:iam::111111111111:role/LapseRevoke".into(),
                session_name: WRITE_SESSION_NAME.into(),
                seconds: DEFAULT_SESSION_SECONDS,
                external_id: None,
            },
            current: Mutex::new(Some(Credentials::new("a", "s", None, Some(expiry), "t"))),
        }
    }

    #[test]
    fn assumed_credentials_are_fetched_again_before_they_expire() {
        let now = SystemTime::now();
        assert!(role_with(now + Duration::from_secs(3600)).fresh().is_some());
        assert!(role_with(now + Duration::from_secs(60)).fresh().is_none());
        assert!(role_with(now - Duration::from_secs(1)).fresh().is_none());
    }
}
