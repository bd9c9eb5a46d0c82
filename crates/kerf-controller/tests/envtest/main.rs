//! kerf-controller's parts called directly against a real API server (etcd
//! and kube-apiserver from the testbed binaries; fails, never skips, when
//! they are missing), as Karpenter's envtest suites call one reconcile: one
//! provisioning pass for pods of a node going away, and the NodeClaim
//! lifecycle reconciler's back-off. One binary, so the test command links it
//! once.

mod common;
mod deleting_node;
mod reconcile_once;
