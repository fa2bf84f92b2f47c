//! The two handshakes that turn a connection to a proxy into a tunnel to
//! the target: HTTP `CONNECT` (RFC 9110 §9.3.6) and SOCKS5 (RFC 1928,
//! with RFC 1929's user/password).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Proxy;

/// Past this, a proxy's answer to CONNECT is not one.
const MAX_HEADER: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("the proxy {proxy} could not be reached: {err}")]
    Unreachable { proxy: String, err: std::io::Error },
    #[error("the proxy {proxy} asks for a user name and password (407); put them in the proxy URL: http://user:password@host:port")]
    AuthRequired { proxy: String },
    #[error("the proxy {proxy} refused to connect to {target}: {reason}")]
    Refused { proxy: String, target: String, reason: String },
    #[error("the proxy {proxy} answered something that is not {what}")]
    Garbled { proxy: String, what: &'static str },
    #[error("the proxy {proxy} closed the connection: {err}")]
    Io { proxy: String, err: std::io::Error },
}

impl From<ProxyError> for std::io::Error {
    fn from(e: ProxyError) -> std::io::Error {
        let kind = match e {
            ProxyError::Unreachable { .. } => std::io::ErrorKind::ConnectionRefused,
            ProxyError::AuthRequired { .. } | ProxyError::Refused { .. } => std::io::ErrorKind::PermissionDenied,
            _ => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e.to_string())
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `CONNECT host:port` on `s`, a connection to the HTTP proxy `p`.
pub async fn http_connect<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, p: &Proxy, host: &str, port: u16) -> Result<(), ProxyError> {
    let io = |err| ProxyError::Io { proxy: p.display(), err };
    let target = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some((u, pw)) = &p.auth {
        req.push_str(&format!("Proxy-Authorization: Basic {}\r\n", base64(format!("{u}:{pw}").as_bytes())));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.map_err(io)?;
    // Byte by byte up to the blank line: what follows belongs to the tunnel.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEADER {
            return Err(ProxyError::Garbled { proxy: p.display(), what: "an HTTP answer" });
        }
        head.push(s.read_u8().await.map_err(io)?);
    }
    let text = String::from_utf8_lossy(&head);
    let status = text.lines().next().unwrap_or("");
    let code = status.split_whitespace().nth(1).and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(200..=299) if status.starts_with("HTTP/1.") => Ok(()),
        Some(407) => Err(ProxyError::AuthRequired { proxy: p.display() }),
        Some(_) => Err(ProxyError::Refused { proxy: p.display(), target, reason: status.trim().to_string() }),
        None => Err(ProxyError::Garbled { proxy: p.display(), what: "an HTTP answer" }),
    }
}

