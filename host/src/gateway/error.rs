//! Every way a gateway request fails, each with its status and a body
//! naming the layer that refused it (never a secret, a signature or
//! whether a routine exists to someone who could not prove who they are).

/// Why the gateway refused or failed a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// No such route.
    #[error("no such endpoint")]
    NotFound,
    /// The route exists for another method.
    #[error("this endpoint accepts {0} only")]
    Method(http::Method),
    /// The body is larger than the gateway accepts.
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// The request could not be verified (the detail is audited, not
    /// answered).
    #[error("the request could not be verified")]
    Unverified,
    /// The body did not arrive in time or broke off.
    #[error("the request body could not be read: {0}")]
    BadBody(String),
    /// The store did not answer.
    #[error("the store is unavailable: {0}")]
    Store(String),
    /// No credentials, or ones that belong to nobody (the token itself is
    /// never repeated).
    #[error(
        "sign in first: `Authorization: Bearer claw_…` (`claw user add NAME` makes a token), or the web chat's login"
    )]
    Unauthenticated,
    /// A sign-in whose name and password (or token) match no user.
    #[error("the name and password (or the token) do not match a user")]
    BadLogin,
    /// The request is well formed HTTP but not what the endpoint takes.
    #[error("{0}")]
    Invalid(String),
    /// The agent's turn ended with an error.
    #[error("{0}")]
    Agent(String),
    /// The turn did not end in time (it goes on; its job says how).
    #[error("{0}")]
    Timeout(String),
    /// Too many requests from one address or user.
    #[error("more than {per_minute} requests a minute; try again in {retry_after_s} s")]
    RateLimited {
        /// The limit.
        per_minute: u32,
        /// When one is free again.
        retry_after_s: u64,
    },
    /// Signed in, but this request is not allowed (a change without the
    /// session's CSRF token, or from another origin).
    #[error("{0}")]
    Forbidden(String),
    /// Every place for a turn is taken.
    #[error("the gateway is running {0} agent turns at once, its limit; try again shortly")]
    Busy(usize),
}

impl GatewayError {
    /// The HTTP status.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            GatewayError::NotFound => S::NOT_FOUND,
            GatewayError::Method(_) => S::METHOD_NOT_ALLOWED,
            GatewayError::TooLarge(_) => S::PAYLOAD_TOO_LARGE,
            GatewayError::Unverified => S::UNAUTHORIZED,
            GatewayError::BadBody(_) => S::BAD_REQUEST,
            GatewayError::Store(_) => S::SERVICE_UNAVAILABLE,
            GatewayError::Unauthenticated | GatewayError::BadLogin => S::UNAUTHORIZED,
            GatewayError::Invalid(_) => S::BAD_REQUEST,
            GatewayError::Agent(_) => S::BAD_GATEWAY,
            GatewayError::Timeout(_) => S::GATEWAY_TIMEOUT,
            GatewayError::RateLimited { .. } => S::TOO_MANY_REQUESTS,
            GatewayError::Busy(_) => S::SERVICE_UNAVAILABLE,
            GatewayError::Forbidden(_) => S::FORBIDDEN,
        }
    }

    /// The `Retry-After` to send with it, in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            GatewayError::RateLimited { retry_after_s, .. } => Some(*retry_after_s),
            GatewayError::Busy(_) => Some(1),
            _ => None,
        }
    }

    /// Which layer refused it, for the body.
    pub fn layer(&self) -> &'static str {
        match self {
            GatewayError::NotFound | GatewayError::Method(_) => "route",
            GatewayError::TooLarge(_) | GatewayError::BadBody(_) => "body",
            GatewayError::Unverified => "verification",
            GatewayError::Store(_) => "queue",
            GatewayError::Unauthenticated | GatewayError::BadLogin => "authentication",
            GatewayError::Forbidden(_) => "csrf",
            GatewayError::Invalid(_) => "request",
            GatewayError::Agent(_) | GatewayError::Timeout(_) => "agent",
            GatewayError::RateLimited { .. } | GatewayError::Busy(_) => "limits",
        }
    }

    /// OpenAI's `type` for it, so the API's clients read the error as
    /// they read OpenAI's.
    pub fn kind(&self) -> &'static str {
        match self {
            GatewayError::Unverified | GatewayError::Unauthenticated | GatewayError::BadLogin => "authentication_error",
            GatewayError::Forbidden(_) => "permission_error",
            GatewayError::Store(_) | GatewayError::Agent(_) | GatewayError::Timeout(_) | GatewayError::Busy(_) => {
                "server_error"
            }
            GatewayError::RateLimited { .. } => "rate_limit_error",
            _ => "invalid_request_error",
        }
    }

    /// The JSON body, OpenAI's error shape with the layer that refused:
    /// `{"error": {"message", "type", "param", "code", "layer"}}`.
    pub fn body(&self) -> String {
        let code = match self {
            GatewayError::Unauthenticated => serde_json::json!("invalid_api_key"),
            GatewayError::NotFound => serde_json::json!("not_found"),
            _ => serde_json::Value::Null,
        };
        serde_json::json!({"error": {"message": self.to_string(), "type": self.kind(), "param": null, "code": code,
            "layer": self.layer()}})
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_own_status_and_names_its_layer() {
        let all = [
            (GatewayError::NotFound, 404, "route"),
            (GatewayError::Method(http::Method::POST), 405, "route"),
            (GatewayError::TooLarge(10), 413, "body"),
            (GatewayError::Unverified, 401, "verification"),
            (GatewayError::BadBody("cut".into()), 400, "body"),
            (GatewayError::Store("down".into()), 503, "queue"),
            (GatewayError::Unauthenticated, 401, "authentication"),
            (GatewayError::BadLogin, 401, "authentication"),
            (GatewayError::Invalid("no messages".into()), 400, "request"),
            (GatewayError::Agent("the LLM failed".into()), 502, "agent"),
            (GatewayError::Timeout("still running".into()), 504, "agent"),
            (GatewayError::RateLimited { per_minute: 5, retry_after_s: 9 }, 429, "limits"),
            (GatewayError::Busy(4), 503, "limits"),
            (GatewayError::Forbidden("no csrf".into()), 403, "csrf"),
        ];
        for (e, status, layer) in all {
            assert_eq!(e.status().as_u16(), status, "{e}");
            let body: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
            assert_eq!(body["error"]["layer"], layer);
            assert!(body["error"]["type"].as_str().is_some_and(|t| t.ends_with("_error")), "OpenAI's shape: {body}");
        }
    }
}
