//! The full-text store: the only module that knows tantivy. One tantivy document per (concept,
//! language), with pre-analysed label fields (see [`crate::analyze`]), keyword fields for
//! filtering and fast fields for facets. Our concept id is stored with every document; tantivy's
//! own doc ids are never kept (they change on merge).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use quick_cache::sync::Cache;
use quick_cache::Weighter;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, OwnedValue, Schema, TextFieldIndexing, TextOptions, FAST, STORED, STRING,
};
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::analyze::memo::{self, LabelAnalysis};
use crate::analyze::{label_grams, label_prefixes, query_grams, Analyzer, QueryWord};
use crate::error::{Error, Result};
use crate::types::{Concept, Kind, Lang, LanguageLabels};

/// Version of the analysis chain and schema; an index built with another refuses to open.
pub const TEXT_FORMAT_VERSION: u32 = 2;

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    kind: Field,
    lang: Field,
    source: Field,
    isco: Field,
    eqf: Field,
    label: Field,
    labels: Field,
    preferred: Field,
    alternative: Field,
    hidden: Field,
    description: Field,
    prefix: Field,
    grams: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let keyword = STRING | STORED | FAST;
    // Pre-tokenized fields: the tokenizer name is never used to analyse (we hand tantivy tokens),
    // "raw" keeps tantivy from assuming a language.
    let text = |positions: bool| {
        let option = if positions {
            IndexRecordOption::WithFreqsAndPositions
        } else {
            IndexRecordOption::WithFreqs
        };
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(option),
        )
    };
    let fields = Fields {
        id: builder.add_text_field("id", keyword.clone()),
        kind: builder.add_text_field("kind", keyword.clone()),
        lang: builder.add_text_field("lang", keyword.clone()),
        source: builder.add_text_field("source", keyword),
        isco: builder.add_text_field("isco", STRING | FAST),
        eqf: builder.add_u64_field("eqf", NumericOptions::default().set_indexed().set_fast()),
        label: builder.add_text_field("label", STORED),
        labels: builder.add_text_field("labels", STORED),
        preferred: builder.add_text_field("preferred", text(true)),
        alternative: builder.add_text_field("alternative", text(true)),
        hidden: builder.add_text_field("hidden", text(true)),
        description: builder.add_text_field("description", text(false)),
        prefix: builder.add_text_field("prefix", text(false)),
        grams: builder.add_text_field("grams", text(false)),
    };
    (builder.build(), fields)
}

fn fields_of(schema: &Schema) -> Result<Fields> {
    let get = |name: &str| {
        schema
            .get_field(name)
            .map_err(|e| Error::Internal(format!("index schema lacks field {name}: {e}")))
    };
    Ok(Fields {
        id: get("id")?,
        kind: get("kind")?,
        lang: get("lang")?,
        source: get("source")?,
        isco: get("isco")?,
        eqf: get("eqf")?,
        label: get("label")?,
        labels: get("labels")?,
        preferred: get("preferred")?,
        alternative: get("alternative")?,
        hidden: get("hidden")?,
        description: get("description")?,
        prefix: get("prefix")?,
        grams: get("grams")?,
    })
}

fn pre_tokenized(text: &str, terms: Vec<String>) -> PreTokenizedString {
    let tokens = terms
        .into_iter()
        .enumerate()
        .map(|(position, term)| Token {
            offset_from: 0,
            offset_to: 0,
            position,
            text: term,
            position_length: 1,
        })
        .collect();
    PreTokenizedString {
        text: text.to_string(),
        tokens,
    }
}

