//! `kerf completion SHELL`: the script it prints completes kerf's
//! subcommands and flags in a real bash (the one shell every machine here
//! has), and every shell clap supports gets a script.

use std::process::Command;

fn kerf(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kerf"))
        .args(args)
        .output()
        .expect("run kerf")
}

/// What bash offers after `words` (the last one being typed), with the
/// script from `kerf completion bash` loaded.
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let program = format!(
        "source {script}\nCOMP_WORDS=({line})\nCOMP_CWORD={cword}\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\n_kerf kerf '{cur}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script = script.display(),
        cword = words.len() - 1,
        cur = words.last().copied().unwrap_or_default(),
        prev = words[words.len().saturating_sub(2)],
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_flags() {
    let out = kerf(&["completion", "bash"]);
    assert_eq!(out.status.code(), Some(0));
    let dir = std::env::temp_dir().join(format!("kerf-completion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = dir.join("kerf.bash");
    std::fs::write(&script, &out.stdout).expect("write script");

    let subcommands = bash_completes(&script, &["kerf", "si"]);
    assert_eq!(subcommands, ["simulate"]);
    let flags = bash_completes(&script, &["kerf", "simulate", "--disr"]);
    assert_eq!(flags, ["--disruption"]);
    let top = bash_completes(&script, &["kerf", "to"]);
    assert_eq!(top, ["top"]);
    let once = bash_completes(&script, &["kerf", "top", "--on"]);
    assert_eq!(once, ["--once"]);
    let shells = bash_completes(&script, &["kerf", "completion", "f"]);
    assert_eq!(shells, ["fish"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_shell_gets_a_script_and_an_unknown_one_is_refused() {
    for (shell, marker) in [
        ("bash", "complete -F _kerf"),
        ("zsh", "#compdef kerf"),
        ("fish", "complete -c kerf"),
        ("elvish", "edit:completion:arg-completer[kerf]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = kerf(&["completion", shell]);
        let script = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(script.contains(marker), "{shell}: {marker} missing");
        assert!(script.contains("simulate"), "{shell}: no subcommands");
    }
    let out = kerf(&["completion", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
}
