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
mod hostile;
mod props;
mod render;
mod repo;
mod revoke;
mod rules;
mod support;