/// A SOCKS5 CONNECT to `host:port` on `s`, a connection to the proxy `p`.
pub async fn socks5_connect<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, p: &Proxy, host: &str, port: u16) -> Result<(), ProxyError> {
    let io = |err| ProxyError::Io { proxy: p.display(), err };
    let garbled = || ProxyError::Garbled { proxy: p.display(), what: "SOCKS5" };
    let target = format!("{host}:{port}");
    let methods: &[u8] = if p.auth.is_some() { &[0, 2] } else { &[0] };
    let mut hello = vec![5, methods.len() as u8];
    hello.extend_from_slice(methods);
    s.write_all(&hello).await.map_err(io)?;
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice).await.map_err(io)?;
    match (choice, &p.auth) {
        ([5, 0], _) => {}
        ([5, 2], Some((u, pw))) => {
            if u.len() > 255 || pw.len() > 255 {
                return Err(ProxyError::AuthRequired { proxy: p.display() });
            }
            let mut auth = vec![1, u.len() as u8];
            auth.extend_from_slice(u.as_bytes());
            auth.push(pw.len() as u8);
            auth.extend_from_slice(pw.as_bytes());
            s.write_all(&auth).await.map_err(io)?;
            let mut ok = [0u8; 2];
            s.read_exact(&mut ok).await.map_err(io)?;
            if ok[1] != 0 {
                return Err(ProxyError::AuthRequired { proxy: p.display() });
            }
        }
        ([5, 0xff], _) | ([5, 2], None) => return Err(ProxyError::AuthRequired { proxy: p.display() }),
        _ => return Err(garbled()),
    }
    let mut req = vec![5, 1, 0];
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            req.push(1);
            req.extend_from_slice(&v4.octets());
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            req.push(4);
            req.extend_from_slice(&v6.octets());
        }
        Err(_) if host.len() <= 255 => {
            req.push(3);
            req.push(host.len() as u8);
            req.extend_from_slice(host.as_bytes());
        }
        Err(_) => return Err(ProxyError::Refused { proxy: p.display(), target, reason: "host name too long".into() }),
    }
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).await.map_err(io)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.map_err(io)?;
    if head[0] != 5 {
        return Err(garbled());
    }
    // The bound address the proxy reports: read and ignored.
    let skip = match head[3] {
        1 => 4,
        4 => 16,
        3 => s.read_u8().await.map_err(io)? as usize,
        _ => return Err(garbled()),
    };
    let mut rest = vec![0u8; skip + 2];
    s.read_exact(&mut rest).await.map_err(io)?;
    if head[1] != 0 {
        let reason = match head[1] {
            2 => "not allowed by its rules",
            3 => "network unreachable",
            4 => "host unreachable",
            5 => "connection refused",
            6 => "timed out",
            _ => "a general failure",
        };
        return Err(ProxyError::Refused { proxy: p.display(), target, reason: reason.into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::ProxyKind;
    use super::*;

    fn proxy(kind: ProxyKind, auth: bool) -> Proxy {
        Proxy { kind, host: "p".into(), port: 1, auth: auth.then(|| ("léa".into(), "s3cret".into())), source: "test".into() }
    }

    #[test]
    fn basic_auth_is_rfc_4648_base64() {
        assert_eq!(base64(b"Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }

    #[tokio::test]
    async fn connect_through_an_http_proxy_and_its_refusals() {
        let (mut client, mut server) = tokio::io::duplex(4096);
        let serve = tokio::spawn(async move {
            let mut buf = vec![0u8; 1024];
            let n = server.read(&mut buf).await.unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            server.write_all(b"HTTP/1.1 200 Connection established\r\nVia: test\r\n\r\nhello").await.unwrap();
            req
        });
        http_connect(&mut client, &proxy(ProxyKind::Http, true), "203.0.113.7", 443).await.unwrap();
        let req = serve.await.unwrap();
        assert!(req.starts_with("CONNECT 203.0.113.7:443 HTTP/1.1\r\n"), "{req}");
        assert!(req.contains(&format!("Proxy-Authorization: Basic {}\r\n", base64("léa:s3cret".as_bytes()))), "{req}");
        let mut tunnel = [0u8; 5];
        client.read_exact(&mut tunnel).await.unwrap();
        assert_eq!(&tunnel, b"hello", "bytes after the header belong to the tunnel");

        for (answer, want) in
            [("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", "407"), ("HTTP/1.0 403 Forbidden\r\n\r\n", "403 Forbidden")]
        {
            let (mut client, mut server) = tokio::io::duplex(4096);
            tokio::spawn(async move {
                let mut buf = [0u8; 512];
                let _ = server.read(&mut buf).await;
                let _ = server.write_all(answer.as_bytes()).await;
            });
            let e = http_connect(&mut client, &proxy(ProxyKind::Http, false), "h", 443).await.unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
        }
    }

    #[tokio::test]
    async fn connect_through_a_socks5_proxy_with_a_password() {
        let (mut client, mut server) = tokio::io::duplex(4096);
        let serve = tokio::spawn(async move {
            let mut hello = [0u8; 4];
            server.read_exact(&mut hello).await.unwrap();
            assert_eq!(hello, [5, 2, 0, 2]);
            server.write_all(&[5, 2]).await.unwrap();
            let mut auth = vec![0u8; 3 + "léa".len() + 6];
            server.read_exact(&mut auth).await.unwrap();
            server.write_all(&[1, 0]).await.unwrap();
            let mut req = [0u8; 4 + 1 + 11 + 2];
            server.read_exact(&mut req).await.unwrap();
            assert_eq!(&req[..5], &[5, 1, 0, 3, 11]);
            assert_eq!(&req[5..16], b"example.org");
            server.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await.unwrap();
        });
        socks5_connect(&mut client, &proxy(ProxyKind::Socks5, true), "example.org", 443).await.unwrap();
        serve.await.unwrap();
    }
}
