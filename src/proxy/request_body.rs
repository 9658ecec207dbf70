//! A client's request body, held without copying: the chunks hyper read off the socket,
//! kept as they are (reference-counted slices of its read buffer). The proxy needs the
//! whole body before the first attempt — to retry it elsewhere — but never needs it in one
//! piece: it is sent upstream chunk by chunk (with its exact length, so the upstream sees
//! `content-length`, not chunked encoding), cloned for each attempt by reference counts,
//! and only made contiguous for the rare paths that store it (the failure queue) or when
//! [`peek`](crate::proxy::peek) cannot decide from the last chunk.
//!
//! Collecting into one buffer cost a 75 KB copy per Claude Code turn — a quarter of the
//! daemon's instructions per request in a callgrind profile.

use std::borrow::Cow;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("request body exceeds the proxy's limit of {0} bytes")]
    TooLarge(usize),
    #[error("could not read the request body: {0}")]
    Broken(String),
}

/// The chunks of one request body, in order.
#[derive(Clone, Default, Debug)]
pub struct RequestBody {
    chunks: Arc<[Bytes]>,
    len: usize,
}

impl From<Bytes> for RequestBody {
    fn from(b: Bytes) -> Self {
        let len = b.len();
        Self {
            chunks: Arc::from([b]),
            len,
        }
    }
}

impl RequestBody {
    /// Read a whole body, refusing it once past `max` bytes. A body whose declared length
    /// is too large is still read up to the limit, not refused before a byte is read: a
    /// client that is still sending when the connection closes sees a broken pipe instead
    /// of the 413.
    pub async fn read<B>(mut body: B, max: usize) -> Result<Self, ReadError>
    where
        B: Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let mut chunks = Vec::with_capacity(4);
        let mut len = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ReadError::Broken(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                len += data.len();
                if len > max {
                    return Err(ReadError::TooLarge(max));
                }
                if !data.is_empty() {
                    chunks.push(data);
                }
            }
        }
        Ok(Self {
            chunks: chunks.into(),
            len,
        })
    }

    /// A body made of these chunks (empty ones included).
    pub fn from_chunks(chunks: Vec<Bytes>) -> Self {
        let len = chunks.iter().map(Bytes::len).sum();
        Self {
            chunks: chunks.into(),
            len,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The last chunk (the end of the body), or nothing.
    pub fn last_chunk(&self) -> &[u8] {
        self.chunks.last().map_or(&[], |b| b)
    }

    /// The chunks, in order (shared slices).
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    /// Whether the body is held in one piece (then [`contiguous`](Self::contiguous) is free).
    pub fn is_single(&self) -> bool {
        self.chunks.len() <= 1
    }

    /// The whole body in one slice: borrowed when it is one chunk, copied otherwise.
    pub fn contiguous(&self) -> Cow<'_, [u8]> {
        match &*self.chunks {
            [] => Cow::Borrowed(&[]),
            [one] => Cow::Borrowed(one),
            many => {
                let mut buf = Vec::with_capacity(self.len);
                for c in many {
                    buf.extend_from_slice(c);
                }
                Cow::Owned(buf)
            }
        }
    }

    /// A body to send upstream: the same chunks (shared, not copied), with the exact
    /// length, so that it goes out with `content-length`.
    pub fn outgoing(&self) -> Outgoing {
        Outgoing {
            chunks: self.chunks.clone(),
            next: 0,
            left: self.len as u64,
        }
    }
}

/// [`RequestBody`] as an outgoing `http_body::Body`.
pub struct Outgoing {
    chunks: Arc<[Bytes]>,
    next: usize,
    left: u64,
}

impl Body for Outgoing {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let Some(chunk) = self.chunks.get(self.next).cloned() else {
            return Poll::Ready(None);
        };
        self.next += 1;
        self.left -= chunk.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};

    fn chunked(
        parts: &[&'static [u8]],
    ) -> StreamBody<
        impl futures_util::Stream<Item = Result<Frame<Bytes>, std::convert::Infallible>> + Unpin,
    > {
        let frames: Vec<_> = parts
            .iter()
            .map(|p| Ok(Frame::data(Bytes::from_static(p))))
            .collect();
        StreamBody::new(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn keeps_chunks_and_sends_them_with_the_exact_length() {
        let body = RequestBody::read(chunked(&[b"{\"a\":", b"", b"1}"]), 100)
            .await
            .unwrap();
        assert_eq!(body.len(), 7);
        assert!(!body.is_single());
        assert_eq!(body.last_chunk(), b"1}");
        assert_eq!(&*body.contiguous(), b"{\"a\":1}");
        let out = body.outgoing();
        assert_eq!(out.size_hint().exact(), Some(7));
        let sent = out.collect().await.unwrap().to_bytes();
        assert_eq!(&sent[..], b"{\"a\":1}");
    }

    #[tokio::test]
    async fn refuses_bodies_past_the_limit() {
        let err = RequestBody::read(chunked(&[b"12345", b"6789"]), 8)
            .await
            .unwrap_err();
        assert!(matches!(err, ReadError::TooLarge(8)));
        let err = RequestBody::read(Full::new(Bytes::from_static(b"123456789")), 8)
            .await
            .unwrap_err();
        assert!(matches!(err, ReadError::TooLarge(8)));
        let ok = RequestBody::read(Full::new(Bytes::from_static(b"12345678")), 8)
            .await
            .unwrap();
        assert!(ok.is_single());
        assert_eq!(&*ok.contiguous(), b"12345678");
    }
}
