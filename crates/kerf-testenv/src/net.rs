//! Free loopback ports and a tiny plain-HTTP probe.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Ports handed out by this process. A port is never handed out twice, so
/// control planes started in parallel by tests of one binary cannot race for
/// the same port. Races with other processes are handled by retrying the
/// start of a component when its log says "address already in use".
static ISSUED: LazyLock<Mutex<HashSet<u16>>> = LazyLock::new(|| Mutex::new(HashSet::new()));

/// Returns `n` distinct free ports on 127.0.0.1, found by binding port 0.
/// All listeners are held until all ports are chosen, so the kernel does not
/// hand out the same port twice within one call.
pub(crate) fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let mut issued = ISSUED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut listeners = Vec::with_capacity(n);
    let mut ports = Vec::with_capacity(n);
    for _ in 0..(n + 1000) {
        if ports.len() == n {
            break;
        }
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        if issued.insert(port) {
            ports.push(port);
        }
        listeners.push(listener);
    }
    if ports.len() < n {
        return Err(std::io::Error::other("could not find enough free ports"));
    }
    Ok(ports)
}

/// `GET http://127.0.0.1:{port}{path}` over HTTP/1.0; returns the status code
/// and body.
pub(crate) async fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    http_request(port, "GET", path, None).await
}

/// `POST` of a JSON body to `http://127.0.0.1:{port}{path}` over HTTP/1.0.
pub(crate) async fn http_post_json(
    port: u16,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    http_request(port, "POST", path, Some(body)).await
}

async fn http_request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let request = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let mut head =
            format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\n");
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        head.push_str(body.unwrap_or_default());
        stream.write_all(head.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&response).into_owned())
    };
    let response = tokio::time::timeout(Duration::from_secs(5), request)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "HTTP probe timed out"))??;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed HTTP response");
    let status_line = response.lines().next().ok_or_else(bad)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// A non-loopback IPv4 address of this machine: the source address the kernel
/// would use towards a few unroutable-in-practice destinations (a UDP
/// `connect` sends no packet). Endpoints may not be loopback addresses, so a
/// test whose API server reaches a process here through a Service's endpoints
/// needs one.
pub(crate) fn host_ipv4() -> std::io::Result<std::net::Ipv4Addr> {
    use std::net::{IpAddr, UdpSocket};
    let socket = UdpSocket::bind(("0.0.0.0", 0))?;
    for target in ["192.0.2.1:9", "10.255.255.254:9", "172.31.255.254:9"] {
        if socket.connect(target).is_err() {
            continue;
        }
        if let Ok(addr) = socket.local_addr()
            && let IpAddr::V4(ip) = addr.ip()
            && !ip.is_loopback()
            && !ip.is_unspecified()
        {
            return Ok(ip);
        }
    }
    Err(std::io::Error::other(
        "this machine has no route to a non-loopback IPv4 address",
    ))
}
