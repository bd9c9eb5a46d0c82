//! How an instance is launched: bootstrap [`user_data`] per AMI family, one
//! launch [`template`] per configuration, and the CreateFleet [`fleet`] call.

pub mod fleet;
pub mod template;
pub mod user_data;
