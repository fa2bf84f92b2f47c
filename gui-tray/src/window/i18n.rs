//! The window's words, from one Fluent catalogue per language
//! (gui-tray/locales/<lang>/apero.ftl, embedded at build time): a new
//! language is a new folder there, no code.
//!
//! The language is the one chosen in Settings, else the system's
//! (`LANGUAGE`, `LC_ALL`, `LC_MESSAGES`, `LANG` on Unix), else English.

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Fluent wraps each placeable in Unicode isolation marks, which
        // egui's fonts draw as boxes.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// A language to look words up in.
#[derive(Debug, Clone, PartialEq)]
pub struct Tr {
    lang: LanguageIdentifier,
}

impl Tr {
    /// `choice` is a language tag ("fr", "en-GB") or `None` for the system's.
    pub fn new(choice: Option<&str>) -> Tr {
        let wanted = match choice {
            Some(c) => vec![c.to_string()],
            None => sys_locale::get_locales().collect(),
        };
        let lang = wanted.iter().find_map(|w| negotiate(w)).unwrap_or_else(english);
        Tr { lang }
    }

    /// The language chosen in the window's Settings, saved in its file at
    /// `path` (`ui::settings::Settings::default_path()`), else the
    /// system's, else English: the tray speaks as the window does.
    pub fn chosen(path: &std::path::Path) -> Tr {
        Tr::new(crate::ui::settings::Settings::load(path).language.as_deref())
    }

    /// The language's tag, as in the catalogue's folder name.
    pub fn lang(&self) -> String {
        self.lang.language.as_str().to_string()
    }

    /// The languages there is a catalogue for, by tag.
    pub fn available() -> Vec<String> {
        let mut v: Vec<String> = LOCALES.locales().map(|l| l.language.as_str().to_string()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// A language's own name for itself, for the language menu.
    pub fn native_name(tag: &str) -> &str {
        match tag {
            "en" => "English",
            "fr" => "Français",
            other => other,
        }
    }

    pub fn t(&self, id: &str) -> String {
        LOCALES.lookup(&self.lang, id)
    }

    /// With arguments: `tr.a("room-members", &[("online", 2.into()), ("members", 3.into())])`.
    pub fn a(&self, id: &str, args: &[(&'static str, FluentValue<'static>)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue<'static>> = args.iter().map(|(k, v)| (Cow::Borrowed(*k), v.clone())).collect();
        LOCALES.lookup_with_args(&self.lang, id, &map)
    }

    /// One string argument, the common case.
    pub fn s(&self, id: &str, key: &'static str, value: &str) -> String {
        self.a(id, &[(key, FluentValue::from(value.to_string()))])
    }

    /// One number argument (plurals).
    pub fn n(&self, id: &str, key: &'static str, value: u64) -> String {
        self.a(id, &[(key, FluentValue::from(value))])
    }

    /// A size as people of this language write it: "3.3 MiB", "3,3 Mio".
    pub fn bytes(&self, n: u64) -> String {
        let (units, comma) = match self.lang().as_str() {
            "fr" => (["o", "Kio", "Mio", "Gio", "Tio"], true),
            _ => (["B", "KiB", "MiB", "GiB", "TiB"], false),
        };
        let mut v = n as f64;
        let mut unit = 0;
        while v >= 1024.0 && unit < units.len() - 1 {
            v /= 1024.0;
            unit += 1;
        }
        let number = if unit == 0 { n.to_string() } else { format!("{v:.1}") };
        let number = if comma { number.replace('.', ",") } else { number };
        // A no-break space: the number never ends a line without its unit.
        format!("{number}\u{a0}{}", units[unit])
    }
}

fn english() -> LanguageIdentifier {
    fluent_templates::langid!("en")
}

/// The catalogue for a locale such as "fr-FR" or "fr_FR.UTF-8": by the
/// language alone, since each language has one catalogue.
fn negotiate(wanted: &str) -> Option<LanguageIdentifier> {
    let tag = wanted.split(['.', '@']).next().unwrap_or("").replace('_', "-");
    let wanted: LanguageIdentifier = tag.parse().ok()?;
    LOCALES.locales().find(|l| l.language == wanted.language).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(lang: &str) -> Vec<String> {
        let path = format!("{}/locales/{lang}/apero.ftl", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .filter_map(|l| l.split_once(" =").map(|(k, _)| k.trim().to_string()))
            .collect()
    }

    #[test]
    fn sizes_are_written_as_each_language_does() {
        let (en, fr) = (Tr::new(Some("en")), Tr::new(Some("fr")));
        assert_eq!(en.bytes(3_460_000), "3.3\u{a0}MiB");
        assert_eq!(fr.bytes(3_460_000), "3,3\u{a0}Mio");
        assert_eq!(fr.bytes(512), "512\u{a0}o");
    }

    #[test]
    fn every_language_has_every_message() {
        let english = keys("en");
        assert!(english.len() > 50, "read too few keys: {english:?}");
        for lang in Tr::available() {
            let tr = Tr::new(Some(&lang));
            assert_eq!(tr.lang(), lang);
            let mut theirs = keys(&lang);
            let mut ours = english.clone();
            theirs.sort();
            ours.sort();
            assert_eq!(theirs, ours, "{lang}'s catalogue and English's have different messages");
            // And the embedded catalogue is the file: a message without
            // arguments reads back as written.
            assert!(LOCALES.try_lookup(&tr.lang, "app-title").is_some(), "{lang} is not embedded");
        }
    }

    #[test]
    fn system_locales_pick_their_catalogue() {
        assert_eq!(Tr::new(Some("fr_FR.UTF-8")).lang(), "fr");
        assert_eq!(Tr::new(Some("fr-CA")).lang(), "fr");
        assert_eq!(Tr::new(Some("en_GB")).lang(), "en");
        assert_eq!(Tr::new(Some("xx")).lang(), "en", "an unknown language falls back to English");
        assert_eq!(Tr::new(Some("")).lang(), "en");
    }

    #[test]
    fn the_tray_reads_the_language_chosen_in_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("window.json");
        assert_eq!(Tr::chosen(&path), Tr::new(None), "no choice saved: the system's");
        std::fs::write(&path, br#"{"language": "fr", "theme": "dark"}"#).unwrap();
        assert_eq!(Tr::chosen(&path).lang(), "fr");
        std::fs::write(&path, br#"{"language": "en"}"#).unwrap();
        assert_eq!(Tr::chosen(&path).lang(), "en");
    }

    #[test]
    fn plurals_and_arguments_follow_each_language() {
        let en = Tr::new(Some("en"));
        let fr = Tr::new(Some("fr"));
        assert_eq!(en.n("room-unread", "count", 1), "1 new message");
        assert_eq!(en.n("room-unread", "count", 0), "0 new messages");
        // French counts 0 and 1 alike.
        assert_eq!(fr.n("room-unread", "count", 0), "0 nouveau message");
        assert_eq!(fr.n("room-unread", "count", 3), "3 nouveaux messages");
        let s = fr.s("file-offered", "name", "Zoé");
        assert_eq!(s, "Zoé a partagé un fichier", "no isolation marks around placeables");
    }
}
