//! Collect: the only stage (with `revoke`) that talks to providers. Each source returns an
//! inventory fragment plus coverage gaps; a failing source records a gap and the run goes on.

pub mod aws;
pub mod azure;
pub mod github;
pub mod repo;
