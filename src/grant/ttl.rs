//! Grant, TTL: `--ttl` and `[grant] max_ttl`, `^[1-9][0-9]*[mhd]$` (minutes, hours, days),
//! bounded to a year so no arithmetic on it can overflow.

/// The longest TTL lapse accepts anywhere: a year is not temporary access any more.
pub const MAX_TTL_DAYS: i64 = 365;

/// Parses `90m`, `2h`, `1d`.
pub fn parse(text: &str) -> Result<chrono::Duration, String> {
    let bad = || format!("`{text}` is not a duration like 90m, 2h or 1d");
    let unit = text.chars().last().ok_or_else(bad)?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty()
        || digits.starts_with('0')
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.len() > 7
    {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let duration = match unit {
        'm' => chrono::Duration::minutes(n),
        'h' => chrono::Duration::hours(n),
        'd' => chrono::Duration::days(n),
        _ => return Err(bad()),
    };
    if duration > chrono::Duration::days(MAX_TTL_DAYS) {
        return Err(format!("`{text}` is longer than {MAX_TTL_DAYS} days"));
    }
    Ok(duration)
}

/// `2h`, `90m`, `1d` back, for messages.
pub fn show(duration: chrono::Duration) -> String {
    let minutes = duration.num_minutes();
    if minutes % (24 * 60) == 0 {
        format!("{}d", minutes / (24 * 60))
    } else if minutes % 60 == 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_minutes_hours_days_and_refuses_the_rest() {
        assert_eq!(parse("90m").unwrap(), chrono::Duration::minutes(90));
        assert_eq!(parse("2h").unwrap(), chrono::Duration::hours(2));
        assert_eq!(parse("1d").unwrap(), chrono::Duration::days(1));
        for bad in [
            "",
            "h",
            "0h",
            "02h",
            "2",
            "2s",
            "-2h",
            "2 h",
            "1.5h",
            "366d",
            "99999999999d",
            "2é",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(show(parse("90m").unwrap()), "90m");
        assert_eq!(show(parse("48h").unwrap()), "2d");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn never_panics(text in "\\PC{0,12}") {
            if let Ok(d) = parse(&text) {
                prop_assert!(d > chrono::Duration::zero() && d <= chrono::Duration::days(MAX_TTL_DAYS));
            }
        }
    }
}
