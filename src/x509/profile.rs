//! What a certificate will contain, decided before anything is encoded or signed.

use chrono::{DateTime, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, IsCa, KeyIdMethod, KeyUsagePurpose, SerialNumber,
};

use super::{CertError, Dn};
use crate::keys::PublicKey;

/// A certificate serial number: 16 octets from the token's RNG, positive, with the second
/// most significant bit set so it always encodes in exactly 16 octets (126 random bits;
/// RFC 5280 §4.1.2.2 allows up to 20 octets, CA/B BR 7.1 asks for at least 64 random bits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serial([u8; 16]);

impl Serial {
    /// A serial from 16 random bytes.
    pub fn from_random(mut bytes: [u8; 16]) -> Serial {
        bytes[0] = (bytes[0] & 0x7f) | 0x40;
        Serial(bytes)
    }

    /// The octets, big-endian.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Lowercase hex, as the CLI and ledger show it.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// The CA profile of the certificate: its extensions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaProfile {
    /// basicConstraints pathLenConstraint; `None` leaves it out.
    pub path_len: Option<u8>,
    /// Whether keyUsage also carries digitalSignature.
    pub digital_signature: bool,
    /// subjectAltName dNSNames; empty leaves the extension out.
    pub san_dns: Vec<String>,
    /// nameConstraints; `None` (or all lists empty) leaves the extension out.
    pub name_constraints: Option<NameConstraintsSpec>,
}

/// The subtrees of a nameConstraints extension (RFC 5280 §4.2.1.10): DNS, URI, email
/// (rfc822Name) and IP address forms.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NameConstraintsSpec {
    /// permittedSubtrees dNSName bases.
    pub permitted_dns: Vec<String>,
    /// excludedSubtrees dNSName bases.
    pub excluded_dns: Vec<String>,
    /// permittedSubtrees uniformResourceIdentifier bases (host names, RFC 5280 §4.2.1.10).
    pub permitted_uri: Vec<String>,
    /// excludedSubtrees uniformResourceIdentifier bases.
    pub excluded_uri: Vec<String>,
    /// permittedSubtrees rfc822Name bases (a mailbox, a host, or `.domain`).
    pub permitted_email: Vec<String>,
    /// excludedSubtrees rfc822Name bases.
    pub excluded_email: Vec<String>,
    /// excludedSubtrees iPAddress ranges.
    pub excluded_ip: Vec<IpRange>,
}

/// One GeneralName base of a subtree, as the extension encodes it.
#[derive(Clone)]
enum Base<'a> {
    /// An IA5String form: rfc822Name [1], dNSName [2], uniformResourceIdentifier [6].
    Text(u64, &'a str),
    /// iPAddress [7]: address octets then mask octets.
    Ip(Vec<u8>),
}

/// The bases of one IA5String form.
fn text(tag: u64, names: &[String]) -> Vec<Base<'_>> {
    names.iter().map(|n| Base::Text(tag, n)).collect()
}

impl NameConstraintsSpec {
    /// Whether no subtree is named (then the extension is omitted).
    pub fn is_empty(&self) -> bool {
        self.permitted().is_empty() && self.excluded().is_empty()
    }

    fn permitted(&self) -> Vec<Base<'_>> {
        [
            text(2, &self.permitted_dns),
            text(6, &self.permitted_uri),
            text(1, &self.permitted_email),
        ]
        .concat()
    }

    fn excluded(&self) -> Vec<Base<'_>> {
        let ip = self.excluded_ip.iter().map(|r| Base::Ip(r.octets()));
        [
            text(2, &self.excluded_dns),
            text(6, &self.excluded_uri),
            text(1, &self.excluded_email),
            ip.collect(),
        ]
        .concat()
    }

    /// DER of the extension value. Written here rather than by rcgen, whose GeneralSubtree
    /// has no uniformResourceIdentifier form.
    pub(super) fn to_der(&self) -> Vec<u8> {
        use yasna::Tag;
        fn subtrees(w: yasna::DERWriter<'_>, tag: u64, bases: &[Base<'_>]) {
            w.write_tagged_implicit(Tag::context(tag), |w| {
                w.write_sequence(|w| {
                    for base in bases {
                        // GeneralSubtree ::= SEQUENCE { base GeneralName } (minimum 0, no maximum)
                        w.next().write_sequence(|w| match base {
                            Base::Text(name_tag, name) => w
                                .next()
                                .write_tagged_implicit(Tag::context(*name_tag), |w| {
                                    w.write_ia5_string(name)
                                }),
                            Base::Ip(octets) => w
                                .next()
                                .write_tagged_implicit(Tag::context(7), |w| w.write_bytes(octets)),
                        });
                    }
                })
            });
        }
        let (permitted, excluded) = (self.permitted(), self.excluded());
        yasna::construct_der(|w| {
            w.write_sequence(|w| {
                if !permitted.is_empty() {
                    subtrees(w.next(), 0, &permitted);
                }
                if !excluded.is_empty() {
                    subtrees(w.next(), 1, &excluded);
                }
            })
        })
    }
}

