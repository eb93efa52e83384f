//! The dashboard in a real browser: headless Chromium driven through
//! chromedriver (WebDriver over HTTP on loopback) loads the overview and a
//! container page of a running stack, sees a log line written after the
//! page opened, presses the container's restart button, and edits and
//! previews (what `up` would recreate, and why) and redeploys the project's
//! Compose file from its page.

use crate::harness::{eventually, http_get, sandboxed, Sandbox};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const DASHBOARD: &str = "127.0.0.1:9324";
const DRIVER: &str = "127.0.0.1:9515";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Send one request to chromedriver; its status line and JSON body.
/// chromedriver keeps connections open, so the body is read by its length.
fn driver_request(method: &str, path: &str, body: &str) -> Option<(String, Value)> {
    let mut stream = std::net::TcpStream::connect(DRIVER).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {DRIVER}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut data = Vec::new();
    let mut chunk = [0u8; 65536];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let length: usize = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })?;
    while data.len() < head_end + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..n]);
    }
    let json = serde_json::from_slice(&data[head_end..head_end + length]).ok()?;
    Some((head.lines().next()?.to_string(), json))
}

/// One WebDriver command, which must succeed; the `value` of its answer.
fn webdriver(method: &str, path: &str, body: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let (status, answer) = driver_request(method, path, &body)
        .unwrap_or_else(|| panic!("{method} {path}: no answer from chromedriver"));
    assert!(
        status.contains(" 200 "),
        "{method} {path}: {status}\n{answer}"
    );
    answer["value"].clone()
}

struct Browser {
    session: String,
}

