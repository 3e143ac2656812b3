//! Distinguished names as operators type them (`CN=Example Root CA,O=Example,C=GB` or the
//! OpenSSL form `/C=GB/O=Example/CN=Example Root CA`) and as certificates encode them.

use std::fmt;

use rcgen::string::PrintableString;
use rcgen::{DistinguishedName, DnType, DnValue};

/// An attribute type the vault writes into names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    /// countryName (2.5.4.6), two letters, PrintableString (RFC 5280 appendix A).
    Country,
    /// stateOrProvinceName (2.5.4.8).
    State,
    /// localityName (2.5.4.7).
    Locality,
    /// organizationName (2.5.4.10).
    Organization,
    /// organizationalUnitName (2.5.4.11).
    OrganizationalUnit,
    /// commonName (2.5.4.3).
    CommonName,
}

impl Attr {
    fn parse(key: &str) -> Option<Attr> {
        Some(match key.to_ascii_uppercase().as_str() {
            "C" => Attr::Country,
            "ST" => Attr::State,
            "L" => Attr::Locality,
            "O" => Attr::Organization,
            "OU" => Attr::OrganizationalUnit,
            "CN" => Attr::CommonName,
            _ => return None,
        })
    }

    /// The short name, as in `CN=`.
    pub fn short(self) -> &'static str {
        match self {
            Attr::Country => "C",
            Attr::State => "ST",
            Attr::Locality => "L",
            Attr::Organization => "O",
            Attr::OrganizationalUnit => "OU",
            Attr::CommonName => "CN",
        }
    }

    /// The attribute's OID, dotted.
    pub fn oid(self) -> &'static str {
        match self {
            Attr::Country => "2.5.4.6",
            Attr::State => "2.5.4.8",
            Attr::Locality => "2.5.4.7",
            Attr::Organization => "2.5.4.10",
            Attr::OrganizationalUnit => "2.5.4.11",
            Attr::CommonName => "2.5.4.3",
        }
    }

    fn dn_type(self) -> DnType {
        match self {
            Attr::Country => DnType::CountryName,
            Attr::State => DnType::StateOrProvinceName,
            Attr::Locality => DnType::LocalityName,
            Attr::Organization => DnType::OrganizationName,
            Attr::OrganizationalUnit => DnType::OrganizationalUnitName,
            Attr::CommonName => DnType::CommonName,
        }
    }

    /// Upper bounds of X.520 / RFC 5280 appendix A.
    fn max_len(self) -> usize {
        match self {
            Attr::Country => 2,
            Attr::State | Attr::Locality | Attr::Organization | Attr::OrganizationalUnit => 128,
            Attr::CommonName => 64,
        }
    }
}

/// A validated distinguished name, in the order it is encoded (most significant first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dn {
    attrs: Vec<(Attr, String)>,
}

impl Dn {
    /// Parses `CN=a,O=b,C=GB` or `/C=GB/O=b/CN=a`. Commas inside values are not supported.
    pub fn parse(input: &str) -> Result<Dn, String> {
        let input = input.trim();
        if input.contains('\\') || input.contains('+') {
            return Err(
                "escaped characters and multi-valued RDNs ('\\', '+') are not supported in names"
                    .into(),
            );
        }
        let parts: Vec<&str> = match input.strip_prefix('/') {
            // OpenSSL order is already most significant first.
            Some(rest) => rest.split('/').collect(),
            // RFC 4514 order is least significant first: reverse it.
            None => input.split(',').rev().collect(),
        };
        let mut attrs = Vec::new();
        for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("name component {part:?} is not TYPE=value"))?;
            let attr = Attr::parse(k.trim()).ok_or_else(|| {
                format!(
                    "unsupported name attribute {:?}; use C, ST, L, O, OU or CN",
                    k.trim()
                )
            })?;
            Self::check_value(attr, v.trim())?;
            attrs.push((attr, v.trim().to_owned()));
        }
        if !attrs.iter().any(|(a, _)| *a == Attr::CommonName) {
            return Err("the name needs a CN (common name)".into());
        }
        Ok(Dn { attrs })
    }

    /// A name from attributes already in encoding order.
    pub fn from_attrs(attrs: Vec<(Attr, String)>) -> Result<Dn, String> {
        for (a, v) in &attrs {
            Self::check_value(*a, v)?;
        }
        Ok(Dn { attrs })
    }

    fn check_value(attr: Attr, v: &str) -> Result<(), String> {
        if v.is_empty() {
            return Err(format!("{}= has an empty value", attr.short()));
        }
        if attr == Attr::Country && !(v.len() == 2 && v.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err(format!(
                "C={v} is not a two-letter upper-case country code (ISO 3166)"
            ));
        }
        if v.chars().count() > attr.max_len() {
            return Err(format!(
                "{}= is longer than {} characters (RFC 5280 appendix A)",
                attr.short(),
                attr.max_len()
            ));
        }
        if v.chars().any(char::is_control) {
            return Err(format!("{}= contains control characters", attr.short()));
        }
        Ok(())
    }

    /// The attributes, in encoding order.
    pub fn attrs(&self) -> &[(Attr, String)] {
        &self.attrs
    }

    /// The name as rcgen encodes it: countryName as PrintableString, the rest UTF8String.
    pub fn to_rcgen(&self) -> Result<DistinguishedName, String> {
        let mut dn = DistinguishedName::new();
        for (attr, value) in &self.attrs {
            let v = if *attr == Attr::Country {
                DnValue::PrintableString(
                    PrintableString::try_from(value.as_str())
                        .map_err(|e| format!("C={value}: {e}"))?,
                )
            } else {
                DnValue::Utf8String(value.clone())
            };
            dn.push(attr.dn_type(), v);
        }
        Ok(dn)
    }
}

impl fmt::Display for Dn {
    /// RFC 4514 order: least significant first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .attrs
            .iter()
            .rev()
            .map(|(a, v)| format!("{}={v}", a.short()))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4514_and_openssl_forms_give_the_same_name() {
        let a = Dn::parse("CN=Example Root CA, O=Example Ltd, C=GB").unwrap();
        let b = Dn::parse("/C=GB/O=Example Ltd/CN=Example Root CA").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.attrs()[0], (Attr::Country, "GB".into()));
        assert_eq!(a.to_string(), "CN=Example Root CA, O=Example Ltd, C=GB");
    }

    #[test]
    fn bad_names_are_refused_with_the_reason() {
        assert!(Dn::parse("O=x").unwrap_err().contains("CN"));
        assert!(Dn::parse("CN=x,C=gbr").unwrap_err().contains("country"));
        assert!(Dn::parse("CN=x,EMAIL=a@b")
            .unwrap_err()
            .contains("unsupported"));
        assert!(Dn::parse("CN=a\\,b").is_err());
        assert!(Dn::parse("CN=").unwrap_err().contains("empty"));
        assert!(Dn::parse(&format!("CN={}", "x".repeat(65)))
            .unwrap_err()
            .contains("64"));
    }
}
