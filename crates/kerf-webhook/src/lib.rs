//! `kerf-webhook`: the admission webhook the kube-apiserver calls for kerf's
//! CRDs (Provisioner, AWSNodeTemplate, NodePool, EC2NodeClass). It validates
//! with, and defaults with, the same pure `kerf-api` functions the controller
//! uses, answers AdmissionReview v1 over HTTPS (rustls), and owns its serving
//! certificate (files, or a Secret it generates and rotates, with the CA
//! bundle patched into the webhook configurations).
//!
//! | Module | Owns |
//! |---|---|
//! | [`server`] | axum + hyper + rustls server with a swappable certificate; connection count, handshake, header, request and body limits |
//! | [`certs`] | CA + serving certificate generation (rcgen), loading, rotation decisions |
//! | [`secret`] | the certificate Secret: read, generate, rotate |
//! | [`configurations`] | the webhook configuration objects and caBundle patching |
//! | [`run`] | the `kerf webhook` process: certificate source, server, rotation loop |
//! | `testing` | (feature `testing`) the webhook started in-process on loopback, for tests against a real API server |

pub mod certs;
pub mod configurations;
pub mod run;
pub mod secret;
pub mod server;
#[cfg(feature = "testing")]
pub mod testing;

pub use certs::CertBundle;