/// An iPAddress name constraint: an address range in CIDR form. RFC 5280 §4.2.1.10 encodes it
/// as the address followed by the mask, 8 octets for IPv4 and 32 for IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    addr: std::net::IpAddr,
    prefix: u8,
}

/// JSON shows a range as it is written in `vault.toml`: `0.0.0.0/0`.
impl serde::Serialize for IpRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl IpRange {
    /// Every IPv4 address, 0.0.0.0/0.
    pub const ALL_V4: IpRange = IpRange {
        addr: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        prefix: 0,
    };
    /// Every IPv6 address, ::/0.
    pub const ALL_V6: IpRange = IpRange {
        addr: std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        prefix: 0,
    };

    /// A range; the address may have no bits set beyond the prefix.
    pub fn new(addr: std::net::IpAddr, prefix: u8) -> Result<IpRange, String> {
        let bits = match addr {
            std::net::IpAddr::V4(_) => 32,
            std::net::IpAddr::V6(_) => 128,
        };
        if prefix > bits {
            return Err(format!(
                "/{prefix} is longer than the {bits} bits of {addr}"
            ));
        }
        let range = IpRange { addr, prefix };
        if range.address_octets() != range.masked() {
            return Err(format!(
                "{addr} has bits set beyond the /{prefix} prefix; write the network address"
            ));
        }
        Ok(range)
    }

    fn address_octets(&self) -> Vec<u8> {
        match self.addr {
            std::net::IpAddr::V4(a) => a.octets().to_vec(),
            std::net::IpAddr::V6(a) => a.octets().to_vec(),
        }
    }

    fn mask(&self) -> Vec<u8> {
        let len = self.address_octets().len();
        (0..len)
            .map(|i| {
                let bits = (usize::from(self.prefix)).saturating_sub(i * 8).min(8);
                (0xffu16 << (8 - bits)) as u8
            })
            .collect()
    }

    fn masked(&self) -> Vec<u8> {
        self.address_octets()
            .iter()
            .zip(self.mask())
            .map(|(a, m)| a & m)
            .collect()
    }

    /// The extension's encoding: address octets, then mask octets.
    pub fn octets(&self) -> Vec<u8> {
        [self.address_octets(), self.mask()].concat()
    }

    /// Reads the encoding back: 8 or 32 octets, a contiguous mask, no address bits beyond it.
    pub fn from_octets(octets: &[u8]) -> Result<IpRange, String> {
        let (addr, mask) = octets.split_at(octets.len() / 2);
        let addr = match (addr.len(), mask.len()) {
            (4, 4) => std::net::IpAddr::from(<[u8; 4]>::try_from(addr).expect("4 octets")),
            (16, 16) => std::net::IpAddr::from(<[u8; 16]>::try_from(addr).expect("16 octets")),
            _ => {
                return Err(format!(
                    "{} octets, not 8 (IPv4) or 32 (IPv6)",
                    octets.len()
                ))
            }
        };
        let prefix: u32 = mask.iter().map(|b| b.leading_ones()).sum();
        let range = IpRange::new(addr, u8::try_from(prefix).unwrap_or(u8::MAX))?;
        if range.mask() != mask {
            return Err("the mask is not a contiguous prefix".into());
        }
        Ok(range)
    }
}

impl std::fmt::Display for IpRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl std::str::FromStr for IpRange {
    type Err = String;

    fn from_str(s: &str) -> Result<IpRange, String> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not ADDRESS/PREFIX, e.g. 10.0.0.0/8"))?;
        let addr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IP address"))?;
        let prefix = prefix
            .parse()
            .map_err(|_| format!("{prefix:?} is not a prefix length"))?;
        IpRange::new(addr, prefix)
    }
}

/// Who signs the certificate.
#[derive(Debug, Clone)]
pub enum Issuing {
    /// The subject key signs itself: a root.
    SelfSigned,
    /// A CA certificate's key signs.
    ByCa {
        /// The issuer's DER certificate.
        der: Vec<u8>,
        /// The issuer's public key.
        key: PublicKey,
    },
}

/// A certificate as approved: every field decided, nothing encoded yet.
#[derive(Debug, Clone)]
pub struct Draft {
    pub(super) serial: Serial,
    pub(super) subject: Dn,
    pub(super) subject_key: PublicKey,
    pub(super) issuing: Issuing,
    pub(super) not_before: DateTime<Utc>,
    pub(super) not_after: DateTime<Utc>,
    pub(super) profile: CaProfile,
}

