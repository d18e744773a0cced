//! Reader for ENISA's European Cybersecurity Skills Framework (`ECSF-v1.profiles.json`): 12 role
//! profiles, each linked to its key skills and key knowledge (as skill concepts of source `ecsf`)
//! and to e-CF competences with proficiency levels. Profile ids come from `ecsf-v1.json` beside it
//! when present (`ecsf:ciso`), else from the title.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::{slug, FileBatch};
use crate::error::{Error, InputError, Position, Result};
use crate::types::{Concept, ConceptId, Kind, Lang, LanguageLabels, Relation, RelationType, SkillType};

pub(crate) fn load_json(path: &Path) -> Result<Value> {
    let reader = super::csv_util::open(path)?;
    serde_json::from_reader(reader).map_err(|e| {
        Error::Input(InputError {
            file: path.to_path_buf(),
            position: Position::Line(e.line() as u64),
            field: None,
            message: format!("invalid JSON: {e}"),
        })
    })
}

pub(crate) fn located(path: &Path, pointer: String, field: &str, message: impl Into<String>) -> InputError {
    InputError {
        file: path.to_path_buf(),
        position: Position::Path(pointer),
        field: Some(field.into()),
        message: message.into(),
    }
}

fn strings(value: &Value, key: &str) -> Vec<String> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Main title → profile id, from the normalised `ecsf-v1.json` (`role-profile-title@ciso` tags).
fn profile_ids(dir: &Path) -> HashMap<String, String> {
    let Ok(value) = load_json(&dir.join("ecsf-v1.json")) else {
        return HashMap::new();
    };
    let mut ids = HashMap::new();
    for title in value.get("titles").and_then(Value::as_array).into_iter().flatten() {
        let Some(text) = title.get("text").and_then(Value::as_str) else {
            continue;
        };
        for tag in title
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if let Some(id) = tag.strip_prefix("role-profile-title@") {
                ids.insert(text.trim().to_string(), id.to_string());
            }
        }
    }
    ids
}

fn english(preferred: &str) -> LanguageLabels {
    LanguageLabels {
        preferred: Some(preferred.to_string()),
        version: Some("1".into()),
        ..Default::default()
    }
}

pub fn read(path: &Path) -> Result<FileBatch> {
    let root = load_json(path)?;
    let ids = path.parent().map(profile_ids).unwrap_or_default();
    let mut batch = FileBatch::default();
    let Some(profiles) = root.get("role-profiles").and_then(Value::as_array) else {
        batch.errors.push(located(
            path,
            "role-profiles".into(),
            "role-profiles",
            "missing or not an array",
        ));
        return Ok(batch);
    };
    let en = Lang::english();
    for (index, profile) in profiles.iter().enumerate() {
        let pointer = format!("role-profiles[{index}]");
        let Some(title) = profile
            .get("title")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            batch.errors.push(located(path, pointer, "title", "missing or empty"));
            continue;
        };
        let local_id = ids.get(title).cloned().unwrap_or_else(|| slug(title));
        let id = ConceptId::new(format!("ecsf:{local_id}"));
        let mut concept = Concept::new(id.clone(), Kind::Profile, "ecsf");
        let mut labels = english(title);
        labels.alternative = strings(profile, "alternative-titles");
        labels.description = profile
            .get("summary-statement")
            .and_then(Value::as_str)
            .map(str::to_string);
        labels
            .passages
            .extend(profile.get("mission").and_then(Value::as_str).map(str::to_string));
        labels.passages.extend(strings(profile, "main-tasks"));
        labels.passages.extend(
            strings(profile, "deliverables")
                .into_iter()
                .map(|d| format!("Deliverable: {d}")),
        );
        concept.labels.insert(en.clone(), labels);
        concept.attributes.tags.push("cybersecurity".into());
        batch.concepts.push(concept);

        for (key, skill_type, prefix) in [
            ("key-skills", SkillType::SkillCompetence, "skill"),
            ("key-knowledge", SkillType::Knowledge, "knowledge"),
        ] {
            for text in strings(profile, key) {
                let skill_id = ConceptId::new(format!("ecsf:{prefix}:{}", slug(&text)));
                let mut skill = Concept::new(skill_id.clone(), Kind::Skill, "ecsf");
                skill.labels.insert(en.clone(), english(&text));
                skill.attributes.skill_type = Some(skill_type);
                batch.concepts.push(skill);
                batch.relations.push(Relation {
                    from: id.clone(),
                    relation: RelationType::EssentialSkill,
                    to: skill_id,
                    level: None,
                });
            }
        }
        for (position, competence) in profile
            .get("e-competences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(name) = competence.get("name").and_then(Value::as_str) else {
                batch.errors.push(located(
                    path,
                    format!("{pointer}.e-competences[{position}]"),
                    "name",
                    "missing",
                ));
                continue;
            };
            // "A.7. Technology Trend Monitoring" → code "A.7", title "Technology Trend Monitoring".
            let (code, title) = match name.split_once(". ") {
                Some((code, title)) if code.len() <= 4 => (code.trim_end_matches('.'), title.trim()),
                _ => {
                    batch.errors.push(located(
                        path,
                        format!("{pointer}.e-competences[{position}]"),
                        "name",
                        format!("no e-CF code in {name:?}"),
                    ));
                    continue;
                }
            };
            let level = competence
                .get("level")
                .and_then(Value::as_u64)
                .filter(|l| (1..=5).contains(l))
                .map(|l| l as u8);
            let competence_id = ConceptId::new(format!("e-cf:{code}"));
            let mut skill = Concept::new(competence_id.clone(), Kind::Skill, "e-cf");
            skill.labels.insert(en.clone(), english(title));
            skill.attributes.code = Some(code.to_string());
            skill.attributes.skill_type = Some(SkillType::SkillCompetence);
            batch.concepts.push(skill);
            batch.relations.push(Relation {
                from: id.clone(),
                relation: RelationType::Competence,
                to: competence_id,
                level,
            });
        }
    }
    Ok(batch)
}
