//! `pki serve` started for real on a loopback port, and a raw HTTP/1.1 client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::Env;

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// `pki serve --http 127.0.0.1:PORT --poll 200ms`, once its "listening" line is out.
    pub fn start(env: &Env, port: u16) -> Server {
        Server::start_with(env, port, &[])
    }

    pub fn start_with(env: &Env, port: u16, extra: &[&str]) -> Server {
        Server::start_env(env, port, extra, &[])
    }

    /// As `start_with`, with more environment variables (`PKI_NOW` for a fixed clock).
    pub fn start_env(env: &Env, port: u16, extra: &[&str], vars: &[(&str, &str)]) -> Server {
        let mut child = env
            .pki()
            .envs(vars.iter().copied())
            .args(["serve", "--http", &format!("127.0.0.1:{port}"), "--poll", "200ms"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                // Logged before the "listening" signal: a test reads it as soon as start returns.
                let listening = line.contains("\"listening\"");
                log2.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                if listening {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(20)).expect("pki serve said it is listening");
        Server { child, port, log }
    }

    pub fn get(&self, path: &str, headers: &[&str]) -> Reply {
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        for h in headers {
            req.push_str(h);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        self.raw(req.as_bytes())
    }

    /// Sends bytes, reads until the server closes (or 5 s), parses the first response.
    pub fn raw(&self, bytes: &[u8]) -> Reply {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(bytes);
        let mut buf = vec![];
        let _ = s.read_to_end(&mut buf);
        Reply::parse(&buf)
    }

    pub fn stop(mut self) -> (Option<i32>, Vec<String>) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let t = Instant::now();
        let code = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st.code();
            }
            assert!(t.elapsed() < Duration::from_secs(20), "pki serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(100));
        (code, self.log.lock().unwrap().clone())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn parse(buf: &[u8]) -> Reply {
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(buf.len());
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut lines = head.lines();
        let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Reply { status, headers, body: buf.get(end + 4..).unwrap_or_default().to_vec() }
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
