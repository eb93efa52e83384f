//! The API's error: an HTTP status and docker's body `{"message": "…"}`.
//! Errors of the core and the engine map to docker's status codes (404 for
//! a missing object, 409 for a conflict, 400 for bad input, 500 otherwise)
//! and keep their source.

use hyper::StatusCode;
use wharf_app::AppError;
use wharf_engine_api::EngineError;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A failed request, as docker answers it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    status: StatusCode,
    message: String,
    #[source]
    source: Option<BoxError>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            source: None,
        }
    }

    /// 400: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 with docker's wording for a missing object of `kind`.
    pub fn no_such(kind: &str, name: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("No such {kind}: {name}"))
    }

    /// 409: the object is in a state that forbids the request.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 500: wharf failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// 501: an endpoint wharf does not serve (yet).
    pub fn not_implemented(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("{what} is not implemented"),
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// docker's error body.
    pub fn body(&self) -> String {
        serde_json::json!({ "message": self.message }).to_string()
    }

    fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

/// The status docker gives an engine error.
fn engine_status(error: &EngineError) -> StatusCode {
    match error {
        EngineError::NotFound { .. } => StatusCode::NOT_FOUND,
        EngineError::Conflict { .. } => StatusCode::CONFLICT,
        EngineError::Invalid(_) | EngineError::InvalidSpec { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// docker's message for a missing object (its clients look for `No such`).
fn engine_message(error: &EngineError) -> String {
    match error {
        EngineError::NotFound { kind, name, .. } if *kind == "container" || *kind == "image" => {
            format!("No such {kind}: {name}")
        }
        other => wharf_app::error_chain(other),
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        ApiError::new(engine_status(&error), engine_message(&error)).with_source(error)
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        let (status, message) = match &error {
            AppError::Engine { source, .. } => match source {
                EngineError::NotFound { .. } => (StatusCode::NOT_FOUND, engine_message(source)),
                other => (engine_status(other), wharf_app::error_chain(&error)),
            },
            AppError::EngineRefused(source) => (engine_status(source), engine_message(source)),
            AppError::NoSuchObject { .. } => (StatusCode::NOT_FOUND, error.to_string()),
            AppError::NetworkCreate(wharf_app::networks::CreateError::Exists(_)) => {
                (StatusCode::CONFLICT, error.to_string())
            }
            AppError::Filter(_)
            | AppError::NetworkCreate(_)
            | AppError::LogFlag(_)
            | AppError::PullPolicy(_) => (StatusCode::BAD_REQUEST, error.to_string()),
            AppError::NameInUse { .. } | AppError::ContainerNotRunning(_) => {
                (StatusCode::CONFLICT, error.to_string())
            }
            AppError::InvalidName(_)
            | AppError::Flag(_)
            | AppError::Unsupported { .. }
            | AppError::Refused(_)
            | AppError::Copy(_) => (StatusCode::BAD_REQUEST, error.to_string()),
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                wharf_app::error_chain(&error),
            ),
        };
        ApiError::new(status, message).with_source(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_dockers_message_object() {
        let error = ApiError::no_such("container", "web");
        assert_eq!(error.status(), StatusCode::NOT_FOUND);
        assert_eq!(error.body(), r#"{"message":"No such container: web"}"#);
    }

    #[test]
    fn engine_errors_get_dockers_status_codes() {
        let missing = ApiError::from(EngineError::NotFound {
            kind: "container",
            name: "web".into(),
            hint: String::new(),
        });
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.to_string(), "No such container: web");
        let taken = ApiError::from(EngineError::Conflict {
            kind: "network",
            name: "front".into(),
        });
        assert_eq!(taken.status(), StatusCode::CONFLICT);
        assert_eq!(
            ApiError::from(EngineError::Invalid("bad".into())).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            ApiError::from(EngineError::Unavailable("down".into())).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn app_errors_keep_their_source_and_map_the_engines_status() {
        let error = ApiError::from(AppError::Engine {
            context: "starting web".into(),
            source: EngineError::NotFound {
                kind: "container",
                name: "web".into(),
                hint: String::new(),
            },
        });
        assert_eq!(error.status(), StatusCode::NOT_FOUND);
        assert!(std::error::Error::source(&error).is_some());
        let in_use = ApiError::from(AppError::NameInUse {
            name: "web".into(),
            id: "abc".into(),
        });
        assert_eq!(in_use.status(), StatusCode::CONFLICT);
    }
}
