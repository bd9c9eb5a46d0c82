//! `kerf completion SHELL`: clap_complete's script for the shell, with what
//! its fish generator leaves out added. That generator completes only named
//! options, so `kerf completion <TAB>` offered files in fish; the values of
//! every positional argument that has a fixed set are appended here, under
//! the same subcommand conditions the generated script uses.

use clap::Command;
use clap_complete::Shell;

/// The completion script for `shell`, for the command tree `cmd` named `bin`.
pub fn script(shell: Shell, cmd: &mut Command, bin: &str) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, cmd, bin, &mut script);
    if shell == Shell::Fish {
        cmd.build();
        let mut path = Vec::new();
        append_fish_positionals(cmd, bin, &mut path, &mut script);
    }
    script
}

/// One `complete` line per subcommand whose positional arguments have
/// possible values, conditioned on that subcommand path being on the line
/// and on no further subcommand of it.
fn append_fish_positionals(cmd: &Command, bin: &str, path: &mut Vec<String>, out: &mut Vec<u8>) {
    let values: Vec<String> = cmd
        .get_positionals()
        .flat_map(|arg| arg.get_possible_values())
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if !values.is_empty() && !path.is_empty() {
        let mut condition = format!("__fish_{}_using_subcommand {}", fish_ident(bin), path[0]);
        for sub in &path[1..] {
            condition.push_str(&format!("; and __fish_seen_subcommand_from {sub}"));
        }
        let line = format!(
            "complete -c {bin} -n \"{condition}\" -f -a \"{}\"\n",
            values.join(" ")
        );
        out.extend_from_slice(line.as_bytes());
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        path.push(sub.get_name().to_string());
        append_fish_positionals(sub, bin, path, out);
        path.pop();
    }
}

/// The binary's name as clap_complete spells it in fish function names.
fn fish_ident(bin: &str) -> String {
    bin.replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, builder::PossibleValuesParser};

    fn tool() -> Command {
        Command::new("tool")
            .subcommand(
                Command::new("pick").arg(
                    Arg::new("colour").value_parser(PossibleValuesParser::new(["red", "blue"])),
                ),
            )
            .subcommand(
                Command::new("group").subcommand(
                    Command::new("inner")
                        .arg(Arg::new("mode").value_parser(PossibleValuesParser::new(["a", "b"]))),
                ),
            )
            .subcommand(Command::new("free").arg(Arg::new("path")))
    }

    #[test]
    fn fish_gets_positional_values_under_their_subcommand_path() {
        let script = String::from_utf8(script(Shell::Fish, &mut tool(), "tool")).unwrap();
        assert!(
            script.contains(
                "complete -c tool -n \"__fish_tool_using_subcommand pick\" -f -a \"red blue\"\n"
            ),
            "{script}"
        );
        assert!(
            script.contains("complete -c tool -n \"__fish_tool_using_subcommand group; and __fish_seen_subcommand_from inner\" -f -a \"a b\"\n"),
            "{script}"
        );
        assert!(
            !script.contains("using_subcommand free\" -f -a"),
            "{script}"
        );
    }

    #[test]
    fn other_shells_get_clap_complete_output_unchanged() {
        let mut generated = Vec::new();
        clap_complete::generate(Shell::Bash, &mut tool(), "tool", &mut generated);
        assert_eq!(script(Shell::Bash, &mut tool(), "tool"), generated);
    }
}
