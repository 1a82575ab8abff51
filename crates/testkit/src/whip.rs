//! WHIP (RFC 9725) and WHEP signaling: one offer in, one answer out, and a
//! resource to delete at the end. Nothing server-specific, so the same load
//! can be pointed at any WHIP/WHEP server. [`post_offer`] is the client's
//! way (an answer or an error); [`post_sdp`] keeps whatever the server
//! said, for tests of its refusals.

use crate::error::Error;
use crate::http::Server;

/// A session created by a WHIP or WHEP POST, ended by a DELETE.
#[derive(Debug, Clone)]
pub struct Resource {
    server: Server,
    path: String,
    token: Option<String>,
}

/// The `Authorization` value for a token, if there is one.
pub fn bearer(token: Option<&str>) -> Option<String> {
    token.map(|t| format!("Bearer {t}"))
}

/// POSTs an SDP offer to `route` (e.g. `/whip/s1`) and returns the answer
/// and the resource, if the server named one in `Location`.
pub async fn post_offer(
    server: &Server,
    route: &str,
    token: Option<&str>,
    offer: &str,
) -> Result<(String, Option<Resource>), Error> {
    let auth = bearer(token);
    let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/sdp")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    let path = server.path(route);
    let r = server
        .request("POST", &path, &headers, offer.as_bytes())
        .await?;
    // RFC 9725 says 201; some servers answer 200, which we take as well.
    if r.status != 201 && r.status != 200 {
        return Err(Error::Http(format!(
            "POST {path}: {} {}",
            r.status,
            r.text().chars().take(300).collect::<String>()
        )));
    }
    let resource = match r.header("location") {
        Some(loc) => Some(Resource {
            server: server.clone(),
            path: server.location_path(loc)?,
            token: token.map(str::to_string),
        }),
        None => None,
    };
    let answer = r.text();
    if !answer.starts_with("v=0") {
        return Err(Error::Http(format!("POST {path}: the answer is not SDP")));
    }
    Ok((answer, resource))
}

impl Resource {
    /// Ends the session on the server.
    pub async fn delete(&self) -> Result<(), Error> {
        let auth = bearer(self.token.as_deref());
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let r = self
            .server
            .request("DELETE", &self.path, &headers, &[])
            .await?;
        if (200..300).contains(&r.status) {
            Ok(())
        } else {
            Err(Error::Http(format!("DELETE {}: {}", self.path, r.status)))
        }
    }
}

/// What a WHIP or WHEP `POST` returned.
#[derive(Debug, Clone)]
pub struct HttpSignaled {
    /// The status code.
    pub status: u16,
    /// The `Location` header, when given.
    pub location: Option<String>,
    /// The body: an SDP answer, or the JSON error.
    pub body: String,
}

/// Posts `offer` to `url` (`http://127.0.0.1:PORT/whip/ID` or `…/whep/ID`)
/// as `application/sdp`, with `token` as a bearer token when given, and
/// returns the answer whatever its status.
pub async fn post_sdp(url: &str, token: Option<&str>, offer: &str) -> Result<HttpSignaled, Error> {
    let server = Server::parse(url)?;
    let auth = bearer(token);
    let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/sdp")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    let r = server
        .request("POST", &server.path(""), &headers, offer.as_bytes())
        .await?;
    Ok(HttpSignaled {
        status: r.status,
        location: r.header("location").map(str::to_string),
        body: r.text(),
    })
}
