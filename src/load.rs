//! Finding and loading scenario files: a path, or the built-in default.

use std::path::{Path, PathBuf};

use orbnet_netem::{Scenario, ScenarioError};

/// The scenario `orbnet up` runs when given none.
pub(crate) const DEFAULT_SCENARIO: &str = include_str!("../topologies/default.toml");
/// How the built-in default is named in messages.
pub(crate) const DEFAULT_NAME: &str = "topologies/default.toml (built in)";

/// Where a scenario came from, so satellite processes can load the same one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    BuiltIn,
    File(PathBuf),
}

impl Source {
    pub(crate) fn from_arg(arg: Option<&Path>) -> Source {
        arg.map_or(Source::BuiltIn, |p| Source::File(p.to_path_buf()))
    }
}

/// Reads and validates a scenario. Files it refers to are read relative to it.
pub(crate) fn load(source: &Source) -> Result<Scenario, ScenarioError> {
    match source {
        Source::BuiltIn => Scenario::parse(DEFAULT_SCENARIO, DEFAULT_NAME, &mut |p: &str| {
            Err(format!("the built-in scenario cannot refer to {p}"))
        }),
        Source::File(path) => {
            let label = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
                file: label.clone(),
                field: String::new(),
                reason: format!("cannot read: {e}"),
            })?;
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            Scenario::parse_bytes(&text, &label, &mut |rel: &str| {
                std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
            })
        }
    }
}
