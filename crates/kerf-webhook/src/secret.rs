//! Keeping the serving certificate in a Secret: read it, generate it when it
//! is missing, unreadable, expiring or lacks a name, and write it back. Every
//! webhook replica runs this; the first writer wins and the others adopt its
//! certificate.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, PostParams};
use time::OffsetDateTime;

use crate::certs::{CA_CERT, CertBundle, CertError, TLS_CERT, TLS_KEY};

/// Errors of [`ensure_secret`].
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("Secret {namespace}/{name}: {source}")]
    Api {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("Secret {namespace}/{name}: {source}")]
    Cert {
        namespace: String,
        name: String,
        source: CertError,
    },
}

/// Reads the bundle from a Secret's data, `None` when a key is missing or not UTF-8.
pub fn bundle_from_secret(secret: &Secret) -> Option<CertBundle> {
    let data = secret.data.as_ref()?;
    let get = |key: &str| String::from_utf8(data.get(key)?.0.clone()).ok();
    Some(CertBundle {
        ca_pem: get(CA_CERT)?,
        cert_pem: get(TLS_CERT)?,
        key_pem: get(TLS_KEY)?,
    })
}

fn secret_data(bundle: &CertBundle) -> BTreeMap<String, ByteString> {
    [
        (CA_CERT, &bundle.ca_pem),
        (TLS_CERT, &bundle.cert_pem),
        (TLS_KEY, &bundle.key_pem),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
    .collect()
}

/// What a rotation writes: a new bundle whose `ca.crt` also carries the
/// previous CA (first certificate only) while it is still valid, so replicas
/// still serving the previous certificate stay trusted until they reload.
pub fn rotated(
    previous: Option<&CertBundle>,
    sans: &[String],
    now: OffsetDateTime,
) -> Result<CertBundle, CertError> {
    let mut bundle = CertBundle::generate(sans, now)?;
    if let Some(old_ca) = previous.and_then(|p| first_valid_ca(&p.ca_pem, now)) {
        bundle.ca_pem.push_str(&old_ca);
    }
    Ok(bundle)
}

fn first_valid_ca(ca_pem: &str, now: OffsetDateTime) -> Option<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = ca_pem.find(BEGIN)?;
    let stop = start + ca_pem[start..].find(END)? + END.len();
    let block = &ca_pem[start..stop];
    let (_, pem) = x509_parser::pem::parse_x509_pem(block.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    (cert.validity().not_after.to_datetime() > now).then(|| format!("{block}\n"))
}

/// Returns the Secret's bundle, first generating and writing a new one when
/// the Secret is missing or its bundle [needs rotation](CertBundle::needs_rotation).
/// A lost race (another replica wrote first) adopts the winner's bundle.
pub async fn ensure_secret(
    client: &Client,
    namespace: &str,
    name: &str,
    sans: &[String],
    now: OffsetDateTime,
) -> Result<CertBundle, SecretError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let api_err = |source| SecretError::Api {
        namespace: namespace.to_string(),
        name: name.to_string(),
        source,
    };
    let cert_err = |source| SecretError::Cert {
        namespace: namespace.to_string(),
        name: name.to_string(),
        source,
    };
    for _ in 0..5 {
        let existing = api.get_opt(name).await.map_err(api_err)?;
        let current = existing.as_ref().and_then(bundle_from_secret);
        if let Some(bundle) = &current
            && !bundle.needs_rotation(sans, now)
        {
            return Ok(bundle.clone());
        }
        let bundle = rotated(current.as_ref(), sans, now).map_err(cert_err)?;
        let written = match existing {
            Some(mut secret) => {
                secret.data = Some(secret_data(&bundle));
                secret.string_data = None;
                api.replace(name, &PostParams::default(), &secret).await
            }
            None => {
                let mut secret = Secret {
                    data: Some(secret_data(&bundle)),
                    type_: Some("kubernetes.io/tls".into()),
                    ..Default::default()
                };
                secret.metadata.name = Some(name.to_string());
                secret.metadata.namespace = Some(namespace.to_string());
                api.create(&PostParams::default(), &secret).await
            }
        };
        match written {
            Ok(_) => {
                tracing::info!(%namespace, %name, "wrote a new webhook serving certificate");
                return Ok(bundle);
            }
            // Someone else wrote first: read again and adopt theirs.
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(e) => return Err(api_err(e)),
        }
    }
    let bundle = api
        .get(name)
        .await
        .ok()
        .as_ref()
        .and_then(bundle_from_secret);
    bundle.ok_or_else(|| {
        cert_err(CertError::Invalid {
            what: "data".into(),
            message: "still unreadable after repeated write conflicts".into(),
        })
    })
}
