//! Risk score of a finding, 0-100: severity sets the ceiling, the subject's exposure factors
//! place it within.
//!
//! ```text
//! risk = round(base(severity) × (0.5 + 0.5 × scope × window × idle × exposure))
//! base:     critical 100, high 80, medium 55, low 30, info 10
//! scope:    admin 1.0, write 0.75, read 0.45, none 0.25
//! window:   standing (no expiry) or already expired 1.0; ends in > 365 d 0.9, > 90 d 0.7,
//!           > 7 d 0.5, within 7 d 0.3
//! idle:     unused > 90 d or never used 1.0, unknown 0.9, used within 90 d 0.8
//! exposure: public / any principal 1.0, CI 0.95, cross-account 0.9, internal 0.8
//! ```
//! So a finding never scores below half its severity's base (the rule's judgement stands), and
//! reaches the base only when an admin grant is standing, forgotten and open to anyone.

use crate::analyze::{Exposure, Privilege, RiskInputs};

use super::Severity;

pub fn base(severity: Severity) -> f64 {
    match severity {
        Severity::Critical => 100.0,
        Severity::High => 80.0,
        Severity::Medium => 55.0,
        Severity::Low => 30.0,
        Severity::Info => 10.0,
    }
}

fn scope_factor(scope: Privilege) -> f64 {
    match scope {
        Privilege::Admin => 1.0,
        Privilege::Write => 0.75,
        Privilege::Read => 0.45,
        Privilege::None => 0.25,
    }
}

fn window_factor(window_days: Option<i64>) -> f64 {
    match window_days {
        None => 1.0,
        Some(d) if d <= 0 => 1.0,
        Some(d) if d > 365 => 0.9,
        Some(d) if d > 90 => 0.7,
        Some(d) if d > 7 => 0.5,
        Some(_) => 0.3,
    }
}

fn idle_factor(idle_days: Option<i64>) -> f64 {
    match idle_days {
        None => 0.9,
        Some(d) if d > 90 => 1.0,
        Some(_) => 0.8,
    }
}

fn exposure_factor(exposure: Exposure) -> f64 {
    match exposure {
        Exposure::Public => 1.0,
        Exposure::Ci => 0.95,
        Exposure::CrossAccount => 0.9,
        Exposure::Internal => 0.8,
    }
}

pub fn score(severity: Severity, inputs: &RiskInputs) -> u8 {
    let factors = scope_factor(inputs.scope)
        * window_factor(inputs.window_days)
        * idle_factor(inputs.idle_days)
        * exposure_factor(inputs.exposure);
    let risk = base(severity) * (0.5 + 0.5 * factors);
    risk.round().clamp(0.0, 100.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(
        scope: Privilege,
        window: Option<i64>,
        idle: Option<i64>,
        exposure: Exposure,
    ) -> RiskInputs {
        RiskInputs {
            scope,
            window_days: window,
            idle_days: idle,
            exposure,
        }
    }

    #[test]
    fn worst_case_reaches_the_severity_base() {
        let worst = inputs(Privilege::Admin, None, Some(400), Exposure::Public);
        assert_eq!(score(Severity::Critical, &worst), 100);
        assert_eq!(score(Severity::High, &worst), 80);
    }

    #[test]
    fn narrower_scope_and_shorter_window_score_lower() {
        let wide = inputs(Privilege::Admin, None, None, Exposure::Internal);
        let narrow = inputs(Privilege::Read, Some(5), Some(1), Exposure::Internal);
        assert!(score(Severity::High, &narrow) < score(Severity::High, &wide));
        assert!(
            score(Severity::High, &narrow) >= 40,
            "never below half the base"
        );
    }

    #[test]
    fn severity_orders_scores_for_equal_inputs() {
        let same = inputs(Privilege::Write, Some(30), None, Exposure::Ci);
        let scores: Vec<u8> = Severity::ALL.iter().map(|s| score(*s, &same)).collect();
        assert!(scores.windows(2).all(|w| w[0] > w[1]), "{scores:?}");
    }
}
