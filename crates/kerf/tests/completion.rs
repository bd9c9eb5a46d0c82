//! `kerf completion SHELL`: the script it prints completes kerf's
//! subcommands, flags and argument values in a real bash, fish and zsh (zsh
//! at its prompt in a real terminal, tmux, as a person presses Tab), and
//! every shell clap supports gets a script. Fails (never skips) when a shell
//! is missing: scripts/os-tools.sh installs them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::Tmux;

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

/// Writes `kerf completion SHELL` into a fresh temp dir; the dir and script.
fn script_file(shell: &str) -> (PathBuf, PathBuf) {
    let out = kerf(&["completion", shell]);
    assert_eq!(out.status.code(), Some(0), "kerf completion {shell}");
    let dir = std::env::temp_dir().join(format!("kerf-completion-{shell}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = dir.join(format!("kerf.{shell}"));
    std::fs::write(&script, &out.stdout).expect("write script");
    (dir, script)
}

/// What fish offers for `line`, with the script from `kerf completion fish`
/// loaded: the candidates, without their descriptions.
fn fish_completes(script: &Path, line: &str) -> Vec<String> {
    let program = format!("source {}; complete -C '{line}'", script.display());
    let out = Command::new("fish")
        .args(["--no-config", "-c", &program])
        .current_dir(script.parent().expect("script dir"))
        .output()
        .expect("run fish (scripts/os-tools.sh installs it)");
    assert!(
        out.status.success(),
        "fish: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn fish_completes_subcommands_flags_and_values() {
    let (dir, script) = script_file("fish");
    assert_eq!(fish_completes(&script, "kerf si"), ["simulate"]);
    assert_eq!(
        fish_completes(&script, "kerf simulate --disr"),
        ["--disruption"]
    );
    assert_eq!(fish_completes(&script, "kerf top --on"), ["--once"]);
    // The value of a positional argument: clap_complete's fish script alone
    // offered the files of the working directory here.
    assert_eq!(fish_completes(&script, "kerf completion f"), ["fish"]);
    let shells = fish_completes(&script, "kerf completion ");
    assert_eq!(shells, ["bash", "elvish", "fish", "powershell", "zsh"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Types `typed` at the zsh prompt, presses Tab, and waits for the line to
/// read `expected`; then clears the line.
fn zsh_tab(tmux: &Tmux, typed: &str, expected: &str) {
    tmux.keys(typed);
    tmux.keys("Tab");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut screen = tmux.screen();
    while !prompt_line(&screen).ends_with(expected) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        screen = tmux.screen();
    }
    assert!(
        prompt_line(&screen).ends_with(expected),
        "after `{typed}` and Tab, zsh's line is not `{expected}`:\n{screen}"
    );
    tmux.keys("C-u");
}

/// The last non-empty line of the screen, where the prompt is.
fn prompt_line(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim_end()
}

#[test]
fn zsh_completes_at_its_prompt_in_a_terminal() {
    let (dir, script) = script_file("zsh");
    let tmux = Tmux::start("kerf-zsh", "zsh -f");
    tmux.keys(&format!(
        "autoload -U compinit && compinit -u && source {} && print loaded",
        script.display()
    ));
    tmux.keys("Enter");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !tmux.screen().lines().any(|l| l.trim() == "loaded") {
        assert!(
            Instant::now() < deadline,
            "zsh did not load the script:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    zsh_tab(&tmux, "kerf si", "kerf simulate");
    zsh_tab(&tmux, "kerf simulate --disr", "kerf simulate --disruption");
    zsh_tab(&tmux, "kerf top --on", "kerf top --once");
    zsh_tab(&tmux, "kerf completion f", "kerf completion fish");
    drop(tmux);
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
