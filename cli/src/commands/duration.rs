/// Parses `30s`, `10m`, `24h`, `7d` or plain seconds.
pub fn parse(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a duration like 30s, 10m, 24h or 7d"))?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit {unit:?} in {s:?}: use s, m, h or d")),
    };
    n.checked_mul(mul).filter(|&v| v > 0).ok_or_else(|| format!("{s:?} is not a positive duration"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn units() {
        assert_eq!(super::parse("30s"), Ok(30));
        assert_eq!(super::parse("10m"), Ok(600));
        assert_eq!(super::parse("24h"), Ok(86_400));
        assert_eq!(super::parse("7d"), Ok(604_800));
        assert_eq!(super::parse("45"), Ok(45));
        assert!(super::parse("0s").is_err());
        assert!(super::parse("5y").is_err());
        assert!(super::parse("").is_err());
        assert!(super::parse("99999999999999999999d").is_err());
    }
}
