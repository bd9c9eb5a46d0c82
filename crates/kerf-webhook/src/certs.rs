//! The serving certificate: a self-signed CA and a serving certificate signed
//! by it (rcgen, ECDSA P-256), loading them from PEM files, deciding when they
//! must be rotated, and turning them into a rustls certified key.
//!
//! Rotation decisions are pure: the caller passes `now`.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::sign::CertifiedKey;

/// File (and Secret key) names, as cert-manager and `kubernetes.io/tls`
/// Secrets use them.
pub const CA_CERT: &str = "ca.crt";
/// Serving certificate file / Secret key.
pub const TLS_CERT: &str = "tls.crt";
/// Serving key file / Secret key.
pub const TLS_KEY: &str = "tls.key";

/// How long generated certificates are valid.
pub const VALIDITY: Duration = Duration::days(365);
/// Rotate when less than this is left.
pub const RENEW_BEFORE: Duration = Duration::days(30);

/// Errors of certificate handling.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("generating the webhook certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{what}: {message}")]
    Invalid { what: String, message: String },
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

fn invalid(what: &str, message: impl ToString) -> CertError {
    CertError::Invalid {
        what: what.to_string(),
        message: message.to_string(),
    }
}

/// PEM-encoded CA certificate, serving certificate and serving key.
#[derive(Clone, PartialEq, Eq)]
pub struct CertBundle {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for CertBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("CertBundle")
            .field("ca_pem", &self.ca_pem)
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// The DNS names a Service `name` in `namespace` is reached by.
pub fn service_dns_names(name: &str, namespace: &str) -> Vec<String> {
    vec![
        name.to_string(),
        format!("{name}.{namespace}"),
        format!("{name}.{namespace}.svc"),
        format!("{name}.{namespace}.svc.cluster.local"),
    ]
}

impl CertBundle {
    /// A new CA and a serving certificate for `sans` (entries that parse as IP
    /// addresses become IP SANs), valid from `now` for [`VALIDITY`].
    pub fn generate(sans: &[String], now: OffsetDateTime) -> Result<Self, CertError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kerf-webhook-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params.not_before = now - Duration::minutes(5);
        ca_params.not_after = now + VALIDITY;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let ca = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        for san in sans {
            params.subject_alt_names.push(match san.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(san.clone().try_into()?),
            });
        }
        params
            .distinguished_name
            .push(DnType::CommonName, "kerf-webhook");
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = now - Duration::minutes(5);
        params.not_after = now + VALIDITY;
        let cert = params.signed_by(&key, &ca)?;
        Ok(Self {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Reads `ca.crt`, `tls.crt` and `tls.key` from `dir` (a mounted Secret).
    pub fn read_dir(dir: &Path) -> Result<Self, CertError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| CertError::Read {
                path: path.display().to_string(),
                source,
            })
        };
        Ok(Self {
            ca_pem: read(CA_CERT)?,
            cert_pem: read(TLS_CERT)?,
            key_pem: read(TLS_KEY)?,
        })
    }

    /// When the serving certificate expires.
    pub fn not_after(&self) -> Result<OffsetDateTime, CertError> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(self.cert_pem.as_bytes())
            .map_err(|e| invalid(TLS_CERT, format!("not PEM: {e}")))?;
        let cert = pem
            .parse_x509()
            .map_err(|e| invalid(TLS_CERT, format!("not an X.509 certificate: {e}")))?;
        Ok(cert.validity().not_after.to_datetime())
    }

    /// The serving certificate's DNS and IP SANs, as strings.
    pub fn sans(&self) -> Result<Vec<String>, CertError> {
        use x509_parser::extensions::GeneralName;
        let (_, pem) = x509_parser::pem::parse_x509_pem(self.cert_pem.as_bytes())
            .map_err(|e| invalid(TLS_CERT, format!("not PEM: {e}")))?;
        let cert = pem
            .parse_x509()
            .map_err(|e| invalid(TLS_CERT, format!("not an X.509 certificate: {e}")))?;
        let Some(ext) = cert
            .subject_alternative_name()
            .map_err(|e| invalid(TLS_CERT, format!("bad subjectAltName: {e}")))?
        else {
            return Ok(Vec::new());
        };
        Ok(ext
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(dns.to_string()),
                GeneralName::IPAddress(bytes) => ip_from_bytes(bytes).map(|ip| ip.to_string()),
                _ => None,
            })
            .collect())
    }

    /// Whether this bundle must be replaced at `now`: it does not parse, it
    /// expires within [`RENEW_BEFORE`], or it lacks one of `sans`.
    pub fn needs_rotation(&self, sans: &[String], now: OffsetDateTime) -> bool {
        let expiring = self
            .not_after()
            .map_or(true, |not_after| not_after - now < RENEW_BEFORE);
        let covers = self
            .sans()
            .is_ok_and(|have| sans.iter().all(|want| have.contains(want)));
        expiring || !covers || self.certified_key().is_err()
    }

    /// The serving certificate and key as rustls needs them (ring provider).
    pub fn certified_key(&self) -> Result<Arc<CertifiedKey>, CertError> {
        let chain = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(TLS_CERT, e))?;
        if chain.is_empty() {
            return Err(invalid(TLS_CERT, "no certificate in PEM"));
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| invalid(TLS_KEY, e))?;
        let provider = ring::default_provider();
        CertifiedKey::from_der(chain, key, &provider)
            .map(Arc::new)
            .map_err(|e| invalid(TLS_KEY, e))
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn generated_bundle_covers_its_sans_and_is_fresh() {
        let sans = vec!["127.0.0.1".to_string(), "kerf-webhook.karpenter.svc".into()];
        let bundle = CertBundle::generate(&sans, now()).unwrap();
        let mut have = bundle.sans().unwrap();
        have.sort();
        assert_eq!(have, vec!["127.0.0.1", "kerf-webhook.karpenter.svc"]);
        assert_eq!(bundle.not_after().unwrap(), now() + VALIDITY);
        assert!(!bundle.needs_rotation(&sans, now()));
        bundle.certified_key().unwrap();
    }

    #[test]
    fn rotation_is_due_near_expiry_or_for_new_names() {
        let sans = vec!["kerf-webhook.karpenter.svc".to_string()];
        let bundle = CertBundle::generate(&sans, now()).unwrap();
        let almost_expired = now() + VALIDITY - RENEW_BEFORE + Duration::seconds(1);
        assert!(bundle.needs_rotation(&sans, almost_expired));
        assert!(!bundle.needs_rotation(&sans, almost_expired - Duration::seconds(2)));
        let more = vec!["kerf-webhook.other.svc".to_string()];
        assert!(bundle.needs_rotation(&more, now()));
    }

    #[test]
    fn garbage_is_rotated_and_named() {
        let bundle = CertBundle {
            ca_pem: String::new(),
            cert_pem: "not a cert".into(),
            key_pem: String::new(),
        };
        assert!(bundle.needs_rotation(&[], now()));
        let err = bundle.certified_key().unwrap_err().to_string();
        assert!(err.starts_with("tls.crt"), "{err}");
    }

    #[test]
    fn mismatched_key_is_refused() {
        let sans = vec!["a".to_string()];
        let one = CertBundle::generate(&sans, now()).unwrap();
        let other = CertBundle::generate(&sans, now()).unwrap();
        let mixed = CertBundle {
            key_pem: other.key_pem,
            ..one
        };
        let err = mixed.certified_key().unwrap_err().to_string();
        assert!(err.starts_with("tls.key"), "{err}");
    }
}
