//! Readers for the official ESCO CSV download: concept files (`occupations_<lang>.csv`,
//! `skills_<lang>.csv`, `ISCOGroups_<lang>.csv`, `skillGroups_<lang>.csv`), collection files
//! (`*Collection_<lang>.csv`) and the language-independent relation files. Columns are looked up
//! by name, so the reduced v1.0.3 exports and the full v1.1/v1.2 ones share one reader.

use std::path::Path;

use super::csv_util::{check_uri, Dialect, Row, Table};
use super::{lang_from_file_name, version_from_path, FileBatch};
use crate::error::{Error, InputError, Position, Result};
use crate::types::{Concept, ConceptId, Kind, Lang, LanguageLabels, Relation, RelationType, ReuseLevel, SkillType};

fn file_lang(path: &Path) -> Result<Lang> {
    lang_from_file_name(path).ok_or_else(|| {
        Error::Input(InputError {
            file: path.to_path_buf(),
            position: Position::Line(0),
            field: None,
            message: "no language code in the file name (expected e.g. occupations_en.csv)".into(),
        })
    })
}

/// Labels and texts shared by concept and collection rows.
fn language_labels(row: &Row<'_>, version: &Option<String>) -> std::result::Result<LanguageLabels, InputError> {
    let mut passages = Vec::new();
    let definition = row.get("definition")?;
    let description = row.get("description")?.or(definition).map(str::to_string);
    if let (Some(definition), Some(description)) = (definition, description.as_deref()) {
        if definition != description {
            passages.push(definition.to_string());
        }
    }
    if let Some(scope_note) = row.get("scopeNote")? {
        passages.push(scope_note.to_string());
    }
    let labels = LanguageLabels {
        preferred: row.get("preferredLabel")?.map(str::to_string),
        alternative: row.list("altLabels")?,
        hidden: row.list("hiddenLabels")?,
        description,
        passages,
        version: version.clone(),
    };
    if labels.preferred.is_none() && labels.alternative.is_empty() && labels.hidden.is_empty() {
        return Err(row.error("preferredLabel", "no label at all (preferredLabel and altLabels empty)"));
    }
    Ok(labels)
}

fn concept_row(
    row: &Row<'_>,
    kind: Kind,
    lang: &Lang,
    version: &Option<String>,
) -> std::result::Result<Concept, InputError> {
    let uri = check_uri(row, "conceptUri", row.required("conceptUri")?)?;
    let mut concept = Concept::new(ConceptId::new(uri), kind, "esco");
    concept.labels.insert(lang.clone(), language_labels(row, version)?);
    let attributes = &mut concept.attributes;
    match kind {
        Kind::Occupation => {
            attributes.isco_code = row.get("iscoGroup")?.map(str::to_string);
            attributes.code = row.get("code")?.map(str::to_string);
            if let Some(note) = row.get("regulatedProfessionNote")? {
                if note.ends_with("/regulated") {
                    attributes.tags.push("regulated-profession".into());
                }
            }
        }
        Kind::IscoGroup => {
            let code = row.required("code")?;
            if !code.chars().all(|c| c.is_ascii_digit()) || code.len() > 4 {
                return Err(row.error("code", format!("not an ISCO-08 code: {code:?}")));
            }
            attributes.isco_code = Some(code.to_string());
        }
        Kind::Skill => {
            attributes.skill_type = skill_type(row)?;
            attributes.reuse_level = reuse_level(row)?;
        }
        _ => attributes.code = row.get("code")?.map(str::to_string),
    }
    Ok(concept)
}

fn skill_type(row: &Row<'_>) -> std::result::Result<Option<SkillType>, InputError> {
    match row.get("skillType")? {
        None => Ok(None),
        Some(text) => SkillType::parse(text)
            .map(Some)
            .ok_or_else(|| row.error("skillType", format!("unknown value {text:?}"))),
    }
}

fn reuse_level(row: &Row<'_>) -> std::result::Result<Option<ReuseLevel>, InputError> {
    match row.get("reuseLevel")? {
        None => Ok(None),
        Some(text) => ReuseLevel::parse(text)
            .map(Some)
            .ok_or_else(|| row.error("reuseLevel", format!("unknown value {text:?}"))),
    }
}

/// Reads `occupations_<lang>.csv`, `skills_<lang>.csv`, `ISCOGroups_<lang>.csv` or
/// `skillGroups_<lang>.csv`.
pub fn read_concepts(path: &Path, kind: Kind) -> Result<FileBatch> {
    let lang = file_lang(path)?;
    let version = version_from_path(path);
    let mut table = Table::open(path, Dialect::Csv)?;
    table.require_columns(&["conceptUri", "preferredLabel"])?;
    let mut batch = FileBatch::default();
    let mut errors = Vec::new();
    table.for_each(&mut errors, |row| match concept_row(row, kind, &lang, &version) {
        Ok(concept) => batch.concepts.push(concept),
        Err(error) => batch.errors.push(error),
    });
    batch.errors.extend(errors);
    Ok(batch)
}

/// The collection name from the file name: `greenSkillsCollection_fr.csv` → `green-skills`.
fn collection_tag(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let name = stem.split_once("Collection").map_or(stem, |(name, _)| name);
    let mut tag = String::new();
    for c in name.chars() {
        if c.is_uppercase() && !tag.is_empty() {
            tag.push('-');
        }
        tag.extend(c.to_lowercase());
    }
    tag
}

