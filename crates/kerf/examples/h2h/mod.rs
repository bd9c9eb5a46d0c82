//! Shared parts of the controller head-to-head run (`controller_h2h`): the
//! manifests each controller gets, how each controller is started, the
//! watches that time the run, and the process figures read from /proc.

pub mod controllers;
pub mod manifests;
pub mod proc_stats;
pub mod scale_down;
pub mod shared;
pub mod watch;
