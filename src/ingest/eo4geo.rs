//! Readers for EO4GEO, the space/geospatial Sector Skills Alliance: the Body of Knowledge as JSON
//! (concepts, broader links, learning outcomes), the older BoK XML (the only copy with skills
//! attached to concepts) and the training-material catalogue (CSV). All join on the BoK code, as
//! `eo4geo:<CODE>` (concepts) and `eo4geo:skill:<CODE>` (skills).

use std::collections::HashMap;
use std::path::Path;

use quick_xml::events::Event;
use serde_json::Value;

use super::csv_util::{Dialect, Table};
use super::ecsf::{load_json, located};
use super::{slug, FileBatch};
use crate::error::{Error, InputError, Position, Result};
use crate::types::{Concept, ConceptId, Kind, Lang, LanguageLabels, Relation, RelationType, SkillType};

/// The two BoK exports carry no release number; they are ordered by the date of their source
/// commit so that the newer JSON's labels win over the 2019 XML's when both are read.
const BOK_JSON_VERSION: &str = "2020.2";
const BOK_XML_VERSION: &str = "2019.4";

fn concept_id(code: &str) -> ConceptId {
    ConceptId::new(format!("eo4geo:{code}"))
}

/// `"[IP3-11] Image processing"` → (`IP3-11`, `Image processing`).
fn split_code(label: &str) -> Option<(&str, &str)> {
    let rest = label.trim().strip_prefix('[')?;
    let (code, name) = rest.split_once(']')?;
    let code = code.trim();
    (!code.is_empty() && !code.contains(char::is_whitespace)).then_some((code, name.trim()))
}

pub fn read_bok_json(path: &Path) -> Result<FileBatch> {
    let root = load_json(path)?;
    let mut batch = FileBatch::default();
    let en = Lang::english();
    let nodes = root
        .get("nodes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut id_of_node: Vec<Option<ConceptId>> = Vec::with_capacity(nodes.len());
    let mut index_of_id: HashMap<ConceptId, usize> = HashMap::new();
    for (index, node) in nodes.iter().enumerate() {
        let label = node.get("label").and_then(Value::as_str).unwrap_or_default();
        let Some((code, name)) = split_code(label) else {
            batch.errors.push(located(
                path,
                format!("nodes[{index}]"),
                "label",
                format!("no [CODE] prefix in {label:?}"),
            ));
            id_of_node.push(None);
            continue;
        };
        let id = concept_id(code);
        id_of_node.push(Some(id.clone()));
        let definition = node
            .get("definition")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|d| !d.is_empty());
        // A few codes occur twice (GI-N2K concept and its EO4GEO successor): one concept, the
        // second name kept as an alternative label.
        if let Some(&first) = index_of_id.get(&id) {
            let concept: &mut Concept = &mut batch.concepts[first];
            if let Some(labels) = concept.labels.get_mut(&en) {
                labels.alternative.push(name.to_string());
                if labels.description.is_none() {
                    labels.description = definition.map(str::to_string);
                }
            }
            continue;
        }
        let mut concept = Concept::new(id.clone(), Kind::Concept, "eo4geo");
        concept.attributes.code = Some(code.to_string());
        concept.labels.insert(
            en.clone(),
            LanguageLabels {
                preferred: Some(name.to_string()),
                description: definition.filter(|d| *d != name).map(str::to_string),
                version: Some(BOK_JSON_VERSION.into()),
                ..Default::default()
            },
        );
        index_of_id.insert(id, batch.concepts.len());
        batch.concepts.push(concept);
    }
    let node_id = |value: Option<&Value>| -> Option<ConceptId> {
        let index = usize::try_from(value?.as_u64()?).ok()?;
        id_of_node.get(index)?.clone()
    };
    for (index, link) in root
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        match (node_id(link.get("source")), node_id(link.get("target"))) {
            (Some(from), Some(to)) if from != to => batch.relations.push(Relation {
                from,
                relation: RelationType::Broader,
                to,
                level: None,
            }),
            (Some(_), Some(_)) => {}
            _ => batch.errors.push(located(
                path,
                format!("links[{index}]"),
                "source",
                "not an index of a readable node",
            )),
        }
    }
    for (index, outcome) in root
        .get("learning_outcomes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(text) = outcome
            .get("label")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            batch.errors.push(located(
                path,
                format!("learning_outcomes[{index}]"),
                "label",
                "missing or empty",
            ));
            continue;
        };
        let targets = outcome
            .get("isLearningOutcomeOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut attached = false;
        for target in targets {
            if let Some(&concept_index) = node_id(Some(target)).and_then(|id| index_of_id.get(&id)) {
                if let Some(labels) = batch.concepts[concept_index].labels.get_mut(&en) {
                    labels.passages.push(text.to_string());
                    attached = true;
                }
            }
        }
        if attached {
            batch.attached += 1;
        } else {
            batch.errors.push(located(
                path,
                format!("learning_outcomes[{index}]"),
                "isLearningOutcomeOf",
                "names no readable node",
            ));
        }
    }
    Ok(batch)
}

