//! Test support shared by the integration tests: servers the tests start and stop.

pub mod grants;
pub mod iam;
pub mod moto;
pub mod tls;
