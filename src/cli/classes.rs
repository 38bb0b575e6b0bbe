//! Which class names `run --eval` and `predict` print: those stored in the checkpoint
//! (`netc.classes`), else the dataset's, else the class indices, with a note saying which
//! when it is not the checkpoint's. Names are shown with control characters escaped, since
//! they may come from folder names.

use crate::train::checkpoint::{stored_classes, CLASSES_KEY};
use std::collections::HashMap;
use std::path::Path;

/// Where the names come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Checkpoint,
    Dataset,
    Indices,
}

impl Source {
    /// As the JSON reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Checkpoint => "checkpoint",
            Source::Dataset => "dataset",
            Source::Indices => "indices",
        }
    }
}

/// The class names of a net's outputs, one per class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassNames {
    pub names: Vec<String>,
    pub source: Source,
}

impl ClassNames {
    /// Whether every name is just its index ("0", "1", …), so that printing both is noise.
    pub fn are_indices(&self) -> bool {
        self.names.iter().enumerate().all(|(i, n)| *n == i.to_string())
    }
}

/// The names for a net scoring `classes` classes, whose weights `weights` carry `metadata`:
/// the checkpoint's if it has valid ones, else `fallback` (e.g. the dataset's) if given and
/// of the right count, else the indices. Returns the notes to print.
pub fn resolve(
    metadata: &HashMap<String, String>,
    weights: &Path,
    classes: usize,
    fallback: Option<(&str, &[String])>,
) -> (ClassNames, Vec<String>) {
    let mut notes = Vec::new();
    let instead = match fallback {
        Some((what, names)) if names.len() == classes => format!("the class names of {what} are used"),
        _ => "classes are shown by index".to_string(),
    };
    match stored_classes(metadata) {
        Ok(Some(names)) if names.len() == classes => {
            return (ClassNames { names, source: Source::Checkpoint }, notes);
        }
        Ok(Some(names)) => notes.push(format!(
            "warning: {}: it stores {} class names (`{CLASSES_KEY}`) but the net scores {classes} classes; {instead}",
            weights.display(),
            names.len()
        )),
        Ok(None) if fallback.is_none() => {
            notes.push(format!("note: {} stores no class names (`{CLASSES_KEY}`); {instead}", weights.display()))
        }
        Ok(None) => {}
        Err(e) => notes.push(format!("warning: {}: {e}; {instead}", weights.display())),
    }
    let names = match fallback {
        Some((_, names)) if names.len() == classes => ClassNames { names: names.to_vec(), source: Source::Dataset },
        _ => ClassNames { names: (0..classes).map(|i| i.to_string()).collect(), source: Source::Indices },
    };
    (names, notes)
}

/// A few names for a message: `a, b, c, … (10 in all)`.
pub fn some_names(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(4).map(|n| printable(n)).collect();
    if names.len() > shown.len() {
        format!("{}, … ({} in all)", shown.join(", "), names.len())
    } else {
        shown.join(", ")
    }
}

/// A name safe to print to a terminal: control characters escaped (`\n`, `\u{1b}`).
pub fn printable(name: &str) -> String {
    name.chars().map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() }).collect()
}

/// Display width of a printable name, in characters (what column padding counts).
pub fn width(name: &str) -> usize {
    name.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(json: &str) -> HashMap<String, String> {
        [(CLASSES_KEY.to_string(), json.to_string())].into()
    }

    #[test]
    fn checkpoint_then_dataset_then_indices() {
        let w = Path::new("w.safetensors");
        let data: Vec<String> = vec!["x".into(), "y".into()];
        let (n, notes) = resolve(&meta(r#"["cat","dog"]"#), w, 2, Some(("d", &data)));
        assert_eq!((n.names, n.source, notes.len()), (vec!["cat".to_string(), "dog".into()], Source::Checkpoint, 0));
        let (n, notes) = resolve(&meta(r#"["cat"]"#), w, 2, Some(("d", &data)));
        assert_eq!(n.source, Source::Dataset);
        assert!(notes[0].contains("stores 1 class names") && notes[0].contains("class names of d"), "{notes:?}");
        let (n, notes) = resolve(&HashMap::new(), w, 3, None);
        assert_eq!((n.source, n.are_indices()), (Source::Indices, true));
        assert!(notes[0].contains("stores no class names"), "{notes:?}");
        let (n, notes) = resolve(&meta("[1, 2]"), w, 2, None);
        assert_eq!(n.source, Source::Indices);
        assert!(notes[0].contains("not a JSON array of strings"), "{notes:?}");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\n");
        assert_eq!(printable("chat noir"), "chat noir");
    }
}
