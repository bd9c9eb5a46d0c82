//! The binary's one error type: what went wrong before or while a subcommand
//! ran, and the exit code it maps to (2 for a flag or argument kerf cannot
//! use, 1 for the rest), so every subcommand reports the same way.

/// A failure of a subcommand's set-up or run.
#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    /// A flag (or the environment variable behind it) holds a value kerf cannot use.
    #[error("invalid {flag}: {message}")]
    InvalidFlag { flag: &'static str, message: String },
    /// A positional argument kerf cannot use (`kerf explain pod a/b/c`).
    #[error("{what} {value:?}: {message}")]
    InvalidArgument {
        what: &'static str,
        value: String,
        message: &'static str,
    },
    /// Two or more flags that only make sense together, or not at all.
    // Only the cluster subcommands have such flags.
    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    #[error("{0}")]
    FlagCombination(&'static str),
    /// Input kerf cannot use, whose error names the flag or file itself
    /// (`--requirement "a": expected key=value1,value2`).
    // Only the add-on's input is checked by a library that names its flags.
    #[cfg_attr(not(feature = "addon"), allow(dead_code))]
    #[error("{0}")]
    InvalidInput(Box<dyn std::error::Error + Send + Sync>),
    /// A part of the process could not start or stopped with an error.
    #[error("{context}: {source}")]
    Failed {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl CmdError {
    pub fn invalid_flag(flag: &'static str, message: impl Into<String>) -> Self {
        CmdError::InvalidFlag {
            flag,
            message: message.into(),
        }
    }

    /// Wraps an error from a step of the run, saying which step.
    pub fn failed(
        context: impl Into<String>,
    ) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> Self {
        let context = context.into();
        move |source| CmdError::Failed { context, source }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CmdError::InvalidFlag { .. }
            | CmdError::InvalidArgument { .. }
            | CmdError::FlagCombination(_)
            | CmdError::InvalidInput(_) => 2,
            CmdError::Failed { .. } => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_arguments_exit_2_and_failures_exit_1() {
        let flag = CmdError::invalid_flag("--log-level (LOG_LEVEL)", "\"loud\" is not a level");
        assert_eq!(flag.exit_code(), 2);
        assert_eq!(
            flag.to_string(),
            "invalid --log-level (LOG_LEVEL): \"loud\" is not a level"
        );
        let argument = CmdError::InvalidArgument {
            what: "pod",
            value: "a/b/c".into(),
            message: "expected NAMESPACE/NAME or NAME (in default)",
        };
        assert_eq!(argument.exit_code(), 2);
        assert_eq!(
            argument.to_string(),
            "pod \"a/b/c\": expected NAMESPACE/NAME or NAME (in default)"
        );
        let io = std::io::Error::other("no threads");
        let failed = CmdError::failed("starting the async runtime")(Box::new(io));
        assert_eq!(failed.exit_code(), 1);
        assert_eq!(failed.to_string(), "starting the async runtime: no threads");
    }

    #[test]
    fn input_refused_by_a_library_exits_2_with_its_own_words() {
        let io = std::io::Error::other("--requirement \"a\": expected key=value1,value2");
        let input = CmdError::InvalidInput(Box::new(io));
        assert_eq!(input.exit_code(), 2);
        assert_eq!(
            input.to_string(),
            "--requirement \"a\": expected key=value1,value2"
        );
    }
}