/// Builds the document of one concept in one language.
fn document(
    fields: &Fields,
    concept: &Concept,
    lang: &Lang,
    labels: &LanguageLabels,
    analyzer: &mut Analyzer,
) -> TantivyDocument {
    let mut document = doc!(
        fields.id => concept.id.as_str(),
        fields.kind => concept.kind.as_str(),
        fields.lang => lang.as_str(),
        fields.source => concept.source.as_str(),
    );
    let display = labels
        .preferred
        .as_deref()
        .or(labels.alternative.first().map(String::as_str))
        .unwrap_or_default();
    document.add_text(fields.label, display);
    let visible: Vec<&str> = labels
        .preferred
        .iter()
        .chain(&labels.alternative)
        .map(String::as_str)
        .collect();
    document.add_text(fields.labels, visible.join("\n"));
    // Multi-valued label fields: one value per label, so that BM25 length normalisation sees the
    // whole list; positions restart per value.
    let mut add = |field: Field, texts: &mut dyn Iterator<Item = &String>| {
        let mut stems = Vec::new();
        let mut joined = String::new();
        for text in texts {
            stems.extend(analyzer.stems(text));
            joined.push_str(text);
            joined.push('\n');
        }
        if !stems.is_empty() {
            document.add_pre_tokenized_text(field, pre_tokenized(&joined, stems));
        }
    };
    add(fields.preferred, &mut labels.preferred.iter());
    add(fields.alternative, &mut labels.alternative.iter());
    add(fields.hidden, &mut labels.hidden.iter());
    add(
        fields.description,
        &mut labels.description.iter().chain(&labels.passages),
    );
    let prefixes: Vec<String> = labels
        .all_labels()
        .flat_map(|(_, label)| label_prefixes(label))
        .collect();
    if !prefixes.is_empty() {
        document.add_pre_tokenized_text(fields.prefix, pre_tokenized("", prefixes));
    }
    let grams: Vec<String> = labels.all_labels().flat_map(|(_, label)| label_grams(label)).collect();
    if !grams.is_empty() {
        document.add_pre_tokenized_text(fields.grams, pre_tokenized("", grams));
    }
    for code in concept.isco_prefixes() {
        document.add_text(fields.isco, code);
    }
    for level in &concept.attributes.eqf_levels {
        document.add_u64(fields.eqf, u64::from(*level));
    }
    document
}

/// Writes a new text index into `dir` (which must be empty).
pub struct TextIndexWriter {
    writer: IndexWriter,
    fields: Fields,
    documents: u64,
}

impl TextIndexWriter {
    pub fn create(dir: &Path) -> Result<Self> {
        let (schema, fields) = schema();
        let index = Index::create_in_dir(dir, schema)?;
        // Two indexing threads (the machines this targets have two cores), 256 MB in all.
        let writer = index.writer_with_num_threads(2, 256 * 1024 * 1024)?;
        Ok(TextIndexWriter {
            writer,
            fields,
            documents: 0,
        })
    }

    /// Analyses one concept into its per-language documents. Pure CPU: call it from many threads.
    pub fn documents_of(&self, concept: &Concept) -> Vec<TantivyDocument> {
        concept
            .labels
            .iter()
            .filter(|(_, labels)| labels.label_count() > 0)
            .map(|(lang, labels)| document(&self.fields, concept, lang, labels, &mut Analyzer::for_lang(lang)))
            .collect()
    }

    pub fn add(&mut self, documents: Vec<TantivyDocument>) -> Result<()> {
        for document in documents {
            self.writer.add_document(document)?;
            self.documents += 1;
        }
        Ok(())
    }

    /// Commits and merges into few segments (queries over one segment are fastest).
    pub fn finish(mut self) -> Result<u64> {
        self.writer.commit()?;
        let segments = self.writer.index().searchable_segment_ids()?;
        if segments.len() > 1 {
            self.writer.merge(&segments).wait()?;
        }
        self.writer.wait_merging_threads()?;
        Ok(self.documents)
    }
}

