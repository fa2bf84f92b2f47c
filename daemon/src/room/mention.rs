//! `@name` mentions: a message that names us is worth a notification.

/// Whether `text` holds `@` followed by `name` (any case) as a whole word:
/// not inside an address like `bob@ana.fr`, not the start of a longer name.
pub fn mentions(text: &str, name: &str) -> bool {
    let name = name.trim();
    if name.is_empty() {
        return false;
    }
    let want: Vec<char> = name.chars().flat_map(char::to_lowercase).collect();
    text.char_indices().filter(|(_, c)| *c == '@').any(|(at, _)| {
        if text[..at].chars().next_back().is_some_and(is_word) {
            return false;
        }
        let mut rest = text[at + 1..].chars();
        let mut got = Vec::with_capacity(want.len());
        while got.len() < want.len() {
            match rest.next() {
                Some(c) => got.extend(c.to_lowercase()),
                None => break,
            }
        }
        got == want && !rest.next().is_some_and(is_word)
    })
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::mentions;

    #[test]
    fn a_mention_is_at_name_as_a_whole_word_in_any_case() {
        assert!(mentions("@alice tu viens ?", "alice"));
        assert!(mentions("salut @Alice!", "alice"));
        assert!(mentions("(@ÉLODIE)", "élodie"));
        assert!(mentions("hé @Bob M, ça va", "Bob M"));
        assert!(!mentions("@alicette", "alice"), "a longer name is someone else");
        assert!(!mentions("alice@example.org", "example"), "an address is no mention");
        assert!(!mentions("alice sans arobase", "alice"));
        assert!(!mentions("@", "alice"));
        assert!(!mentions("@al", "alice"));
        assert!(!mentions("@x", " "));
    }
}
