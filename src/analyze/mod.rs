//! Analysis: turns text in a given language into index terms. Owns word segmentation (Unicode
//! UAX #29 through `unicode-segmentation`), case and diacritic folding, per-language stemming with
//! tantivy's Snowball stemmers, and the truncation fallback for languages without a stemmer.
//!
//! Three kinds of term come out of a text:
//! - **stems**: lowercased word, stemmed where the language has a stemmer, then folded
//!   (`Krankenpflegerin` → `krankenpfleg`; `Ηλεκτρολόγος` → `ηλεκτρολογ`);
//! - **prefixes** (labels only): every prefix of 4..=24 characters of each folded word. A query
//!   word is truncated to a length-proportional prefix and matched against these, which lets
//!   inflected forms meet in languages with no stemmer (bg, cs, et, hr, lt, lv, pl, sk, sl, ...).
//!   Truncation as a language-independent stemmer: McNamee, Nicholas & Mayfield, "Addressing
//!   morphological variation in alphabetic languages", SIGIR 2009 (prefixes of 4–5 characters
//!   perform close to Snowball stemmers and far better than none in languages that have none).
//! - **character trigrams** (labels and queries): the trigrams of each folded word padded with one
//!   space each side, as MELO's character tf-idf baseline reads labels (Retyk et al., "MELO:
//!   An Evaluation Benchmark for Multilingual Entity Linking of Occupations", 2024). They let
//!   compounds that share a stem meet (`lastbilschaufför`, `lastbilsförare`: 8 of 16 trigrams),
//!   and any language without a stemmer.
//! - the folded **words** themselves (for display and matched-term explanations).

pub mod memo;

use std::collections::HashMap;
use std::sync::OnceLock;

use tantivy::tokenizer::{Language, RawTokenizer, Stemmer, TextAnalyzer};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

use crate::types::Lang;

/// Shortest prefix indexed and queried: shorter prefixes match too much to be evidence.
pub const MIN_PREFIX: usize = 4;
/// Longest prefix indexed; longer words are matched by their 24-character prefix.
pub const MAX_PREFIX: usize = 24;
/// Words longer than this are not indexed (URLs, base64 blobs, garbage).
const MAX_WORD: usize = 64;

/// The Snowball stemmer tantivy has for an ISO 639-1 code, if any.
pub fn stemmer_language(lang: &str) -> Option<Language> {
    Some(match lang {
        "ar" => Language::Arabic,
        "da" => Language::Danish,
        "nl" => Language::Dutch,
        "en" => Language::English,
        "fi" => Language::Finnish,
        "fr" => Language::French,
        "de" => Language::German,
        "el" => Language::Greek,
        "hu" => Language::Hungarian,
        "it" => Language::Italian,
        "no" | "nb" | "nn" => Language::Norwegian,
        "pt" => Language::Portuguese,
        "ro" => Language::Romanian,
        "ru" => Language::Russian,
        "es" => Language::Spanish,
        "sv" => Language::Swedish,
        "ta" => Language::Tamil,
        "tr" => Language::Turkish,
        _ => return None,
    })
}

const STEMMED_LANGUAGES: [&str; 18] = [
    "ar", "da", "nl", "en", "fi", "fr", "de", "el", "hu", "it", "no", "pt", "ro", "ru", "es", "sv", "ta", "tr",
];

/// Case-folds and strips diacritics: NFD, drop combining marks, then the letters that do not
/// decompose (`ß`, `ø`, `ł`, `đ`, `æ`, `œ`, `þ`) and Greek final sigma.
pub fn fold(word: &str) -> String {
    let mut folded = String::with_capacity(word.len());
    for c in word.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        for lower in c.to_lowercase() {
            match lower {
                'ß' => folded.push_str("ss"),
                'ø' => folded.push('o'),
                'ł' => folded.push('l'),
                'đ' | 'ð' => folded.push('d'),
                'æ' => folded.push_str("ae"),
                'œ' => folded.push_str("oe"),
                'þ' => folded.push_str("th"),
                'ı' => folded.push('i'),
                'ς' => folded.push('σ'),
                other => folded.push(other),
            }
        }
    }
    folded
}

