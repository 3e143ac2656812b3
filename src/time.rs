//! How times are written: RFC 3339 in UTC with whole seconds (`2026-12-05T07:20:47Z`), the one
//! form the ledger, the JSON output and the text output all use.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// `t` in RFC 3339, whole seconds, `Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A serde `serialize_with` writing a time as [`rfc3339`].
pub fn ser_rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    #[test]
    fn times_are_utc_with_whole_seconds_and_a_z() {
        let t = chrono::Utc
            .with_ymd_and_hms(2026, 12, 5, 7, 20, 47)
            .unwrap()
            + chrono::TimeDelta::milliseconds(999);
        assert_eq!(super::rfc3339(t), "2026-12-05T07:20:47Z");
    }
}
