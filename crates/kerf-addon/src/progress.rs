//! Progress of an install or uninstall, one step at a time, so a failure names the step that
//! failed and what is already in place.

use crate::error::AddonError;

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// The resource was created.
    Created,
    /// The resource existed and was changed to the desired state.
    Updated,
    /// The resource already existed in the desired state: nothing was changed.
    Unchanged,
    /// The resource was removed.
    Deleted,
    /// The resource was not there to remove.
    Absent,
    /// The step failed; the message says why.
    Failed(String),
}

/// Receives one call per step. `step` is a short stable name (`iam:node-role`, `helm:release`).
pub trait Progress: Send {
    /// Called when a step's work begins, so a long one (a Helm release
    /// waiting for its pods) can be shown while it runs.
    fn started(&mut self, _step: &str, _resource: &str) {}
    fn step(&mut self, step: &str, resource: &str, outcome: &StepOutcome);
}

/// Collects steps in memory; what tests and the library's callers inspect.
#[derive(Debug, Default, Clone)]
pub struct Recorded {
    pub steps: Vec<(String, String, StepOutcome)>,
}

impl Progress for Recorded {
    fn step(&mut self, step: &str, resource: &str, outcome: &StepOutcome) {
        self.steps
            .push((step.to_string(), resource.to_string(), outcome.clone()));
    }
}

/// Prints one line per step (`install  iam:node-role  KarpenterNodeRole-demo  created`), for
/// the CLI.
pub struct Printed<W: std::io::Write + Send> {
    pub out: W,
}

impl<W: std::io::Write + Send> Progress for Printed<W> {
    fn step(&mut self, step: &str, resource: &str, outcome: &StepOutcome) {
        let outcome = match outcome {
            StepOutcome::Created => "created".to_string(),
            StepOutcome::Updated => "updated".to_string(),
            StepOutcome::Unchanged => "unchanged".to_string(),
            StepOutcome::Deleted => "deleted".to_string(),
            StepOutcome::Absent => "absent".to_string(),
            StepOutcome::Failed(why) => format!("FAILED: {why}"),
        };
        // A closed stdout must not abort an install half-way.
        let _ = writeln!(self.out, "{step:<28} {resource:<48} {outcome}");
    }
}

/// Runs steps in order over a [`Progress`], remembering which succeeded so that a failure
/// names the failing step and everything already in place (a re-run resumes from there:
/// every step is idempotent).
pub struct Steps<'a> {
    progress: &'a mut dyn Progress,
    done: Vec<String>,
}

impl<'a> Steps<'a> {
    pub fn new(progress: &'a mut dyn Progress) -> Self {
        Steps {
            progress,
            done: Vec::new(),
        }
    }

    /// Runs one step: `work` returns the outcome and a value. On error the step is reported
    /// Failed and the error says which step failed and what is already in place.
    pub async fn run<T, F>(&mut self, step: &str, resource: &str, work: F) -> Result<T, AddonError>
    where
        F: std::future::Future<Output = Result<(StepOutcome, T), AddonError>>,
    {
        self.progress.started(step, resource);
        match work.await {
            Ok((outcome, value)) => {
                self.progress.step(step, resource, &outcome);
                self.done.push(format!("{step} {resource}"));
                Ok(value)
            }
            Err(e) => {
                self.progress
                    .step(step, resource, &StepOutcome::Failed(e.to_string()));
                Err(AddonError::Step {
                    step: step.to_string(),
                    resource: resource.to_string(),
                    source: Box::new(e),
                    done: self.done.clone(),
                })
            }
        }
    }

    /// Reports a step that needed no work (e.g. a resource kerf keeps on uninstall).
    pub fn report(&mut self, step: &str, resource: &str, outcome: StepOutcome) {
        self.progress.step(step, resource, &outcome);
        self.done.push(format!("{step} {resource}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied() -> AddonError {
        AddonError::invalid("b", "denied")
    }

    #[tokio::test]
    async fn a_failure_names_the_step_and_what_is_in_place() {
        let mut rec = Recorded::default();
        let mut steps = Steps::new(&mut rec);
        steps
            .run("a:first", "one", async { Ok((StepOutcome::Created, ())) })
            .await
            .unwrap();
        let err = steps
            .run::<(), _>("b:second", "two", async { Err(denied()) })
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("step b:second (two) failed: b: denied"),
            "{err}"
        );
        assert!(err.contains("already done: a:first one"), "{err}");
        assert_eq!(rec.steps.len(), 2);
        assert_eq!(rec.steps[1].2, StepOutcome::Failed("b: denied".into()));
    }

    /// What a progress display sees, in order.
    #[derive(Default)]
    struct Seen(Vec<String>);

    impl Progress for Seen {
        fn started(&mut self, step: &str, _resource: &str) {
            self.0.push(format!("start {step}"));
        }
        fn step(&mut self, step: &str, _resource: &str, _outcome: &StepOutcome) {
            self.0.push(format!("end {step}"));
        }
    }

    #[tokio::test]
    async fn each_step_is_announced_before_its_work_runs() {
        let mut seen = Seen::default();
        let mut steps = Steps::new(&mut seen);
        let ran = std::sync::atomic::AtomicBool::new(false);
        steps
            .run("helm:release", "kerf", async {
                ran.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok((StepOutcome::Created, ()))
            })
            .await
            .unwrap();
        let _ = steps
            .run::<(), _>("k8s:provisioner", "default", async { Err(denied()) })
            .await;
        assert!(ran.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(
            seen.0,
            [
                "start helm:release",
                "end helm:release",
                "start k8s:provisioner",
                "end k8s:provisioner"
            ]
        );
    }

    #[test]
    fn printed_lines_name_step_resource_and_outcome() {
        let mut p = Printed { out: Vec::new() };
        p.step(
            "iam:node-role",
            "KarpenterNodeRole-x",
            &StepOutcome::Unchanged,
        );
        let line = String::from_utf8(p.out).unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words, ["iam:node-role", "KarpenterNodeRole-x", "unchanged"]);
    }
}