impl Draft {
    /// A draft certificate. Times are truncated to whole seconds, as X.509 encodes them.
    pub fn new(
        serial: Serial,
        subject: Dn,
        subject_key: PublicKey,
        issuing: Issuing,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        profile: CaProfile,
    ) -> Result<Draft, CertError> {
        let trunc = |t: DateTime<Utc>| {
            DateTime::from_timestamp(t.timestamp(), 0).expect("a whole-second time is in range")
        };
        let (not_before, not_after) = (trunc(not_before), trunc(not_after));
        if not_after <= not_before {
            return Err(CertError::Build(format!(
                "notAfter {not_after} is not after notBefore {not_before}"
            )));
        }
        Ok(Draft {
            serial,
            subject,
            subject_key,
            issuing,
            not_before,
            not_after,
            profile,
        })
    }

    /// The serial number.
    pub fn serial(&self) -> &Serial {
        &self.serial
    }

    /// The subject name.
    pub fn subject(&self) -> &Dn {
        &self.subject
    }

    /// The subject's public key.
    pub fn subject_key(&self) -> &PublicKey {
        &self.subject_key
    }

    /// Start of validity.
    pub fn not_before(&self) -> DateTime<Utc> {
        self.not_before
    }

    /// End of validity.
    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    /// The key that will sign: the subject key for a root, else the issuer's.
    pub fn issuer_key(&self) -> &PublicKey {
        match &self.issuing {
            Issuing::SelfSigned => &self.subject_key,
            Issuing::ByCa { key, .. } => key,
        }
    }

    /// rcgen parameters for this draft. Everything is set explicitly: serial, validity, SKI
    /// (RFC 7093 method 1), AKI on, key usages; nothing is left to rcgen's defaults.
    pub(super) fn params(&self) -> Result<CertificateParams, CertError> {
        let mut p = CertificateParams::default();
        p.serial_number = Some(SerialNumber::from_slice(self.serial.bytes()));
        p.not_before = to_offset(self.not_before)?;
        p.not_after = to_offset(self.not_after)?;
        p.distinguished_name = self.subject.to_rcgen().map_err(CertError::Build)?;
        p.is_ca = IsCa::Ca(match self.profile.path_len {
            Some(n) => BasicConstraints::Constrained(n),
            None => BasicConstraints::Unconstrained,
        });
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        if self.profile.digital_signature {
            p.key_usages.push(KeyUsagePurpose::DigitalSignature);
        }
        p.extended_key_usages = Vec::new();
        p.subject_alt_names = self
            .profile
            .san_dns
            .iter()
            .map(|d| {
                rcgen::string::Ia5String::try_from(d.as_str())
                    .map(rcgen::SanType::DnsName)
                    .map_err(|e| CertError::Build(format!("subjectAltName {d:?}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        if let Some(nc) = self
            .profile
            .name_constraints
            .as_ref()
            .filter(|nc| !nc.is_empty())
        {
            let mut ext = rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 30], nc.to_der());
            // RFC 5280 §4.2.1.10: conforming CAs MUST mark this extension as critical.
            ext.set_criticality(true);
            p.custom_extensions = vec![ext];
        }
        p.use_authority_key_identifier_extension = true;
        p.key_identifier_method = KeyIdMethod::PreSpecified(self.subject_key.key_identifier());
        Ok(p)
    }
}

fn to_offset(t: DateTime<Utc>) -> Result<time::OffsetDateTime, CertError> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp())
        .map_err(|e| CertError::Build(format!("time {t} out of range: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_ranges_encode_as_address_then_mask_and_read_back() {
        assert_eq!(IpRange::ALL_V4.octets(), [0u8; 8]);
        assert_eq!(IpRange::ALL_V6.octets(), [0u8; 32]);
        assert_eq!(IpRange::ALL_V4.to_string(), "0.0.0.0/0");
        assert_eq!(IpRange::ALL_V6.to_string(), "::/0");
        let r: IpRange = "10.128.0.0/9".parse().unwrap();
        assert_eq!(r.octets(), [10, 128, 0, 0, 255, 128, 0, 0]);
        assert_eq!(IpRange::from_octets(&r.octets()), Ok(r));
        let v6: IpRange = "fd00::/8".parse().unwrap();
        assert_eq!(IpRange::from_octets(&v6.octets()), Ok(v6));
        assert_eq!(v6.to_string(), "fd00::/8");
    }

    #[test]
    fn malformed_ip_ranges_are_refused() {
        assert!("10.0.0.1/8"
            .parse::<IpRange>()
            .unwrap_err()
            .contains("beyond"));
        assert!("10.0.0.0/33"
            .parse::<IpRange>()
            .unwrap_err()
            .contains("longer"));
        assert!("10.0.0.0".parse::<IpRange>().is_err());
        assert!(IpRange::from_octets(&[0; 9])
            .unwrap_err()
            .contains("9 octets"));
        assert!(IpRange::from_octets(&[10, 0, 0, 0, 255, 0, 255, 0])
            .unwrap_err()
            .contains("contiguous"));
    }
}
