//! Collect, AWS: IAM users, roles, groups, policies and access keys, from the API or from the
//! files the API writes (GetAccountAuthorizationDetails pages and the credential report).
//!
//! The wire shapes ([`details`], [`credential_report`]) and their translation into the
//! inventory ([`translate::to_inventory`]) are shared by the offline reader ([`files`]) and the
//! live collector, which fills the same structs from the SDK.

pub mod accounts;
pub(crate) mod client;
pub mod credential_report;
pub mod details;
pub(crate) mod fetch;
pub mod files;
pub mod live;
pub mod organizations;
pub mod organizations_api;
mod progress;
pub mod session;
pub mod translate;
mod wire;

pub use accounts::{LiveOptions, LiveOptionsError};
pub use credential_report::{
    CredentialReport, CredentialReportRow, parse_credential_report, parse_credential_report_csv,
    parse_credential_report_json,
};
pub use details::{AuthorizationDetails, PolicyDocument, decode_policy_document};
pub use fetch::CallFailure;
pub use files::collect_files;
pub use live::{collect_live, collect_live_with};
pub use session::{AccountSession, AwsSessions, Purpose};
pub use translate::to_inventory;

/// Names of the provider attributes this source writes on principals, credentials and grants
/// (read back by `analyze::aws`).
pub mod attr {
    pub const USER_ID: &str = "user_id";
    pub const ROLE_ID: &str = "role_id";
    pub const GROUPS: &str = "groups";
    /// Bool; present only when a credential report covered the user.
    pub const PASSWORD_ENABLED: &str = "password_enabled";
    pub const MFA_ACTIVE: &str = "mfa_active";
    /// `LastUsed` as serialized by the inventory (`"never"`, `"unknown"`, `{"at": …}`).
    pub const PASSWORD_LAST_USED: &str = "password_last_used";
    pub const PASSWORD_LAST_CHANGED: &str = "password_last_changed";
    pub const MAX_SESSION_DURATION: &str = "max_session_duration";
    pub const LAST_USED_REGION: &str = "last_used_region";
    pub const LAST_USED_SERVICE: &str = "last_used_service";
    /// `Active` / `Inactive`, as ListAccessKeys listed the key.
    pub const KEY_STATUS: &str = "status";
    /// Access-key or certificate slot of the credential report, 1 or 2.
    pub const SLOT: &str = "slot";
    /// On a grant inherited from a group: the group's ARN.
    pub const GROUP_ARN: &str = "group_arn";
}

/// Why offline AWS files could not be read. Every variant names the file; JSON and CSV
/// errors name the line.
#[derive(Debug, thiserror::Error)]
pub enum AwsFilesError {
    #[error("{path}: cannot read: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Json {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}:{line}: {message}")]
    Csv {
        path: String,
        line: u64,
        message: String,
    },
    #[error("{path}: not an IAM credential report: the header lacks the column `{column}`")]
    MissingColumn { path: String, column: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// Too large, UTF-16, a byte-order mark.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
}

impl AwsFilesError {
    /// serde_json puts the position at the end of its message; move it to the front.
    pub fn json(path: &str, error: &serde_json::Error) -> Self {
        let text = error.to_string();
        let message = match text.rfind(" at line ") {
            Some(at) => text[..at].to_string(),
            None => text,
        };
        AwsFilesError::Json {
            path: path.to_string(),
            line: error.line(),
            column: error.column(),
            message,
        }
    }

    pub fn invalid(path: &str, message: impl Into<String>) -> Self {
        AwsFilesError::Invalid {
            path: path.to_string(),
            message: message.into(),
        }
    }
}