/// Reads a `*Collection_<lang>.csv` file: labels of a subset of skills or occupations (the only
/// source of German skill labels), tagged with the collection's name.
pub fn read_collection(path: &Path) -> Result<FileBatch> {
    let lang = file_lang(path)?;
    let version = version_from_path(path);
    let tag = collection_tag(path);
    let mut table = Table::open(path, Dialect::Csv)?;
    table.require_columns(&["conceptType", "conceptUri", "preferredLabel"])?;
    let mut batch = FileBatch::default();
    let mut errors = Vec::new();
    table.for_each(&mut errors, |row| {
        let result = (|| {
            let kind = match row.required("conceptType")? {
                "Occupation" => Kind::Occupation,
                "KnowledgeSkillCompetence" | "Skill" => Kind::Skill,
                other => return Err(row.error("conceptType", format!("unexpected value {other:?}"))),
            };
            let mut concept = concept_row(row, kind, &lang, &version)?;
            concept.attributes.tags.push(tag.clone());
            Ok(concept)
        })();
        match result {
            Ok(concept) => batch.concepts.push(concept),
            Err(error) => batch.errors.push(error),
        }
    });
    batch.errors.extend(errors);
    Ok(batch)
}

/// Reads `occupationSkillRelations*.csv`, `skillSkillRelations*.csv` and `broaderRelations*.csv`.
pub fn read_relations(path: &Path) -> Result<FileBatch> {
    let mut table = Table::open(path, Dialect::Csv)?;
    let layout = if table.has_column("occupationUri") {
        table.require_columns(&["occupationUri", "relationType", "skillUri"])?;
        ("occupationUri", "skillUri", true)
    } else if table.has_column("originalSkillUri") {
        table.require_columns(&["originalSkillUri", "relationType", "relatedSkillUri"])?;
        ("originalSkillUri", "relatedSkillUri", false)
    } else {
        table.require_columns(&["conceptUri", "broaderUri"])?;
        ("conceptUri", "broaderUri", false)
    };
    let (from_column, to_column, occupation_skill) = layout;
    let broader = from_column == "conceptUri";
    let mut batch = FileBatch::default();
    let mut errors = Vec::new();
    table.for_each(&mut errors, |row| {
        let result = (|| {
            let from = check_uri(row, from_column, row.required(from_column)?)?;
            let to = check_uri(row, to_column, row.required(to_column)?)?;
            let relation = if broader {
                RelationType::Broader
            } else {
                match (row.required("relationType")?, occupation_skill) {
                    ("essential", true) => RelationType::EssentialSkill,
                    ("optional", true) => RelationType::OptionalSkill,
                    ("essential", false) => RelationType::EssentialRelatedSkill,
                    ("optional", false) => RelationType::OptionalRelatedSkill,
                    (other, _) => return Err(row.error("relationType", format!("unknown value {other:?}"))),
                }
            };
            Ok(Relation {
                from: ConceptId::new(from),
                relation,
                to: ConceptId::new(to),
                level: None,
            })
        })();
        match result {
            Ok(relation) => batch.relations.push(relation),
            Err(error) => batch.errors.push(error),
        }
    });
    batch.errors.extend(errors);
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, content: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content.as_bytes())
            .unwrap();
        path
    }

    #[test]
    fn reads_reduced_v103_layout_and_skips_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "occupations_es.csv",
            "conceptType,conceptUri,iscoGroup,preferredLabel,altLabels,description\r\n\
             Occupation,http://data.europa.eu/esco/occupation/a,2512,desarrollador de software,\"programador\nprogramadora\",\r\n\
             Occupation,not-a-uri,2512,x,,\r\n\
             Occupation,http://data.europa.eu/esco/occupation/b,2221,enfermero,,\r\n",
        );
        let batch = read_concepts(&path, Kind::Occupation).unwrap();
        assert_eq!(batch.concepts.len(), 2);
        assert_eq!(batch.errors.len(), 1);
        let error = batch.errors[0].to_string();
        assert!(
            error.contains("occupations_es.csv:line 4: field `conceptUri`"),
            "{error}"
        );
        let es = &batch.concepts[0].labels[&Lang::parse("es").unwrap()];
        assert_eq!(es.alternative, vec!["programador", "programadora"]);
        assert_eq!(batch.concepts[0].attributes.isco_code.as_deref(), Some("2512"));
    }

    #[test]
    fn relation_files_map_types() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "occupationSkillRelations.csv",
            "occupationUri,relationType,skillType,skillUri\r\nhttp://o/1,essential,knowledge,http://s/1\r\nhttp://o/1,sometimes,,http://s/2\r\n",
        );
        let batch = read_relations(&path).unwrap();
        assert_eq!(batch.relations.len(), 1);
        assert_eq!(batch.relations[0].relation, RelationType::EssentialSkill);
        assert!(batch.errors[0].to_string().contains("field `relationType`"));
    }

    #[test]
    fn collection_tag_from_file_name() {
        assert_eq!(
            collection_tag(Path::new("greenSkillsCollection_fr.csv")),
            "green-skills"
        );
        assert_eq!(
            collection_tag(Path::new("digCompSkillsCollection_en.csv")),
            "dig-comp-skills"
        );
    }
}