fn xml_error(path: &Path, position: u64, message: String) -> Error {
    Error::Input(InputError {
        file: path.to_path_buf(),
        position: Position::Path(format!("byte {position}")),
        field: None,
        message,
    })
}

pub fn read_bok_xml(path: &Path) -> Result<FileBatch> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut batch = FileBatch::default();
    // Relationships name other revisions of a URI (`…#AM1-1_Name_rev2` while the concept is
    // `_rev5`), so they are resolved by BoK code, separately for concepts and skills.
    let mut concept_of_code: HashMap<String, ConceptId> = HashMap::new();
    let mut skill_of_code: HashMap<String, ConceptId> = HashMap::new();
    let mut links: Vec<(u64, String, String, String)> = Vec::new();
    let en = Lang::english();
    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| xml_error(path, position, format!("invalid XML: {e}")))?;
        let element = match &event {
            Event::Empty(element) | Event::Start(element) => element,
            Event::Eof => break,
            _ => continue,
        };
        let tag = element.name().as_ref().to_vec();
        if !matches!(tag.as_slice(), b"Concept" | b"Skill" | b"Relationship") {
            continue;
        }
        let mut attributes: HashMap<String, String> = HashMap::new();
        for attribute in element.attributes() {
            let attribute = attribute.map_err(|e| xml_error(path, position, format!("bad attribute: {e}")))?;
            let value = attribute
                .unescape_value()
                .map_err(|e| xml_error(path, position, format!("bad attribute value: {e}")))?;
            attributes.insert(
                String::from_utf8_lossy(attribute.key.as_ref()).into_owned(),
                value.trim().to_string(),
            );
        }
        let pointer = format!("byte {position}");
        let get = |name: &str| attributes.get(name).filter(|v| !v.is_empty());
        if tag == b"Relationship" {
            match (get("Subject"), get("Predicate"), get("Object")) {
                (Some(s), Some(p), Some(o)) => links.push((position, s.clone(), p.clone(), o.clone())),
                (subject, predicate, _) => {
                    let field = if subject.is_none() {
                        "Subject"
                    } else if predicate.is_none() {
                        "Predicate"
                    } else {
                        "Object"
                    };
                    batch.errors.push(located(path, pointer, field, "empty"));
                }
            }
            continue;
        }
        let Some(notation) = get("Notation") else {
            batch
                .errors
                .push(located(path, pointer, "Notation", "element without Notation"));
            continue;
        };
        let is_skill = tag == b"Skill";
        let id = if is_skill {
            ConceptId::new(format!("eo4geo:skill:{notation}"))
        } else {
            concept_id(notation)
        };
        let codes = if is_skill {
            &mut skill_of_code
        } else {
            &mut concept_of_code
        };
        codes.insert(notation.clone(), id.clone());
        let definition = get("Definition").cloned();
        let mut labels = LanguageLabels {
            version: Some(BOK_XML_VERSION.into()),
            ..Default::default()
        };
        if is_skill {
            // Skill labels are "<concept> skill 3"; the statement itself is the useful label.
            let Some(statement) = definition else {
                batch
                    .errors
                    .push(located(path, pointer, "Definition", "skill without a statement"));
                continue;
            };
            labels.preferred = Some(statement);
        } else {
            labels.preferred = get("PrefLabel").cloned();
            labels.description = definition;
        }
        let mut concept = Concept::new(id, if is_skill { Kind::Skill } else { Kind::Concept }, "eo4geo");
        concept.attributes.code = Some(notation.clone());
        if is_skill {
            concept.attributes.skill_type = Some(SkillType::SkillCompetence);
        }
        concept.labels.insert(en.clone(), labels);
        batch.concepts.push(concept);
    }
    for (position, subject, predicate, object) in links {
        let predicate = predicate.rsplit(['#', '/']).next().unwrap_or_default();
        let resolve = |uri: &str, skill_first: bool| {
            let code = code_of_uri(uri)?;
            let (first, second) = if skill_first {
                (&skill_of_code, &concept_of_code)
            } else {
                (&concept_of_code, &skill_of_code)
            };
            first.get(code).or_else(|| second.get(code))
        };
        let from = resolve(&subject, predicate == "demonstrates");
        let to = resolve(&object, false);
        let (Some(from), Some(to)) = (from, to) else {
            let (field, uri) = if from.is_none() {
                ("Subject", &subject)
            } else {
                ("Object", &object)
            };
            batch.errors.push(located(
                path,
                format!("byte {position}"),
                field,
                format!("no Concept or Skill has the code of {uri:?}"),
            ));
            continue;
        };
        let (from, relation, to) = match predicate {
            "demonstrates" => (from, RelationType::Covers, to),
            "broader" => (from, RelationType::Broader, to),
            "narrower" => (to, RelationType::Broader, from),
            _ => (from, RelationType::Related, to),
        };
        if from != to {
            batch.relations.push(Relation {
                from: from.clone(),
                relation,
                to: to.clone(),
                level: None,
            });
        }
    }
    Ok(batch)
}

