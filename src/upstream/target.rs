//! Where an endpoint is: its base URL, parsed once into the parts every request's URI
//! reuses. (Its credential is `keys`.)

use bytes::Bytes;
use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};

/// An endpoint's base URL, split once into the parts every request's URI reuses.
#[derive(Debug, Clone)]
pub struct BaseUrl {
    scheme: Scheme,
    authority: Authority,
    /// The base URL's own path without its trailing slash (often empty), kept as a prefix.
    prefix: String,
}

/// Why a base URL cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("{0}")]
    Invalid(String),
    #[error("not an absolute URL")]
    NotAbsolute,
    #[error("unsupported scheme {0} (use http or https)")]
    Scheme(String),
}

impl BaseUrl {
    /// Parse an `http`/`https` URL (normalised first, as a browser would).
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let normal = url::Url::parse(url).map_err(|e| UrlError::Invalid(e.to_string()))?;
        let uri: Uri = (normal.as_str().parse())
            .map_err(|e: http::uri::InvalidUri| UrlError::Invalid(e.to_string()))?;
        let parts = uri.into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else {
            return Err(UrlError::NotAbsolute);
        };
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(UrlError::Scheme(scheme.to_string()));
        }
        let prefix = normal.path().trim_end_matches('/').to_owned();
        Ok(Self {
            scheme,
            authority,
            prefix,
        })
    }

    /// The upstream URI for a request's path and query. Without a base path the request's
    /// own (already validated) path and query are reused as they are.
    pub fn uri_for(&self, path_and_query: Option<&PathAndQuery>) -> Result<Uri, http::Error> {
        let pq = match path_and_query {
            Some(pq) if self.prefix.is_empty() => pq.clone(),
            None if self.prefix.is_empty() => PathAndQuery::from_static("/"),
            pq => {
                let rest = pq.map_or("/", PathAndQuery::as_str);
                let mut joined = String::with_capacity(self.prefix.len() + rest.len());
                joined.push_str(&self.prefix);
                joined.push_str(rest);
                PathAndQuery::from_maybe_shared(Bytes::from(joined))?
            }
        };
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(pq)
            .build()
    }
}

impl BaseUrl {
    /// The base URL followed by `path` (which starts with `/`).
    pub fn join(&self, path: &str) -> Result<Uri, UrlError> {
        let pq = PathAndQuery::try_from(path).map_err(|e| UrlError::Invalid(e.to_string()))?;
        self.uri_for(Some(&pq))
            .map_err(|e| UrlError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_for_keeps_the_base_path_as_a_prefix() {
        let bases = [
            BaseUrl::parse("https://relay.example/api/").unwrap(),
            BaseUrl::parse("http://127.0.0.1:9").unwrap(),
        ];
        let pq = PathAndQuery::from_static("/v1/messages?beta=true");
        let uris: Vec<String> = bases
            .iter()
            .map(|b| b.uri_for(Some(&pq)).unwrap().to_string())
            .collect();
        assert_eq!(
            uris,
            [
                "https://relay.example/api/v1/messages?beta=true",
                "http://127.0.0.1:9/v1/messages?beta=true"
            ]
        );
        let models = PathAndQuery::from_static("/v1/models");
        assert_eq!(
            bases[1].uri_for(Some(&models)).unwrap().to_string(),
            "http://127.0.0.1:9/v1/models"
        );
        assert_eq!(
            bases[0].uri_for(None).unwrap().to_string(),
            "https://relay.example/api/"
        );
    }

    #[test]
    fn join_appends_a_path() {
        let b = BaseUrl::parse("https://open.example/api/paas/v4").unwrap();
        assert_eq!(
            b.join("/chat/completions").unwrap().to_string(),
            "https://open.example/api/paas/v4/chat/completions"
        );
        assert!(b.join("/a b").is_err());
    }

    #[test]
    fn base_urls_must_be_absolute_http() {
        assert!(BaseUrl::parse("ftp://relay.example").is_err());
        assert!(BaseUrl::parse("relay.example/api").is_err());
        let b = BaseUrl::parse("https://relay.example/a%20b/").unwrap();
        assert_eq!(b.prefix, "/a%20b");
    }
}
