//! `kerf controller` settings that are checked before anything starts (no
//! cluster needed): a bad log level or format exits 2 naming the setting.

use std::process::Command;

fn controller(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kerf"))
        .arg("controller")
        .args(["--cluster-name", "c", "--kubeconfig", "/nonexistent"])
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("run kerf");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_log_settings_are_named() {
    let (code, err) = controller(&["--log-level", "verbose"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--log-level (LOG_LEVEL)"), "{err}");
    let (code, err) = controller(&[], &[("LOG_LEVEL", "loud")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("LOG_LEVEL"), "{err}");
    let (code, err) = controller(&["--log-format", "xml"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--log-format"), "{err}");
}
