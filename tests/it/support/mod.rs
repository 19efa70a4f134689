//! Test support shared by the integration tests: servers the tests start and stop.

pub mod moto;
pub mod tls;