/// `http://…/gin2k#AM1-1_Academic_foundations_rev5` → `AM1-1`.
fn code_of_uri(uri: &str) -> Option<&str> {
    let fragment = uri.rsplit_once('#')?.1;
    let code = fragment.split('_').next()?;
    (!code.is_empty()).then_some(code)
}

/// Normalises the catalogue's free-text EQF cell: `EQF 6`, `EQF 6;`, `6`, `EQF 5 to 8`.
pub fn parse_eqf(text: &str) -> Option<Vec<u8>> {
    let numbers: Vec<u8> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .map(|part| part.parse::<u8>().ok().filter(|level| (1..=8).contains(level)))
        .collect::<Option<_>>()?;
    match numbers.as_slice() {
        [level] => Some(vec![*level]),
        [low, high] if low <= high && (text.contains("to") || text.contains('-')) => Some((*low..=*high).collect()),
        [_, _, ..] => Some(numbers),
        [] => None,
    }
}

/// Reads a Python list literal cell: `"['eo4geo:IP1-3-2', 'eo4geo:IP1-7']"`.
fn python_list(cell: &str) -> Vec<String> {
    cell.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|item| item.trim().trim_matches(['\'', '"']).trim().to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

pub fn read_materials(path: &Path) -> Result<FileBatch> {
    let mut table = Table::open(path, Dialect::Csv)?;
    table.require_columns(&["URL", "Title"])?;
    let mut batch = FileBatch::default();
    let mut errors = Vec::new();
    table.for_each(&mut errors, |row| {
        let result = (|| {
            let url = row.required("URL")?;
            let title = row.required("Title")?;
            let lang_text = row.get("Language")?.unwrap_or("EN");
            let lang = Lang::parse(lang_text)
                .ok_or_else(|| row.error("Language", format!("not a language code: {lang_text:?}")))?;
            let local = url.trim_end_matches('/').rsplit('/').next().unwrap_or(url);
            let id = ConceptId::new(format!("eo4geo:material:{}", slug(local)));
            let mut concept = Concept::new(id.clone(), Kind::Material, "eo4geo");
            let mut labels = LanguageLabels {
                preferred: Some(title.to_string()),
                description: row.get("Abstract")?.map(str::to_string),
                ..Default::default()
            };
            if let Some(outcomes) = row.get("Description")? {
                let outcomes = outcomes
                    .trim_start_matches("Learning outcomes:")
                    .trim_start_matches("Learning Outcomes:");
                labels.passages.extend(
                    outcomes
                        .split([';', '\n'])
                        .map(str::trim)
                        .filter(|o| !o.is_empty())
                        .map(str::to_string),
                );
            }
            concept.labels.insert(lang.clone(), labels);
            let attributes = &mut concept.attributes;
            attributes.teaching_languages.push(lang);
            attributes.url = Some(url.to_string());
            attributes.licence = row.get("License")?.map(str::to_string);
            if let Some(eqf) = row.get("EQF")? {
                attributes.eqf_levels =
                    parse_eqf(eqf).ok_or_else(|| row.error("EQF", format!("not an EQF level: {eqf:?}")))?;
            }
            for (column, key) in [
                ("Publisher", "publisher"),
                ("Type", "type"),
                ("Size or Duration", "duration"),
                ("Format", "format"),
                ("Date created", "created"),
            ] {
                if let Some(value) = row.get(column)? {
                    attributes.extra.insert(key.into(), value.to_string());
                }
            }
            if let Some(creators) = row.get("Creator")? {
                attributes
                    .extra
                    .insert("creator".into(), python_list(creators).join(", "));
            }
            let mut relations = Vec::new();
            for code in python_list(row.get("Relation/s")?.unwrap_or_default()) {
                let code = code.strip_prefix("eo4geo:").unwrap_or(&code);
                relations.push(Relation {
                    from: id.clone(),
                    relation: RelationType::Covers,
                    to: concept_id(code),
                    level: None,
                });
            }
            Ok((concept, relations))
        })();
        match result {
            Ok((concept, relations)) => {
                batch.concepts.push(concept);
                batch.relations.extend(relations);
            }
            Err(error) => batch.errors.push(error),
        }
    });
    batch.errors.extend(errors);
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eqf_cells_normalise() {
        assert_eq!(parse_eqf("EQF 6"), Some(vec![6]));
        assert_eq!(parse_eqf("EQF 6;"), Some(vec![6]));
        assert_eq!(parse_eqf("6"), Some(vec![6]));
        assert_eq!(parse_eqf("EQF 5 to 8"), Some(vec![5, 6, 7, 8]));
        assert_eq!(parse_eqf("EQF 9"), None);
        assert_eq!(parse_eqf("advanced"), None);
    }

    #[test]
    fn python_list_cells() {
        assert_eq!(
            python_list("['eo4geo:IP1-3-2', 'eo4geo:IP1-7']"),
            vec!["eo4geo:IP1-3-2", "eo4geo:IP1-7"]
        );
        assert!(python_list("[]").is_empty());
    }

    #[test]
    fn uri_codes_ignore_revisions() {
        assert_eq!(
            code_of_uri("http://www.bigknowledge.net/ontos/gin2k#AM1-1_Academic_foundations_rev5"),
            Some("AM1-1")
        );
        assert_eq!(
            code_of_uri("http://www.bigknowledge.net/ontos/gin2k#AM1-1-1_rev1"),
            Some("AM1-1-1")
        );
        assert_eq!(code_of_uri("no-fragment"), None);
    }

    #[test]
    fn bok_codes_split_from_labels() {
        assert_eq!(
            split_code("[IP3-11] Image processing"),
            Some(("IP3-11", "Image processing"))
        );
        assert_eq!(split_code("no code"), None);
        assert_eq!(split_code(""), None);
    }
}
