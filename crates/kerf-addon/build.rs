//! Embeds every file of `charts/kerf` into the crate (`$OUT_DIR/chart_files.rs`), so
//! `kerf addon install` works from an installed binary anywhere, without the repository.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading the chart folder {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("reading the chart folder {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let chart = manifest.join("../../charts/kerf");
    let chart = chart
        .canonicalize()
        .unwrap_or_else(|e| panic!("the chart folder {}: {e}", chart.display()));
    println!("cargo:rerun-if-changed={}", chart.display());
    let mut paths = Vec::new();
    files(&chart, &mut paths);
    paths.sort();
    let mut code = String::from("pub(crate) static CHART_FILES: &[(&str, &[u8])] = &[\n");
    for path in &paths {
        let relative = path
            .strip_prefix(&chart)
            .expect("below the chart folder")
            .to_str()
            .expect("chart file names are UTF-8")
            .replace('\\', "/");
        writeln!(
            code,
            "    ({relative:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .expect("writing to a String");
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("chart_files.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