impl Browser {
    fn open(s: &Sandbox) -> Self {
        let profile = s.work.path().join("chromium-profile");
        let value = webdriver(
            "POST",
            "/session",
            Some(
                json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1280,900",
                             format!("--user-data-dir={}", profile.display())]
                }}}}),
            ),
        );
        Browser {
            session: value["sessionId"]
                .as_str()
                .expect("a session id")
                .to_string(),
        }
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        webdriver(method, &format!("/session/{}{path}", self.session), body)
    }

    fn go(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })));
    }

    fn source(&self) -> String {
        self.command("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn click(&self, css: &str) {
        let element = self.command(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        let id = element[ELEMENT].as_str().expect("an element").to_string();
        self.command("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine as _;
        let png = self.command("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 2000,
            "not a screenshot"
        );
        std::fs::write(path, bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| self.command("DELETE", "", None));
    }
}

/// The highest `tick-N` in `text`.
fn last_tick(text: &str) -> Option<u64> {
    text.split("tick-")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .max()
}

#[test]
fn browser_shows_the_stack_and_restarts_from_the_page() {
    if !std::path::Path::new("/usr/bin/chromedriver").exists() {
        eprintln!("skipped: chromium-driver is not installed (scripts/install-deps.sh)");
        return;
    }
    sandboxed(
        "dashboard_browser::browser_shows_the_stack_and_restarts_from_the_page",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "web",
                r#"
services:
  app:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; i=0; while :; do echo tick-$$i; i=$$((i+1)); sleep 1 & wait; done"]
  cache:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
"#,
            );
            s.ok(&dir, &["up", "-d"]);
            let _dashboard = Running(
                Command::new(env!("CARGO_BIN_EXE_wharf"))
                    .args(["dashboard", "--listen", DASHBOARD])
                    .env("WHARF_ROOT", s.root.path())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            let driver_log = s.work.path().join("chromedriver.log");
            let _driver = Running(
                Command::new("/usr/bin/chromedriver")
                    .arg("--port=9515")
                    .env("HOME", s.work.path())
                    .stdout(std::fs::File::create(&driver_log).unwrap())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            eventually("the dashboard", Duration::from_secs(30), || {
                http_get(DASHBOARD, "/metrics")
            });
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while driver_request("GET", "/status", "").is_none() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "chromedriver did not answer: {}",
                    std::fs::read_to_string(&driver_log).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            let browser = Browser::open(s);
            browser.go(&format!("http://{DASHBOARD}/"));
            let overview = browser.source();
            for name in ["web-app-1", "web-cache-1"] {
                assert!(overview.contains(name), "{name} not in\n{overview}");
            }
            assert!(overview.contains(">running<"), "{overview}");
            browser.screenshot(&s.work.path().join("overview.png"));

            browser.click(r#"tr[data-name="web-app-1"] a"#);
            let page = eventually("the container page", Duration::from_secs(30), || {
                Some(browser.source()).filter(|p| p.contains("<h1>web-app-1</h1>"))
            });
            let opened_at = last_tick(&page).expect("log lines on the container page");
            eventually(
                "a log line written after the page opened",
                Duration::from_secs(20),
                || last_tick(&browser.source()).filter(|n| *n >= opened_at + 2),
            );
            browser.screenshot(&s.work.path().join("container.png"));

            browser.click(r#"form[action$="/restart"] button"#);
            eventually(
                "the restart pressed in the page",
                Duration::from_secs(30),
                || {
                    let logs = s.ok(&dir, &["logs", "--no-log-prefix", "app"]);
                    (logs.lines().filter(|l| *l == "tick-0").count() >= 2).then_some(())
                },
            );
            eventually(
                "the container page after the restart",
                Duration::from_secs(30),
                || Some(browser.source()).filter(|p| p.contains("<h1>web-app-1</h1>")),
            );

            // Edit the Compose file in the project page, preview and redeploy it.
            browser.go(&format!("http://{DASHBOARD}/projects/web"));
            let edited = std::fs::read_to_string(dir.join("compose.yaml"))
                .unwrap()
                .replace(
                    "  cache:\n",
                    "    environment:\n      EDITED: \"yes\"\n  cache:\n",
                );
            browser.command(
                "POST",
                "/execute/sync",
                Some(json!({
                    "script": "document.querySelector('textarea[name=compose]').value = arguments[0];",
                    "args": [edited],
                })),
            );
            // The edit is previewed first: what up would do, and the diff.
            browser.click("form[action$=\"/preview\"] button");
            let preview = eventually("the preview", Duration::from_secs(60), || {
                Some(browser.source()).filter(|p| p.contains("<h1>Preview web</h1>"))
            });
            assert!(
                preview.contains("Container web-app-1  Recreate (environment changed)"),
                "{preview}"
            );
            assert!(
                preview.contains("Container web-cache-1  Running (unchanged)"),
                "{preview}"
            );
            assert!(
                preview
                    .lines()
                    .any(|l| l.contains("class=\"running\">+ ") && l.contains("EDITED")),
                "the diff shows the added variable: {preview}"
            );
            assert_ne!(
                std::fs::read_to_string(dir.join("compose.yaml")).unwrap(),
                edited,
                "a preview changed the file"
            );
            browser.screenshot(&s.work.path().join("preview.png"));
            browser.click("form[action$=\"/deploy\"] button");
            // The click may return before the POST's answer has loaded.
            let progress = eventually("the redeploy's answer", Duration::from_secs(60), || {
                Some(browser.source()).filter(|p| p.contains("<h1>Deploy web</h1>"))
            });
            assert!(
                progress.contains("Container web-app-1  Recreated (environment changed)"),
                "{progress}"
            );
            assert_eq!(
                std::fs::read_to_string(dir.join("compose.yaml")).unwrap(),
                edited
            );
            let env = s.ok(&dir, &["exec", "-T", "app", "sh", "-c", "echo $EDITED"]);
            assert_eq!(env.trim(), "yes");
            browser.screenshot(&s.work.path().join("deployed.png"));

            browser.go(&format!("http://{DASHBOARD}/projects/web/events"));
            let events = browser.source();
            assert!(
                events.contains("<td>start</td><td>app</td><td>web-app-1</td>"),
                "{events}"
            );
            browser.go(&format!("http://{DASHBOARD}/system"));
            let system = browser.source();
            assert!(system.contains("<td>Images</td><td>1</td>"), "{system}");
            drop(browser);
            s.ok(&dir, &["down"]);
        },
    );
}
