//! lapse: find the standing access that machines hold, judge it against rules, detect drift,
//! and revoke provisional grants whose time is up.
//!
//! Pipeline: `collect` → `inventory` → `analyze` → `rules` (evaluate) → `findings` →
//! `render` / `drift` / `revoke`. `app` runs a validated `plan`; `main.rs` maps errors to exit
//! codes.

pub mod analyze;
pub mod app;
pub mod cli;
pub mod collect;
pub mod config;
pub mod drift;
pub mod exit;
pub mod findings;
pub mod inventory;
pub mod merge;
pub mod net;
pub mod plan;
pub mod render;
pub mod report;
pub mod revoke;
pub mod rules;