/// Splits text into words: UAX #29 word boundaries, then apostrophes (French and Italian elision,
/// `l'agent` → `l`, `agent`) and keeping only segments with a letter or digit.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.unicode_words()
        .flat_map(|word| word.split(['\'', '’']))
        .filter(|word| !word.is_empty() && word.chars().count() <= MAX_WORD)
}

/// A per-language analyzer. Cheap to clone; stemming needs `&mut` in tantivy, so each caller
/// holds its own copy.
#[derive(Clone)]
pub struct Analyzer {
    stemmer: Option<TextAnalyzer>,
}

impl Analyzer {
    pub fn for_lang(lang: &Lang) -> Analyzer {
        Analyzer::for_code(lang.as_str())
    }

    fn for_code(code: &str) -> Analyzer {
        let stemmer = stemmer_language(code).map(|language| {
            TextAnalyzer::builder(RawTokenizer::default())
                .filter(Stemmer::new(language))
                .build()
        });
        Analyzer { stemmer }
    }

    pub fn has_stemmer(&self) -> bool {
        self.stemmer.is_some()
    }

    /// The stem of one word: lowercase, stem, fold.
    pub fn stem(&mut self, word: &str) -> String {
        let lower = word.to_lowercase();
        let stemmed = match &mut self.stemmer {
            Some(analyzer) => {
                let mut stem = None;
                {
                    let mut stream = analyzer.token_stream(&lower);
                    while let Some(token) = stream.next() {
                        stem = Some(token.text.clone());
                    }
                }
                stem.unwrap_or(lower)
            }
            None => lower,
        };
        fold(&stemmed)
    }

    /// Stems of every word in `text`, in order (positions are the indexes).
    pub fn stems(&mut self, text: &str) -> Vec<String> {
        words(text).map(|word| self.stem(word)).collect()
    }
}

/// Analyzers for every language with a stemmer plus the plain one, for queries that name no
/// language: a query word is looked up under each distinct stem it has.
pub fn all_analyzers() -> Vec<Analyzer> {
    static CODES: OnceLock<Vec<&'static str>> = OnceLock::new();
    let codes = CODES.get_or_init(|| STEMMED_LANGUAGES.to_vec());
    codes
        .iter()
        .map(|code| Analyzer::for_code(code))
        .chain(std::iter::once(Analyzer { stemmer: None }))
        .collect()
}

/// Every prefix of 4..=24 characters of each folded word (whole words shorter than 4).
pub fn label_prefixes(text: &str) -> Vec<String> {
    let mut prefixes = Vec::new();
    for word in words(text) {
        let folded = fold(word);
        let boundaries: Vec<usize> = folded
            .char_indices()
            .map(|(i, _)| i)
            .skip(1)
            .chain([folded.len()])
            .collect();
        if boundaries.len() < MIN_PREFIX {
            prefixes.push(folded);
            continue;
        }
        for &end in boundaries.iter().take(MAX_PREFIX).skip(MIN_PREFIX - 1) {
            prefixes.push(folded[..end].to_string());
        }
    }
    prefixes
}

/// Whether `prefix` is among [`label_prefixes`] of a label with this folded word, without
/// building them: the whole word when it is shorter than [`MIN_PREFIX`] characters, else a prefix
/// of [`MIN_PREFIX`]..=[`MAX_PREFIX`] characters of it.
pub fn has_label_prefix(folded_word: &str, prefix: &str) -> bool {
    let word_chars = folded_word.chars().count();
    if word_chars < MIN_PREFIX {
        return folded_word == prefix;
    }
    let prefix_chars = prefix.chars().count();
    (MIN_PREFIX..=MAX_PREFIX.min(word_chars)).contains(&prefix_chars) && folded_word.starts_with(prefix)
}

