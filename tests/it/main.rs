//! Integration tests, compiled into one binary (linking aws-sdk and polars once, not per file).
mod aws_live;
mod aws_offline;
mod azure;
mod browser;
mod cli;
mod config;
mod drift;
mod formats;
mod github;
mod render;
mod repo;
mod repo_audits;
mod repo_files;
mod repo_workflows;
mod revoke;
mod rules;
mod support;
