//! The optional diemcau-specific calls (`--diemcau`): put a session live
//! and move the floor over REST with the chair's token. Media still flows
//! only over WHIP and WHEP.

use crate::error::LoadError;
use crate::http::Server;
use crate::whip::bearer;

/// The chair's REST console for one session.
pub struct Console {
    server: Server,
    session: String,
    auth: String,
}

impl Console {
    /// A console for `session`, acting with `chair_token`.
    pub fn new(server: Server, session: &str, chair_token: &str) -> Console {
        Console {
            server,
            session: session.to_string(),
            auth: bearer(Some(chair_token)).unwrap_or_default(),
        }
    }

    async fn post(&self, route: &str, body: Option<String>) -> Result<(u16, String), LoadError> {
        let path = self.server.path(route);
        let mut headers = vec![("Authorization", self.auth.as_str())];
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        let r = self
            .server
            .request("POST", &path, &headers, body.unwrap_or_default().as_bytes())
            .await?;
        Ok((r.status, r.text()))
    }

    /// Creates the session (or finds it made), opens it and starts it. A
    /// 409 means the session is already past that step, which is fine for
    /// a rerun against the same server.
    pub async fn make_live(&self) -> Result<(), LoadError> {
        let body = serde_json::json!({ "id": self.session, "title": "load generator run" });
        let steps = [
            ("/api/sessions".to_string(), Some(body.to_string())),
            (format!("/api/sessions/{}/open", self.session), None),
            (format!("/api/sessions/{}/start", self.session), None),
        ];
        for (route, body) in steps {
            let (status, text) = self.post(&route, body).await?;
            if !(200..300).contains(&status) && status != 409 {
                return Err(LoadError::Http(format!("POST {route}: {status} {text}")));
            }
        }
        Ok(())
    }

    /// Starts recording the programme (the server writes it to a file).
    pub async fn start_recording(&self) -> Result<(), LoadError> {
        let route = format!("/api/sessions/{}/recording/start", self.session);
        let (status, text) = self.post(&route, None).await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(LoadError::Http(format!("POST {route}: {status} {text}")))
        }
    }

    /// Calls on `code` ("grant the floor unasked").
    pub async fn grant(&self, code: &str) -> Result<(), LoadError> {
        let route = format!("/api/sessions/{}/floor/grant", self.session);
        let body = serde_json::json!({ "endpoint": code }).to_string();
        let (status, text) = self.post(&route, Some(body)).await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(LoadError::Http(format!("POST {route}: {status} {text}")))
        }
    }
}