/// Relative weight of each field in the text score; unset fields keep their default.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FieldWeights {
    pub preferred: f32,
    pub alternative: f32,
    pub hidden: f32,
    pub description: f32,
    pub prefix: f32,
    /// Weight of the character-trigram clause as a whole (each of the query's `n` distinct
    /// trigrams is boosted by `grams / n`, so the clause weighs like one word however long the
    /// query is).
    pub grams: f32,
    /// Trigrams held by more than this share of the documents are left out of the trigram
    /// clause (1: none left out), as Elasticsearch's common-terms query leaves out terms above
    /// its `cutoff_frequency`: their BM25 weight `ln(1 + (N − df + ½) / (df + ½))` is small,
    /// but their postings are most of the clause's work (`er `, ` an`: a tenth of the full
    /// index's 127,000 documents each). The clause's boost still counts them (`grams / n` over
    /// every distinct trigram), so the trigrams that stay weigh as before.
    pub grams_max_df: f32,
    /// DisMax tie-breaker: how much the non-best terms of one query word still count.
    pub tie_breaker: f32,
}

impl Default for FieldWeights {
    fn default() -> Self {
        FieldWeights {
            preferred: 3.0,
            alternative: 2.0,
            hidden: 1.5,
            description: 0.3,
            prefix: 1.0,
            grams: 1.0,
            grams_max_df: 0.05,
            tie_breaker: 0.1,
        }
    }
}

/// Filters applied to text retrieval; all must hold.
#[derive(Debug, Clone, Default)]
pub struct TextFilters {
    pub kinds: Vec<Kind>,
    pub lang: Option<Lang>,
    pub source: Option<String>,
    pub isco: Option<String>,
    pub eqf: Option<u8>,
}

/// One matching document.
#[derive(Debug, Clone)]
pub struct TextHit {
    pub id: String,
    pub kind: Option<Kind>,
    pub lang: String,
    pub source: String,
    pub label: String,
    pub labels: Arc<HitLabels>,
    pub score: f32,
}

/// The labels of one document (one language of a concept), with their analysis for the
/// search's explanation, made once for the life of the index handle ([`TextIndex`] keeps them).
#[derive(Debug)]
pub struct HitLabels {
    lang: String,
    texts: Vec<String>,
    analysed: OnceLock<Vec<Arc<LabelAnalysis>>>,
}

impl HitLabels {
    pub fn new(lang: impl Into<String>, texts: Vec<String>) -> HitLabels {
        HitLabels {
            lang: lang.into(),
            texts,
            analysed: OnceLock::new(),
        }
    }

    /// The labels, preferred first.
    pub fn texts(&self) -> &[String] {
        &self.texts
    }

    /// Each label's analysis ([`memo::label`] in the document's language), in the order of
    /// [`HitLabels::texts`]; made on first use.
    pub fn analysed(&self) -> &[Arc<LabelAnalysis>] {
        self.analysed
            .get_or_init(|| self.texts.iter().map(|text| memo::label(&self.lang, text)).collect())
    }
}

/// What a hit shows of its stored document.
#[derive(Debug)]
struct StoredHit {
    kind: Option<Kind>,
    lang: String,
    source: String,
    label: String,
    labels: Arc<HitLabels>,
}

/// A stored document's weight in the memo of documents: its labels (their analysis is most of
/// its memory, ~0.4 KB a label), plus one.
#[derive(Clone)]
struct LabelCount;

impl Weighter<(u32, u32), Arc<StoredHit>> for LabelCount {
    fn weight(&self, _: &(u32, u32), hit: &Arc<StoredHit>) -> u64 {
        1 + hit.labels.texts.len() as u64
    }
}

/// Labels (and documents) the memo of documents keeps: ~80 MB at most. A job-title search reads
/// ~100 documents of ~10 labels, and related titles meet the same occupations again.
const DOCUMENT_MEMO_WEIGHT: u64 = 200_000;

/// A read-only, shareable handle on the text store.
pub struct TextIndex {
    reader: IndexReader,
    fields: Fields,
    /// Per segment (the reader never reloads): the concept-id column and its dictionary decoded
    /// (ord → id), so a hit's concept is known without reading its stored document.
    concept_ids: Vec<(tantivy::columnar::StrColumn, Vec<String>)>,
    /// The stored fields of documents read before, by (segment, doc id): a document is parsed
    /// from its block and its labels analysed once, not by every search that finds it.
    documents: Cache<(u32, u32), Arc<StoredHit>, LabelCount>,
}

