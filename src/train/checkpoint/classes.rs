//! The class names a checkpoint carries: the `netc.classes` metadata entry, a JSON array of
//! strings in label order, written by `netc run --save` and read by `--eval` and `predict`.

use std::collections::HashMap;

/// The metadata key of the class names.
pub const CLASSES_KEY: &str = "netc.classes";

/// The metadata entry for `names`.
pub fn classes_entry(names: &[String]) -> (String, String) {
    (CLASSES_KEY.to_string(), serde_json::to_string(names).expect("strings serialise"))
}

/// The class names stored in `metadata`: `Ok(None)` when there are none, an error (to warn
/// about) when the entry is not a JSON array of strings.
pub fn stored_classes(metadata: &HashMap<String, String>) -> Result<Option<Vec<String>>, String> {
    let Some(text) = metadata.get(CLASSES_KEY) else { return Ok(None) };
    serde_json::from_str::<Vec<String>>(text)
        .map(Some)
        .map_err(|e| format!("its `{CLASSES_KEY}` entry is not a JSON array of strings ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let names: Vec<String> = ["cat", "dog \"big\"", "é"].iter().map(|s| s.to_string()).collect();
        let meta: HashMap<String, String> = [classes_entry(&names)].into_iter().collect();
        assert_eq!(stored_classes(&meta), Ok(Some(names)));
        assert_eq!(stored_classes(&HashMap::new()), Ok(None));
        let bad: HashMap<String, String> = [(CLASSES_KEY.to_string(), "{\"a\": 1}".to_string())].into();
        assert!(stored_classes(&bad).is_err());
    }
}
