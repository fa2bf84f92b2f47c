//! The 256 words of short invite codes: common, concrete, easy to say and
//! to spell over the phone. Two of them give 65 536 combinations, so a
//! guesser who gets one try (a wrong guess burns the code) is right once in
//! tens of thousands. The order is part of the format: never reorder.

pub const WORDS: [&str; 256] = [
    "acorn", "actor", "adult", "agent", "album", "alarm", "anchor", "angle", "ankle", "apple", "apron", "arrow", "artist", "aspen",
    "atlas", "attic", "autumn", "avenue", "bacon", "badge", "bagel", "baker", "ballet", "bamboo", "banana", "banjo", "barrel", "basket",
    "beach", "beaver", "bells", "bench", "berry", "bishop", "blanket", "blossom", "boat", "bonnet", "border", "bottle", "boulder", "bread",
    "breeze", "brick", "bridge", "broom", "bubble", "bucket", "buffalo", "butter", "button", "cabin", "cactus", "camel", "camera",
    "candle", "canoe", "canyon", "captain", "carpet", "carrot", "castle", "cedar", "cello", "chalk", "cherry", "chess", "chimney",
    "circus", "citrus", "clock", "cloud", "clover", "cobra", "coconut", "coffee", "comet", "compass", "cookie", "copper", "coral",
    "cotton", "cousin", "coyote", "crayon", "cricket", "crystal", "curtain", "cushion", "daisy", "dancer", "desert", "diamond", "dinner",
    "doctor", "dolphin", "donkey", "dragon", "drummer", "eagle", "easel", "elbow", "ember", "engine", "falcon", "farmer", "feather",
    "fennel", "ferry", "fiddle", "finch", "flute", "forest", "fossil", "fox", "garden", "garlic", "ginger", "giraffe", "glacier", "globe",
    "goose", "guitar", "hammer", "harbor", "harvest", "hazel", "helmet", "hermit", "hiker", "honey", "hornet", "iceberg", "igloo",
    "island", "ivory", "jacket", "jaguar", "jelly", "jigsaw", "juggler", "kettle", "kitten", "koala", "ladder", "lagoon", "lantern",
    "lemon", "lily", "lizard", "lobster", "locket", "lotus", "magnet", "mango", "maple", "marble", "meadow", "melon", "meteor", "mirror",
    "mitten", "monkey", "mosaic", "muffin", "mustard", "napkin", "nectar", "needle", "noodle", "nutmeg", "oasis", "ocean", "olive",
    "onion", "orbit", "orchard", "orchid", "otter", "owl", "paddle", "palace", "panda", "parrot", "pasta", "peach", "peanut", "pebble",
    "pencil", "pepper", "piano", "pickle", "pigeon", "pillow", "pilot", "pirate", "planet", "plum", "pocket", "poet", "pony", "potato",
    "puzzle", "quail", "quartz", "rabbit", "radio", "rainbow", "raven", "ribbon", "river", "robin", "rocket", "saddle", "sailor", "salmon",
    "sandal", "scarf", "shadow", "sheep", "shovel", "silver", "sketch", "sleeve", "spider", "spoon", "statue", "stone", "sugar", "summer",
    "sunset", "swan", "tablet", "teapot", "tiger", "tomato", "tractor", "trumpet", "tulip", "tunnel", "turtle", "valley", "velvet",
    "violin", "volcano", "wagon", "walnut", "walrus", "whistle", "willow", "window", "winter", "wizard", "wolf", "yogurt", "zebra",
];

/// The index of a word, forgiving case and surrounding spaces.
pub fn index_of(word: &str) -> Option<u8> {
    let w = word.trim().to_ascii_lowercase();
    WORDS.iter().position(|x| *x == w).map(|i| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_distinct_lowercase_letters() {
        let mut seen = std::collections::HashSet::new();
        for w in WORDS {
            assert!(w.len() >= 3 && w.bytes().all(|b| b.is_ascii_lowercase()), "{w}");
            assert!(seen.insert(w), "duplicate {w}");
        }
        assert_eq!(index_of(" Guitar "), Some(WORDS.iter().position(|w| *w == "guitar").unwrap() as u8));
        assert_eq!(index_of("notaword"), None);
    }
}