/// The trigrams of one folded word padded with one space each side: `lastbil` → ` la`, `las`,
/// `ast`, `stb`, `tbi`, `bil`, `il `. The one definition of a trigram: the index's `grams` field,
/// the query's trigram clause and the fusion's trigram Dice all use it.
pub fn word_trigrams(folded: &str) -> impl Iterator<Item = [char; 3]> {
    let padded: Vec<char> = std::iter::once(' ')
        .chain(folded.chars())
        .chain(std::iter::once(' '))
        .collect();
    (0..padded.len().saturating_sub(2)).map(move |i| [padded[i], padded[i + 1], padded[i + 2]])
}

/// Character trigrams of each folded word of a label ([`word_trigrams`]). Repeats are kept (term
/// frequency counts them).
pub fn label_grams(text: &str) -> Vec<String> {
    words(text)
        .flat_map(|word| word_trigrams(&fold(word)).map(String::from_iter))
        .collect()
}

/// The distinct trigrams of a query's (already folded) words, in first-seen order.
pub fn query_grams(words: &[QueryWord]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    words
        .iter()
        .flat_map(|word| word_trigrams(&word.word).map(String::from_iter))
        .filter(|gram| seen.insert(gram.clone()))
        .collect()
}

/// The prefix a query word is looked up by: long words lose a fifth of their length (the
/// inflectional ending), never going below [`MIN_PREFIX`] characters nor above [`MAX_PREFIX`].
pub fn query_prefix(word: &str) -> Option<String> {
    let folded = fold(word);
    let length = folded.chars().count();
    if length < MIN_PREFIX {
        return None;
    }
    let keep = (length - length.div_ceil(5)).clamp(MIN_PREFIX, MAX_PREFIX);
    Some(folded.chars().take(keep).collect())
}

/// One query word with every term it may match under.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryWord {
    pub word: String,
    pub stems: Vec<String>,
    pub prefix: Option<String>,
}

