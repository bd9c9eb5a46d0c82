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

/// The disruption settings as the chart writes them (`settings.featureGates`,
/// `settings.disruptionValidationDelay`; see kerf-webhook's chart test) pass
/// the controller's checks (it stops at the missing kubeconfig instead); a
/// gate kerf does not implement, turned on, and a bad delay are named.
#[test]
fn the_charts_disruption_settings_are_accepted_and_bad_ones_named() {
    for gates in [
        "SpotToSpotConsolidation=false",
        "SpotToSpotConsolidation=true",
    ] {
        let (code, err) = controller(
            &["--cloud-provider", "kwok"],
            &[
                ("FEATURE_GATES", gates),
                ("KERF_DISRUPTION_VALIDATION_DELAY", "15s"),
            ],
        );
        // Past every setting, it stops at the kubeconfig this test gives it.
        assert_eq!(code, 2, "{gates}: {err}");
        assert!(err.contains("invalid --kubeconfig"), "{gates}: {err}");
    }
    let (code, err) = controller(
        &["--cloud-provider", "kwok"],
        &[("FEATURE_GATES", "NodeRepair=true")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--feature-gates (FEATURE_GATES)") && err.contains("NodeRepair"),
        "{err}"
    );
    let (code, err) = controller(
        &[
            "--cloud-provider",
            "kwok",
            "--disruption-validation-delay",
            "soon",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--disruption-validation-delay"), "{err}");
}
