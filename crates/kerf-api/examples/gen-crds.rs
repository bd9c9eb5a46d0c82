//! Writes kerf's CRDs to `crates/kerf-api/crds/` (or the directory given as
//! the first argument), one file per CRD.
//!
//! ```sh
//! cargo run -p kerf-api --example gen-crds
//! ```

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crds"));
    std::fs::create_dir_all(&dir)?;
    for (name, yaml) in kerf_api::crds::files()? {
        let path = dir.join(name);
        std::fs::write(&path, yaml)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
