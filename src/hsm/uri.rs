//! RFC 7512 `pkcs11:` URIs, as far as they select a token.

use super::HsmError;

/// How the vault names its token: by label, or by the token attributes of a `pkcs11:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSelector {
    /// The token whose label is exactly this.
    Label(String),
    /// The token matching every attribute the URI names.
    Uri(TokenUri),
}

/// The token-identifying attributes of an RFC 7512 URI (section 2.3). Absent attributes match
/// anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenUri {
    /// `token=`: the token label.
    pub token: Option<String>,
    /// `serial=`: the token serial number.
    pub serial: Option<String>,
    /// `model=`: the token model.
    pub model: Option<String>,
    /// `manufacturer=`: the token manufacturer.
    pub manufacturer: Option<String>,
    /// `slot-id=`: the slot number.
    pub slot_id: Option<u64>,
}

impl TokenSelector {
    /// Reads `--token`: a `pkcs11:` URI, or else a plain label.
    pub fn parse(s: &str) -> Result<Self, HsmError> {
        if let Some(rest) = s.strip_prefix("pkcs11:") {
            Ok(TokenSelector::Uri(TokenUri::parse(rest)?))
        } else if s.is_empty() {
            Err(HsmError::InvalidUri(
                "the token label is empty; give the label shown by `softhsm2-util --show-slots` or a pkcs11: URI".into(),
            ))
        } else {
            Ok(TokenSelector::Label(s.to_owned()))
        }
    }

    /// Whether a token with these properties is the one selected.
    pub fn matches(
        &self,
        slot_id: u64,
        label: &str,
        serial: &str,
        model: &str,
        manufacturer: &str,
    ) -> bool {
        match self {
            TokenSelector::Label(l) => l == label,
            TokenSelector::Uri(u) => {
                u.token.as_deref().is_none_or(|t| t == label)
                    && u.serial.as_deref().is_none_or(|t| t == serial)
                    && u.model.as_deref().is_none_or(|t| t == model)
                    && u.manufacturer.as_deref().is_none_or(|t| t == manufacturer)
                    && u.slot_id.is_none_or(|t| t == slot_id)
            }
        }
    }
}

impl std::fmt::Display for TokenSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSelector::Label(l) => write!(f, "token labelled {l:?}"),
            TokenSelector::Uri(u) => write!(f, "token matching {u}"),
        }
    }
}

impl TokenUri {
    fn parse(rest: &str) -> Result<Self, HsmError> {
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        if let Some(q) = query {
            for attr in q.split('&').filter(|a| !a.is_empty()) {
                let name = attr.split_once('=').map_or(attr, |(n, _)| n);
                if name == "pin-value" || name == "pin-source" {
                    return Err(HsmError::InvalidUri(format!(
                        "the URI carries {name}; a PIN never goes on the command line: use --pin-file or ROOTVAULT_PIN"
                    )));
                }
            }
        }
        let mut uri = TokenUri::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, value) = attr.split_once('=').ok_or_else(|| {
                HsmError::InvalidUri(format!("pkcs11: URI attribute {attr:?} has no '='"))
            })?;
            let value = percent_decode(value)?;
            match name {
                "token" => uri.token = Some(value),
                "serial" => uri.serial = Some(value),
                "model" => uri.model = Some(value),
                "manufacturer" => uri.manufacturer = Some(value),
                "slot-id" => {
                    uri.slot_id = Some(value.parse().map_err(|_| {
                        HsmError::InvalidUri(format!("slot-id {value:?} is not a number"))
                    })?)
                }
                // Attributes that select a module, library or object do not narrow the token.
                "library-description"
                | "library-manufacturer"
                | "library-version"
                | "slot-description"
                | "slot-manufacturer"
                | "object"
                | "id"
                | "type" => {}
                other => {
                    return Err(HsmError::InvalidUri(format!(
                        "unknown pkcs11: URI attribute {other:?} (RFC 7512 section 2.3)"
                    )))
                }
            }
        }
        if uri == TokenUri::default() {
            return Err(HsmError::InvalidUri(
                "the pkcs11: URI names no token attribute; add token=LABEL or serial=SERIAL".into(),
            ));
        }
        Ok(uri)
    }
}

impl std::fmt::Display for TokenUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (k, v) in [
            ("token", &self.token),
            ("serial", &self.serial),
            ("model", &self.model),
            ("manufacturer", &self.manufacturer),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        if let Some(s) = self.slot_id {
            parts.push(format!("slot-id={s}"));
        }
        write!(f, "pkcs11:{}", parts.join(";"))
    }
}

fn percent_decode(s: &str) -> Result<String, HsmError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .ok_or_else(|| HsmError::InvalidUri(format!("truncated %-escape in {s:?}")))?;
            let b = u8::from_str_radix(hex, 16)
                .map_err(|_| HsmError::InvalidUri(format!("bad %-escape %{hex} in {s:?}")))?;
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| HsmError::InvalidUri(format!("{s:?} is not UTF-8 once decoded")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_without_scheme_is_a_label() {
        assert_eq!(
            TokenSelector::parse("root-ca").unwrap(),
            TokenSelector::Label("root-ca".into())
        );
    }

    #[test]
    fn uri_attributes_are_percent_decoded() {
        let TokenSelector::Uri(u) =
            TokenSelector::parse("pkcs11:token=My%20Root;serial=abc123;slot-id=7").unwrap()
        else {
            panic!("expected a URI")
        };
        assert_eq!(u.token.as_deref(), Some("My Root"));
        assert_eq!(u.serial.as_deref(), Some("abc123"));
        assert_eq!(u.slot_id, Some(7));
        assert!(TokenSelector::Uri(u.clone()).matches(7, "My Root", "abc123", "m", "x"));
        assert!(!TokenSelector::Uri(u).matches(7, "My Root", "other", "m", "x"));
    }

    #[test]
    fn uri_with_pin_value_is_refused() {
        let e = TokenSelector::parse("pkcs11:token=a?pin-value=1234").unwrap_err();
        assert!(matches!(e, HsmError::InvalidUri(_)));
        assert!(!e.to_string().contains("1234"));
    }

    #[test]
    fn uri_without_token_attributes_is_refused() {
        assert!(TokenSelector::parse("pkcs11:object=foo").is_err());
        assert!(TokenSelector::parse("pkcs11:token=a;bogus=1").is_err());
        assert!(TokenSelector::parse("pkcs11:token=%4").is_err());
    }
}
