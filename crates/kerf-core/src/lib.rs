//! kerf's scheduling core. Everything here is a pure, deterministic function of
//! its inputs: no async, no I/O, no clock. Controllers and the simulator build a
//! [`snapshot::Snapshot`], call [`scheduler::solve`], and apply the [`plan::Plan`].

pub mod daemons;
pub mod disruption;
pub mod explain;
pub mod field;
pub mod instance_type;
pub mod plan;
pub mod pod;
pub mod requirements;
pub mod resources;
pub mod scheduler;
pub mod selector;
pub mod snapshot;
pub mod taints;
pub mod template;
pub mod topology;
pub mod validate;
pub mod volumes;
pub mod words;