/// Analyzes a query: with a language, under that language's analyzer; without, under every
/// stemmer (distinct stems only).
pub fn analyze_query(text: &str, lang: Option<&Lang>) -> Vec<QueryWord> {
    thread_local! {
        static ANALYZERS: std::cell::RefCell<HashMap<String, Vec<Analyzer>>> = std::cell::RefCell::new(HashMap::new());
    }
    let key = lang.map_or_else(String::new, |l| l.as_str().to_string());
    ANALYZERS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let analyzers = cache.entry(key).or_insert_with(|| match lang {
            Some(lang) => vec![Analyzer::for_lang(lang)],
            None => all_analyzers(),
        });
        words(text)
            .map(|word| {
                let mut stems: Vec<String> = Vec::with_capacity(analyzers.len());
                for analyzer in analyzers.iter_mut() {
                    let stem = analyzer.stem(word);
                    if !stems.contains(&stem) {
                        stems.push(stem);
                    }
                }
                QueryWord {
                    word: fold(word),
                    stems,
                    prefix: query_prefix(word),
                }
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_prefix_is_found_in_a_word_exactly_when_label_prefixes_lists_it() {
        let labels = [
            "Krankenpfleger",
            "IT-Fachkraft für Datenbanken",
            "ouvrière d'usine",
            "Ärztin",
            "a bc",
        ];
        let candidates = [
            "kran",
            "krankenpfleger",
            "krankenpflegerin",
            "kra",
            "it",
            "fach",
            "fachkraft",
            "datenbanken",
            "ouvr",
            "ouvriere",
            "usin",
            "usine",
            "d",
            "arzt",
            "arztin",
            "a",
            "bc",
            "abc",
            "krankenpflegerkrankenpfle",
        ];
        for label in labels {
            let listed = label_prefixes(label);
            let folded: Vec<String> = words(label).map(fold).collect();
            for prefix in candidates {
                let found = folded.iter().any(|word| has_label_prefix(word, prefix));
                assert_eq!(found, listed.iter().any(|p| p == prefix), "{label:?} / {prefix:?}");
            }
        }
        // Longer than MAX_PREFIX: not listed, not found.
        assert!(!has_label_prefix(
            "abcdefghijklmnopqrstuvwxyz",
            "abcdefghijklmnopqrstuvwxy"
        ));
        assert!(has_label_prefix(
            "abcdefghijklmnopqrstuvwxyz",
            "abcdefghijklmnopqrstuvwx"
        ));
    }

    fn lang(code: &str) -> Lang {
        Lang::parse(code).unwrap()
    }

    #[test]
    fn german_gendered_pair_stems_together() {
        let mut analyzer = Analyzer::for_lang(&lang("de"));
        let stems = analyzer.stems("Softwareentwickler/Softwareentwicklerin");
        assert_eq!(stems.len(), 2);
        assert_eq!(analyzer.stem("Softwareentwickler"), stems[0]);
    }

    #[test]
    fn folding_handles_latin_greek_and_cyrillic() {
        assert_eq!(fold("Ingénieur"), "ingenieur");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("Pielęgniarka"), "pielegniarka");
        assert_eq!(fold("Ηλεκτρολόγος"), "ηλεκτρολογοσ");
        assert_eq!(fold("ΗΛΕΚΤΡΟΛΟΓΟΣ"), fold("ηλεκτρολόγος"));
        assert_eq!(fold("Медицинска сестра"), "медицинска сестра");
    }

    #[test]
    fn greek_stemmer_is_used() {
        let mut analyzer = Analyzer::for_lang(&lang("el"));
        assert!(analyzer.has_stemmer());
        assert_eq!(analyzer.stem("ηλεκτρολόγοι"), analyzer.stem("ηλεκτρολόγος"));
    }

    #[test]
    fn elision_is_split() {
        assert_eq!(
            words("l'agent d’entretien").collect::<Vec<_>>(),
            vec!["l", "agent", "d", "entretien"]
        );
    }

    #[test]
    fn truncation_lets_inflected_forms_meet_without_a_stemmer() {
        // Lithuanian (no Snowball stemmer): nominative label, genitive and plural queries.
        let indexed = label_prefixes("slaugytojas");
        for query in ["slaugytojo", "slaugytojai", "slaugytojų"] {
            let prefix = query_prefix(query).unwrap();
            assert!(indexed.contains(&prefix), "{query} → {prefix} not in {indexed:?}");
        }
        // Polish: pielęgniarka (label) vs pielęgniarki / pielęgniarką (query).
        let indexed = label_prefixes("Pielęgniarka");
        for query in ["pielęgniarki", "pielęgniarką"] {
            assert!(indexed.contains(&query_prefix(query).unwrap()));
        }
    }

    #[test]
    fn compounds_share_trigrams() {
        let a = query_grams(&analyze_query("Lastbilschaufför", None));
        let b = label_grams("lastbilsförare");
        assert_eq!(a.first().map(String::as_str), Some(" la"));
        assert_eq!(a.last().map(String::as_str), Some("or "));
        let shared = a.iter().filter(|g| b.contains(g)).count();
        assert_eq!(shared, 8, "{a:?} vs {b:?}");
        // Repeats are kept for labels, dropped for queries.
        assert_eq!(label_grams("aaaa").len(), 4);
        assert_eq!(query_grams(&analyze_query("aaaa", None)).len(), 3);
    }

    #[test]
    fn query_without_language_gets_several_stems() {
        let words = analyze_query("Krankenpfleger", None);
        assert_eq!(words.len(), 1);
        assert!(words[0].stems.len() >= 2);
        assert!(words[0]
            .stems
            .contains(&Analyzer::for_lang(&lang("de")).stem("Krankenpfleger")));
    }

    proptest! {
        #[test]
        fn analysis_never_panics(text in "\\PC{0,80}") {
            let mut analyzer = Analyzer::for_lang(&lang("fr"));
            let _ = analyzer.stems(&text);
            let _ = label_prefixes(&text);
            let _ = analyze_query(&text, None);
        }

        #[test]
        fn query_prefix_is_a_prefix_of_the_folded_word(word in "[a-zA-ZäöüęąłşλΣ]{1,40}") {
            if let Some(prefix) = query_prefix(&word) {
                prop_assert!(fold(&word).starts_with(&prefix));
                prop_assert!(prefix.chars().count() >= MIN_PREFIX);
            }
        }
    }
}
