//! The two scalar encodings of AWS JSON 1.1 that are not plain JSON values.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A `timestamp` shape: on the wire a JSON number of epoch seconds with an optional
/// fraction (`1715100742.022`); kept here as whole milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 % 1000 == 0 {
            s.serialize_i64(self.0 / 1000)
        } else {
            // An f64 holds every millisecond of the next 200,000 years exactly enough that
            // serde_json's shortest round-trip form prints three decimals at most.
            #[allow(clippy::cast_precision_loss, reason = "see above")]
            s.serialize_f64(self.0 as f64 / 1000.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let secs = f64::deserialize(d)?;
        #[allow(clippy::cast_possible_truncation, reason = "validated as a finite number")]
        Ok(Timestamp((secs * 1000.0).round() as i64))
    }
}

/// A `blob` shape: base64 (standard alphabet, padded) in a JSON string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Blob(pub Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Blob)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_epoch_seconds_with_millis() {
        assert_eq!(
            serde_json::to_string(&Timestamp(1_715_100_742_022)).unwrap(),
            "1715100742.022"
        );
        assert_eq!(
            serde_json::to_string(&Timestamp(1_715_100_742_000)).unwrap(),
            "1715100742"
        );
        let t: Timestamp = serde_json::from_str("1715100742.022").unwrap();
        assert_eq!(t.millis(), 1_715_100_742_022);
    }
}
