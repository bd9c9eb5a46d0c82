//! kerf's AWS provider against moto_server on loopback, through the real SDK
//! clients. One test binary (the SDK is large to link); each test starts its
//! own moto so tests are isolated and run in parallel.

mod authorization;
mod discovery;
mod interruption;
mod launch;
mod lifecycle;
mod ownership;
mod prices;
mod support;
