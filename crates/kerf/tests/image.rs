//! The container image `scripts/image.sh` builds, pushed to a real registry
//! (crane's, on loopback) and read back: its config is what the chart's
//! Deployments expect (entrypoint /kerf, non-root user, linux/amd64), its one
//! layer is a file system `kerf` runs in with nothing from the host (chroot:
//! `kerf simulate` plans the seed example there), and building it again from the
//! same binary gives the same digest.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn last_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn build_image(root: &Path, reference: &str) -> String {
    let pushed = last_line(&run(Command::new(root.join("scripts/image.sh"))
        .args(["--binary", env!("CARGO_BIN_EXE_kerf")])
        .args(["--push", reference, "--insecure"])));
    assert!(pushed.contains("@sha256:"), "image.sh printed {pushed:?}");
    pushed
}

#[test]
fn image_runs_kerf_with_nothing_from_the_host() {
    let root = kerf_testenv::binaries::repo_root();
    let registry = kerf_testenv::ContainerRegistry::start().expect("crane's registry on loopback");
    let crane = registry.crane();
    let reference = format!("{}/kerf:e2e", registry.address());

    let pushed = build_image(&root, &reference);

    let config: serde_json::Value = serde_json::from_slice(
        &run(Command::new(crane).args(["config", "--insecure", &pushed])).stdout,
    )
    .expect("image config is JSON");
    assert_eq!(config["os"], "linux", "{config}");
    assert_eq!(config["architecture"], "amd64", "{config}");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/kerf"]),
        "{config}"
    );
    assert_eq!(config["config"]["User"], "65532:65532", "{config}");
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION"),
        "{config}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let fs = dir.path().join("fs");
    std::fs::create_dir(&fs).expect("fs dir");
    let tarball = dir.path().join("fs.tar");
    run(Command::new(crane)
        .args(["export", "--insecure", &pushed])
        .arg(&tarball));
    run(Command::new("tar")
        .arg("-xf")
        .arg(&tarball)
        .arg("-C")
        .arg(&fs));
    for file in ["kerf", "etc/ssl/certs/ca-certificates.crt", "etc/passwd"] {
        assert!(fs.join(file).is_file(), "{file} missing from the image");
    }
    assert!(!fs.join("bin/sh").exists(), "the image carries no shell");

    // The seed example, planned inside the image's file system alone.
    run(Command::new("cp")
        .arg("-r")
        .arg(root.join("examples/seed"))
        .arg(fs.join("seed")));
    let is_root = last_line(&run(Command::new("id").arg("-u"))) == "0";
    let mut chroot = if is_root {
        let mut c = Command::new("chroot");
        c.arg("--userspec=65532:65532");
        c
    } else {
        let mut c = Command::new("unshare");
        c.args(["--map-root-user", "chroot"]);
        c
    };
    let planned = run(chroot.arg(&fs).args(["/kerf", "simulate", "/seed"]));
    let table = String::from_utf8_lossy(&planned.stdout);
    assert!(
        table.contains("Total:") && table.contains("0 unschedulable"),
        "{table}"
    );

    // Same binary, same bytes, same digest.
    let again = build_image(&root, &reference);
    assert_eq!(
        again.rsplit('@').next(),
        pushed.rsplit('@').next(),
        "the image is not reproducible"
    );
}