const DOC_STORE_CACHE_BLOCKS: usize = 4096;

impl TextIndex {
    pub fn open(dir: &Path) -> Result<Self> {
        let index = Index::open_in_dir(dir)?;
        let fields = fields_of(&index.schema())?;
        // Every hit reads its stored document, and a query collapses hundreds of hits to
        // concepts: with tantivy's default of 100 cached blocks most reads decompress a block
        // again (a third of a hybrid query's time, measured with perf). 4096 blocks of 16 KiB
        // hold the whole store of the full index (12 MB compressed), filled as queries touch it.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(DOC_STORE_CACHE_BLOCKS)
            .try_into()?;
        let unreadable =
            |e: std::io::Error| Error::Internal(format!("the text index's concept ids are unreadable: {e}"));
        let mut concept_ids = Vec::new();
        for segment in reader.searcher().segment_readers() {
            let column = segment
                .fast_fields()
                .str("id")?
                .ok_or_else(|| Error::Internal("the text index has no fast field `id`".into()))?;
            let mut ids = Vec::with_capacity(column.num_terms());
            for ord in 0..column.num_terms() as u64 {
                let mut id = String::new();
                column.ord_to_str(ord, &mut id).map_err(unreadable)?;
                ids.push(id);
            }
            concept_ids.push((column, ids));
        }
        Ok(TextIndex {
            reader,
            fields,
            concept_ids,
            documents: Cache::with_weighter((DOCUMENT_MEMO_WEIGHT / 8) as usize, DOCUMENT_MEMO_WEIGHT, LabelCount),
        })
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    fn word_query(&self, word: &QueryWord, weights: &FieldWeights) -> Box<dyn Query> {
        let f = &self.fields;
        let mut disjuncts: Vec<Box<dyn Query>> = Vec::new();
        for stem in &word.stems {
            for (field, weight) in [
                (f.preferred, weights.preferred),
                (f.alternative, weights.alternative),
                (f.hidden, weights.hidden),
                (f.description, weights.description),
            ] {
                if weight > 0.0 {
                    let query = TermQuery::new(Term::from_field_text(field, stem), IndexRecordOption::WithFreqs);
                    disjuncts.push(Box::new(BoostQuery::new(Box::new(query), weight)));
                }
            }
        }
        if let (Some(prefix), true) = (&word.prefix, weights.prefix > 0.0) {
            let query = TermQuery::new(Term::from_field_text(f.prefix, prefix), IndexRecordOption::WithFreqs);
            disjuncts.push(Box::new(BoostQuery::new(Box::new(query), weights.prefix)));
        }
        Box::new(DisjunctionMaxQuery::with_tie_breaker(disjuncts, weights.tie_breaker))
    }

    fn filter_clauses(&self, filters: &TextFilters) -> Vec<(Occur, Box<dyn Query>)> {
        let f = &self.fields;
        let exact = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut must = |query: Box<dyn Query>| {
            clauses.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(query, 0.0)) as Box<dyn Query>,
            ))
        };
        if !filters.kinds.is_empty() {
            let any_kind = filters
                .kinds
                .iter()
                .map(|kind| (Occur::Should, exact(f.kind, kind.as_str())))
                .collect();
            must(Box::new(BooleanQuery::new(any_kind)));
        }
        if let Some(lang) = &filters.lang {
            must(exact(f.lang, lang.as_str()));
        }
        if let Some(source) = &filters.source {
            must(exact(f.source, source));
        }
        if let Some(isco) = &filters.isco {
            must(exact(f.isco, isco));
        }
        if let Some(eqf) = filters.eqf {
            must(Box::new(TermQuery::new(
                Term::from_field_u64(f.eqf, u64::from(eqf)),
                IndexRecordOption::Basic,
            )));
        }
        clauses
    }

    /// The best document of each of the best `concepts` concepts among the best `limit`
    /// documents for the analysed query words under the filters, best first (equal scores by id).
    /// The fields a hit shows, read from the document store.
    fn read_hit(&self, searcher: &tantivy::Searcher, address: tantivy::DocAddress) -> Result<StoredHit> {
        let stored: TantivyDocument = searcher.doc(address)?;
        let text_of = |field: Field| -> String {
            match stored.get_first(field) {
                Some(value) => match OwnedValue::from(value) {
                    OwnedValue::Str(text) => text,
                    _ => String::new(),
                },
                None => String::new(),
            }
        };
        let lang = text_of(self.fields.lang);
        let labels = text_of(self.fields.labels);
        Ok(StoredHit {
            kind: Kind::parse(&text_of(self.fields.kind)),
            labels: Arc::new(HitLabels::new(
                lang.clone(),
                labels.lines().map(str::to_string).collect(),
            )),
            lang,
            source: text_of(self.fields.source),
            label: text_of(self.fields.label),
        })
    }

    pub fn search(
        &self,
        words: &[QueryWord],
        filters: &TextFilters,
        weights: &FieldWeights,
        limit: usize,
        concepts: usize,
    ) -> Result<Vec<TextHit>> {
        if words.is_empty() || limit == 0 || concepts == 0 {
            return Ok(Vec::new());
        }
        let mut text: Vec<(Occur, Box<dyn Query>)> = words
            .iter()
            .map(|w| (Occur::Should, self.word_query(w, weights)))
            .collect();
        let searcher = self.reader.searcher();
        if weights.grams > 0.0 {
            let grams = query_grams(words);
            if !grams.is_empty() {
                let boost = weights.grams / grams.len() as f32;
                let max_df = (f64::from(weights.grams_max_df) * searcher.num_docs() as f64) as u64;
                let mut any_gram = Vec::with_capacity(grams.len());
                for gram in &grams {
                    let term = Term::from_field_text(self.fields.grams, gram);
                    if weights.grams_max_df < 1.0 && searcher.doc_freq(&term)? > max_df {
                        continue;
                    }
                    let query = TermQuery::new(term, IndexRecordOption::WithFreqs);
                    any_gram.push((Occur::Should, Box::new(query) as Box<dyn Query>));
                }
                if !any_gram.is_empty() {
                    text.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(BooleanQuery::new(any_gram)), boost)),
                    ));
                }
            }
        }
        let mut clauses = vec![(Occur::Must, Box::new(BooleanQuery::new(text)) as Box<dyn Query>)];
        clauses.extend(self.filter_clauses(filters));
        let query = BooleanQuery::new(clauses);
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        // The concept id of each document from its fast field (a column lookup), so that only
        // the best document of each concept is read from the store: without a language, a query
        // fetches ~4 documents a concept (one per language that matched) and keeps one.
        let mut ranked: Vec<(f32, tantivy::DocAddress, &str)> = Vec::with_capacity(top.len());
        for (score, address) in top {
            let (column, ids) = &self.concept_ids[address.segment_ord as usize];
            let id = column
                .term_ords(address.doc_id)
                .next()
                .and_then(|ord| ids.get(ord as usize))
                .map_or("", String::as_str);
            ranked.push((score, address, id));
        }
        // Equal scores are common (the same label under several concepts); tantivy breaks ties by
        // internal doc address, which depends on indexing threads. Our id makes the order stable.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.2.cmp(b.2)));
        let mut seen = std::collections::HashSet::new();
        ranked.retain(|(_, _, id)| seen.insert(*id));
        ranked.truncate(concepts);
        let mut hits = Vec::with_capacity(ranked.len());
        for (score, address, id) in ranked {
            let stored = self
                .documents
                .get_or_insert_with(&(address.segment_ord, address.doc_id), || {
                    self.read_hit(&searcher, address).map(Arc::new)
                })?;
            hits.push(TextHit {
                id: id.to_string(),
                kind: stored.kind,
                lang: stored.lang.clone(),
                source: stored.source.clone(),
                label: stored.label.clone(),
                labels: stored.labels.clone(),
                score,
            });
        }
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::analyze_query;
    use crate::types::ConceptId;

    /// An English index of one concept per label.
    fn index_of(dir: &Path, labels: &[&str]) -> TextIndex {
        let mut writer = TextIndexWriter::create(dir).unwrap();
        for (i, label) in labels.iter().enumerate() {
            let mut concept = Concept::new(ConceptId::new(format!("c{i}")), Kind::Occupation, "test");
            let labels = LanguageLabels {
                preferred: Some(label.to_string()),
                ..Default::default()
            };
            concept.labels.insert(Lang::english(), labels);
            let documents = writer.documents_of(&concept);
            writer.add(documents).unwrap();
        }
        writer.finish().unwrap();
        TextIndex::open(dir).unwrap()
    }

    #[test]
    fn trigrams_held_by_most_documents_are_left_out_of_the_query() {
        let dir = tempfile::tempdir().unwrap();
        // Twenty labels share the trigrams "ist" and "st " with the query, one shares "bil".
        let mut labels = vec!["bilingual"];
        let fillers: Vec<String> = (0..20).map(|i| format!("pianist {}", "x".repeat(i + 1))).collect();
        labels.extend(fillers.iter().map(String::as_str));
        let index = index_of(dir.path(), &labels);
        let words = analyze_query("bilist", None);
        let found = |max_df: f32| {
            let weights = FieldWeights {
                grams_max_df: max_df,
                ..FieldWeights::default()
            };
            let hits = index.search(&words, &TextFilters::default(), &weights, 50, 50).unwrap();
            hits.into_iter().map(|h| h.id).collect::<Vec<_>>()
        };
        // Every trigram: the pianists come back through "ist" and "st " alone.
        let all = found(1.0);
        assert_eq!(all.first().map(String::as_str), Some("c0"), "{all:?}");
        assert_eq!(all.len(), 21, "{all:?}");
        // Trigrams in more than 5 % of the documents (here: more than one) left out.
        assert_eq!(found(0.05), ["c0"]);
    }

    #[test]
    fn a_document_found_again_comes_from_the_memo_with_its_labels_analysed_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = TextIndexWriter::create(dir.path()).unwrap();
        let mut concept = Concept::new(ConceptId::new("nurse"), Kind::Occupation, "test");
        let labels = LanguageLabels {
            preferred: Some("Krankenpfleger".into()),
            alternative: vec!["Gesundheits- und Krankenpfleger".into(), "Pflegefachmann".into()],
            ..Default::default()
        };
        concept.labels.insert(Lang::parse("de").unwrap(), labels);
        let documents = writer.documents_of(&concept);
        writer.add(documents).unwrap();
        writer.finish().unwrap();
        let index = TextIndex::open(dir.path()).unwrap();
        let search = |query: &str| {
            let words = analyze_query(query, None);
            let hits = index
                .search(&words, &TextFilters::default(), &FieldWeights::default(), 10, 10)
                .unwrap();
            assert_eq!(hits.len(), 1, "{query}: {hits:?}");
            hits.into_iter().next().unwrap()
        };
        let first = search("Krankenpfleger");
        assert_eq!(
            first.labels.texts(),
            ["Krankenpfleger", "Gesundheits- und Krankenpfleger", "Pflegefachmann"]
        );
        assert_eq!((first.lang.as_str(), first.label.as_str()), ("de", "Krankenpfleger"));
        // Each label analysed as the memo of labels analyses it, in the document's language.
        for (text, analysis) in first.labels.texts().iter().zip(first.labels.analysed()) {
            assert_eq!(**analysis, LabelAnalysis::analyse("de", text));
        }
        // Another query that finds the same document: the same labels, not read again.
        let again = search("Pflegefachmann");
        assert!(Arc::ptr_eq(&first.labels, &again.labels));
        assert_eq!(again.id, "nurse");
    }
}
