//! Random workloads for property tests of the packer: a small hand-built
//! catalogue, and descriptions of templates, existing nodes, daemonsets and
//! apps (groups of identical pending pods) that build into a [`Snapshot`].
//!
//! Descriptions are plain data with public fields so that a shrunk failing
//! case printed by proptest can be pasted back as a regression test.
// Each test crate uses a part of this module.
#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, Taint};
use k8s_openapi::api::storage::v1::StorageClass;
use kerf_core::instance_type::{InstanceType, Offering, Overhead};
use kerf_core::requirements::{Requirement, Requirements};
use kerf_core::resources::{MILLI, Resources};
use kerf_core::snapshot::{ExistingNode, Snapshot};
use kerf_core::template::{KubeletSettings, NodeTemplate, PoolKind, PoolRef};
use proptest::prelude::*;
use serde_json::{Value, json};

pub const ZONE: &str = "topology.kubernetes.io/zone";
pub const HOSTNAME: &str = "kubernetes.io/hostname";
pub const ARCH: &str = "kubernetes.io/arch";
pub const CAPACITY_TYPE: &str = "karpenter.sh/capacity-type";
pub const FAMILY: &str = "karpenter.k8s.aws/instance-family";
pub const INSTANCE_CPU: &str = "karpenter.k8s.aws/instance-cpu";
pub const GPU: &str = "example.com/gpu";
pub const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];
mod build;
mod build_app;
mod catalogue;
mod descriptions;
mod strategies;

pub use build::*;
pub use catalogue::*;
pub use descriptions::*;
pub use strategies::*;

const GIB: i64 = 1 << 30;
const MIB: i64 = 1 << 20;
