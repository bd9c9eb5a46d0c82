//! The Helm chart `charts/kerf`, embedded at compile time (see `build.rs`) and written to a
//! temporary folder for helm, so an installed `kerf` needs no checkout of the repository.

use std::path::{Path, PathBuf};

use crate::error::AddonError;

include!(concat!(env!("OUT_DIR"), "/chart_files.rs"));

/// Every file of the chart: (path relative to the chart folder, contents), sorted by path.
pub fn files() -> &'static [(&'static str, &'static [u8])] {
    CHART_FILES
}

/// The chart written out below `dir` (as `dir/kerf`); returns the chart folder.
pub fn write_to(dir: &Path) -> Result<PathBuf, AddonError> {
    let root = dir.join("kerf");
    for (name, contents) in CHART_FILES {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(AddonError::io("creating", parent))?;
        }
        std::fs::write(&path, contents).map_err(AddonError::io("writing", &path))?;
    }
    Ok(root)
}
