//! Reader for occusearch's generic JSONL exchange format: one profile, material, skill or concept
//! per line, so that any alliance can publish its artefacts without a custom reader. The format
//! is documented in README.md (section "Generic JSONL") and `corpora/sample-alliance.jsonl`
//! shows every field.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;

use super::FileBatch;
use crate::error::{Error, InputError, Position, Result};
use crate::types::{Attributes, Concept, ConceptId, Kind, Lang, LanguageLabels, Relation, RelationType};

/// One line of a generic JSONL file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericRecord {
    /// Source-qualified stable id, e.g. `myalliance:profile:data-steward`.
    pub id: String,
    pub kind: Kind,
    /// Who publishes it, e.g. `myalliance`.
    pub source: String,
    /// Labels and texts per ISO 639-1 language.
    pub labels: BTreeMap<Lang, LanguageLabels>,
    #[serde(default)]
    pub attributes: Attributes,
    #[serde(default)]
    pub relations: Vec<GenericRelation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericRelation {
    pub relation: RelationType,
    pub to: String,
    #[serde(default)]
    pub level: Option<u8>,
}

fn error(path: &Path, line: u64, field: Option<&str>, message: impl Into<String>) -> InputError {
    InputError {
        file: path.to_path_buf(),
        position: Position::Line(line),
        field: field.map(str::to_string),
        message: message.into(),
    }
}

/// Pulls the field name out of serde's messages (`unknown field `lable``, `missing field `id``).
fn field_of(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(&message[start..end])
}

fn parse_line(path: &Path, line_number: u64, line: &str) -> std::result::Result<(Concept, Vec<Relation>), InputError> {
    let record: GenericRecord = serde_json::from_str(line).map_err(|e| {
        let message = e.to_string();
        error(path, line_number, field_of(&message), message.clone())
    })?;
    let id = record.id.trim();
    if id.is_empty() || id.contains(char::is_whitespace) {
        return Err(error(path, line_number, Some("id"), "empty or contains whitespace"));
    }
    if record.source.trim().is_empty() {
        return Err(error(path, line_number, Some("source"), "empty"));
    }
    if record
        .labels
        .values()
        .all(|labels| labels.preferred.is_none() && labels.alternative.is_empty())
    {
        return Err(error(
            path,
            line_number,
            Some("labels"),
            "no preferred or alternative label in any language",
        ));
    }
    if let Some(level) = record
        .attributes
        .eqf_levels
        .iter()
        .find(|level| !(1..=8).contains(*level))
    {
        return Err(error(
            path,
            line_number,
            Some("attributes.eqf_levels"),
            format!("EQF level {level} is not in 1..=8"),
        ));
    }
    let id = ConceptId::new(id);
    let relations = record
        .relations
        .into_iter()
        .map(|r| Relation {
            from: id.clone(),
            relation: r.relation,
            to: ConceptId::new(r.to.trim()),
            level: r.level,
        })
        .collect();
    let concept = Concept {
        id,
        kind: record.kind,
        source: record.source.trim().to_string(),
        labels: record.labels,
        attributes: record.attributes,
    };
    Ok((concept, relations))
}

pub fn read(path: &Path) -> Result<FileBatch> {
    let reader = std::io::BufReader::new(super::csv_util::open(path)?);
    let mut batch = FileBatch::default();
    for (index, line) in reader.lines().enumerate() {
        let line_number = index as u64 + 1;
        let line = match line {
            Ok(line) => line,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                batch.errors.push(error(path, line_number, None, "not valid UTF-8"));
                continue;
            }
            Err(e) => return Err(Error::io("cannot read", path, e)),
        };
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(path, line_number, &line) {
            Ok((concept, relations)) => {
                batch.concepts.push(concept);
                batch.relations.extend(relations);
            }
            Err(error) => batch.errors.push(error),
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn good_lines_survive_bad_neighbours() {
        let mut file = tempfile::Builder::new().suffix(".jsonl").tempfile().unwrap();
        writeln!(
            file,
            r#"{{"id":"a:1","kind":"profile","source":"a","labels":{{"en":{{"preferred":"Data steward"}}}}}}"#
        )
        .unwrap();
        writeln!(file, r#"{{"id":"a:2","kind":"profile","source":"a","lables":{{}}}}"#).unwrap();
        writeln!(file, r#"{{"id":"a:3","kind":"material","source":"a","labels":{{"en":{{"preferred":"x"}}}},"attributes":{{"eqf_levels":[9]}}}}"#).unwrap();
        writeln!(file, "{{not json").unwrap();
        writeln!(
            file,
            r#"{{"id":"a:4","kind":"skill","source":"a","labels":{{"de":{{"alternative":["Datenpflege"]}}}}}}"#
        )
        .unwrap();
        let batch = read(file.path()).unwrap();
        assert_eq!(
            batch.concepts.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            vec!["a:1", "a:4"]
        );
        assert_eq!(batch.errors.len(), 3);
        assert_eq!(batch.errors[0].position, Position::Line(2));
        assert_eq!(batch.errors[0].field.as_deref(), Some("lables"));
        assert_eq!(batch.errors[1].field.as_deref(), Some("attributes.eqf_levels"));
        assert_eq!(batch.errors[2].position, Position::Line(4));
    }

    #[test]
    fn the_shipped_sample_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/sample-alliance.jsonl");
        let batch = read(&path).unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        assert!(batch.concepts.len() >= 4);
        assert!(batch
            .concepts
            .iter()
            .any(|c| c.kind == Kind::Material && !c.attributes.eqf_levels.is_empty()));
    }
}
