//! Dialing TCP through the system's proxy (issue 33): offices and hotels
//! where nothing gets out but an HTTP proxy. The proxy comes from the
//! `proxy` setting, else `HTTPS_PROXY` / `https_proxy` / `ALL_PROXY` /
//! `all_proxy` (`http://[user:pass@]host[:port]`, or `socks5://...` /
//! `socks5h://...`), and `NO_PROXY` / `no_proxy` names where to go direct.
//! rust-libp2p has no proxy support: [`transport::ProxiedTcp`] is ours.

mod handshake;
pub mod transport;

pub use handshake::{http_connect, socks5_connect, ProxyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// HTTP `CONNECT` (Basic authentication from the URL).
    Http,
    Socks5,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub kind: ProxyKind,
    pub host: String,
    pub port: u16,
    /// User and password, percent-decoded.
    pub auth: Option<(String, String)>,
    /// Where it was found (`HTTPS_PROXY`, the `proxy` setting), for `doctor`.
    pub source: String,
}

impl Proxy {
    /// The proxy as people write it, without its password.
    pub fn display(&self) -> String {
        let scheme = match self.kind {
            ProxyKind::Http => "http",
            ProxyKind::Socks5 => "socks5",
        };
        let user = self.auth.as_ref().map(|(u, _)| format!("{u}:***@")).unwrap_or_default();
        format!("{scheme}://{user}{}:{}", self.host, self.port)
    }
}

/// The proxy to use, and where not to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    pub proxy: Option<Proxy>,
    /// `NO_PROXY` entries, lowercased: `*`, host names (and their
    /// subdomains), IP addresses, `a.b.c.d/n` networks.
    pub no_proxy: Vec<String>,
}

impl ProxySettings {
    /// From the `proxy` setting (`none` turns proxies off, a URL wins over
    /// the environment) and the environment `var`.
    pub fn resolve(setting: Option<&str>, var: impl Fn(&str) -> Option<String>) -> Result<ProxySettings, String> {
        let no_proxy = ["NO_PROXY", "no_proxy"]
            .iter()
            .find_map(|k| var(k))
            .map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let (url, source) = match setting.map(str::trim) {
            Some("none") | Some("") => return Ok(ProxySettings { proxy: None, no_proxy }),
            Some(url) => (url.to_string(), "the proxy setting".to_string()),
            None => match ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
                .iter()
                .find_map(|k| var(k).filter(|v| !v.trim().is_empty()).map(|v| (v, k.to_string())))
            {
                Some(found) => found,
                None => return Ok(ProxySettings { proxy: None, no_proxy }),
            },
        };
        let proxy = parse_url(&url, &source).map_err(|e| format!("{source} ({url:?}): {e}"))?;
        Ok(ProxySettings { proxy: Some(proxy), no_proxy })
    }

    /// The proxy for a dial to `host` (a name or an IP), `None` to go direct.
    pub fn for_host(&self, host: &str) -> Option<&Proxy> {
        let proxy = self.proxy.as_ref()?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        (!self.no_proxy.iter().any(|n| no_proxy_matches(n, &host))).then_some(proxy)
    }
}

fn no_proxy_matches(entry: &str, host: &str) -> bool {
    if entry == "*" {
        return true;
    }
    if let Some((net, bits)) = entry.split_once('/') {
        let (Ok(net), Ok(bits), Ok(ip)) = (net.parse::<std::net::IpAddr>(), bits.parse::<u32>(), host.parse::<std::net::IpAddr>()) else {
            return false;
        };
        return match (net, ip) {
            (std::net::IpAddr::V4(n), std::net::IpAddr::V4(i)) if bits <= 32 => {
                let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                u32::from(n) & mask == u32::from(i) & mask
            }
            (std::net::IpAddr::V6(n), std::net::IpAddr::V6(i)) if bits <= 128 => {
                let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        };
    }
    let entry = entry.trim_start_matches("*.").trim_start_matches('.');
    host == entry || host.ends_with(&format!(".{entry}"))
}

fn parse_url(url: &str, source: &str) -> Result<Proxy, String> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        // `proxy.example:3128`, as some set it: HTTP.
        None => ("http".to_string(), url),
    };
    let kind = match scheme.as_str() {
        "http" | "https" => ProxyKind::Http,
        "socks5" | "socks5h" => ProxyKind::Socks5,
        other => return Err(format!("apero speaks HTTP and SOCKS5 proxies, not {other:?}")),
    };
    let rest = rest.split('/').next().unwrap_or("");
    let (auth, hostport) = match rest.rsplit_once('@') {
        Some((userinfo, hp)) => {
            let (u, p) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            (Some((percent_decode(u)?, percent_decode(p)?)), hp)
        }
        None => (None, rest),
    };
    let default_port = if kind == ProxyKind::Http { 8080 } else { 1080 };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("an IPv6 address needs its closing ]")?;
        (h.to_string(), after.strip_prefix(':').map(|p| p.parse::<u16>()).transpose().map_err(|_| "bad port")?)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.parse::<u16>().map_err(|_| format!("bad port {p:?}"))?)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    Ok(Proxy { kind, host, port: port.unwrap_or(default_port), auth, source: source.to_string() })
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("a % without two hex digits")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "a % without two hex digits")?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the user or password is not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_environment_names_the_proxy_and_no_proxy_the_exceptions() {
        let s = ProxySettings::resolve(
            None,
            env(&[("https_proxy", "http://l%C3%A9a:p%40ss@proxy.corp:3128/"), ("NO_PROXY", "intranet.corp, 10.0.0.0/8,.lan")]),
        )
        .unwrap();
        let p = s.proxy.clone().unwrap();
        assert_eq!((p.kind, p.host.as_str(), p.port), (ProxyKind::Http, "proxy.corp", 3128));
        assert_eq!(p.auth, Some(("léa".into(), "p@ss".into())));
        assert_eq!(p.display(), "http://léa:***@proxy.corp:3128");
        assert!(s.for_host("wiki.intranet.corp").is_none() && s.for_host("intranet.corp").is_none());
        assert!(s.for_host("10.3.4.5").is_none() && s.for_host("nas.lan").is_none());
        assert!(s.for_host("203.0.113.7").is_some() && s.for_host("notintranet.corp").is_some());
        let socks = ProxySettings::resolve(None, env(&[("ALL_PROXY", "socks5h://[2001:db8::1]")])).unwrap().proxy.unwrap();
        assert_eq!((socks.kind, socks.host.as_str(), socks.port), (ProxyKind::Socks5, "2001:db8::1", 1080));
        // HTTPS_PROXY wins over ALL_PROXY; the setting over both; `none` turns it off.
        let both = [("ALL_PROXY", "socks5://a:1"), ("HTTPS_PROXY", "http://b:2")];
        assert_eq!(ProxySettings::resolve(None, env(&both)).unwrap().proxy.unwrap().host, "b");
        assert_eq!(ProxySettings::resolve(Some("http://c:3"), env(&both)).unwrap().proxy.unwrap().host, "c");
        assert!(ProxySettings::resolve(Some("none"), env(&both)).unwrap().proxy.is_none());
        assert!(ProxySettings::resolve(None, env(&[("HTTPS_PROXY", "ftp://x")])).is_err());
        assert!(ProxySettings::resolve(None, env(&[("HTTPS_PROXY", "http://x:port")])).is_err());
        let all = ProxySettings::resolve(None, env(&[("HTTPS_PROXY", "http://x"), ("no_proxy", "*")])).unwrap();
        assert!(all.for_host("203.0.113.7").is_none());
    }
}
