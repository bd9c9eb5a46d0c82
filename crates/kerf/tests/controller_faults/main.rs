//! Faults under a running `kerf controller` on real parts (a control plane
//! from kerf-testenv with kwok, the real binary as the chart runs it), one
//! test binary so the test command links it once: the API server restarted
//! after an etcd compaction, the API server answering 429/5xx and cutting
//! watches (kerf-testenv's fault proxy), the cloud throttling, and the cloud
//! short of capacity for an offering. Each module says what must hold.

#[path = "../common/mod.rs"]
mod common;

mod apiserver_faults;
mod apiserver_restart;
mod cloud_throttling;
mod insufficient_capacity;
