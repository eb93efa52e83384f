//! docker's JSON-lines progress replies (pull, push, build, load) streamed
//! while the work runs: the work goes to a thread of its own and each
//! message it emits reaches the client as it comes, not collected until the
//! end. The reply's status waits for the first message, so a failure before
//! any progress can still be an error status (a pull's 404).

use crate::error::ApiError;
use crate::reply::Reply;
use serde_json::{json, Value};
use std::io::Write;
use std::sync::mpsc;

/// Messages held between the work and a slow client before the work waits.
const IN_FLIGHT: usize = 256;

enum Step {
    Message(Value),
    /// The work ended, with its error's text when it failed.
    Done(Option<String>),
}

/// docker's error message in a progress stream.
pub fn error_message(message: &str) -> Value {
    json!({ "errorDetail": { "message": message }, "error": message })
}

/// Run `work` on a thread of its own and stream the messages it emits as
/// JSON lines. When it fails before its first message, `refuse` may turn the
/// failure into an error status instead; otherwise the failure is the
/// stream's last message, as docker sends it.
pub fn stream<W, R>(work: W, refuse: R) -> Result<Reply, ApiError>
where
    W: FnOnce(&(dyn Fn(Value) + Sync)) -> Result<(), String> + Send + 'static,
    R: FnOnce(&str) -> Option<ApiError>,
{
    let (sender, steps) = mpsc::sync_channel(IN_FLIGHT);
    std::thread::spawn(move || {
        // A send fails only once the client has gone; the work still ends
        // normally (a half-pulled image is left complete, not torn).
        let emit = |message: Value| {
            let _ = sender.send(Step::Message(message));
        };
        let outcome = work(&emit);
        let _ = sender.send(Step::Done(outcome.err()));
    });
    let first = steps
        .recv()
        .map_err(|_| ApiError::internal("the operation ended without a result"))?;
    if let Step::Done(Some(message)) = &first {
        if let Some(error) = refuse(message) {
            return Err(error);
        }
    }
    Ok(Reply::stream("application/json", move |out| {
        let mut step = first;
        loop {
            match step {
                Step::Message(message) => write_line(out, &message)?,
                Step::Done(None) => return Ok(()),
                Step::Done(Some(message)) => return write_line(out, &error_message(&message)),
            }
            step = match steps.recv() {
                Ok(step) => step,
                Err(_) => return Ok(()),
            };
        }
    }))
}

fn write_line(out: &mut dyn Write, message: &Value) -> std::io::Result<()> {
    let mut line = message.to_string().into_bytes();
    line.push(b'\n');
    out.write_all(&line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::StatusCode;

    /// The streamed body's bytes, written by the reply's producer.
    fn body(reply: Reply) -> String {
        let Reply::Stream { produce, .. } = reply else {
            panic!("not a stream")
        };
        let (sender, mut receiver) = tokio::sync::mpsc::channel(16);
        let writer = std::thread::spawn(move || {
            let mut out = crate::reply::StreamWriter { sender };
            produce(&mut out)
        });
        let mut text = Vec::new();
        while let Some(chunk) = receiver.blocking_recv() {
            text.extend_from_slice(&chunk);
        }
        writer.join().unwrap().unwrap();
        String::from_utf8(text).unwrap()
    }

    #[test]
    fn a_message_reaches_the_client_before_the_work_ends() {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let reply = stream(
            move |emit| {
                emit(json!({ "status": "first" }));
                wait.recv().map_err(|e| e.to_string())?;
                emit(json!({ "status": "second" }));
                Ok(())
            },
            |_| None,
        )
        .unwrap();
        // The reply exists while the work still waits: nothing was buffered
        // until the end.
        release.send(()).unwrap();
        assert_eq!(
            body(reply),
            "{\"status\":\"first\"}\n{\"status\":\"second\"}\n"
        );
    }

    #[test]
    fn a_failure_before_any_message_may_be_an_error_status() {
        let refused = stream(
            |_| Err("manifest unknown".into()),
            |message| Some(ApiError::new(StatusCode::NOT_FOUND, message)),
        );
        let Err(error) = refused else {
            panic!("a failure before any progress was streamed")
        };
        assert_eq!(error.status(), StatusCode::NOT_FOUND);
        let late = stream(
            |emit| {
                emit(json!({ "status": "Pulling" }));
                Err("layer broken".into())
            },
            |message| Some(ApiError::new(StatusCode::NOT_FOUND, message)),
        )
        .unwrap();
        let text = body(late);
        assert!(
            text.ends_with("\"errorDetail\":{\"message\":\"layer broken\"}}\n"),
            "{text}"
        );
    }
}
