//! The wire format between a pool and its workers: length-prefixed frames with a kind and a
//! job id, whose payloads are `postcard`-encoded envelopes.
//!
//! ```text
//! [length: u32 LE][kind: u8][job id: u64 LE][payload: length - 9 bytes]
//! ```
//!
//! `length` counts the bytes after itself (kind, job id and payload), so a reader needs the
//! four length bytes to know how much more to read. A frame whose length is below 9 or above
//! the pool's maximum frame size is a protocol error: the reader stops trusting the stream.
//!
//! | kind | direction | job id | payload |
//! |---|---|---|---|
//! | [`HELLO`] | worker → parent | 0 | [`Hello`]: protocol version, registry fingerprint, pid, generation |
//! | [`CALL`] | parent → worker | the job's | [`Call`]: function name, encoded argument per item |
//! | [`REPLY`] | worker → parent | the job's | one [`Reply`] per item of the call |

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ExecError;

/// The protocol version, part of the handshake and of every registry fingerprint.
pub(crate) const PROTOCOL: u32 = 1;

/// Bytes of the kind and job id, counted by the length field.
const KIND_AND_ID: usize = 1 + 8;

/// A worker's first frame.
pub(crate) const HELLO: u8 = 1;
/// A call of a registered function, on one item or a chunk of items.
pub(crate) const CALL: u8 = 2;
/// The outcomes of a call, one per item.
pub(crate) const REPLY: u8 = 3;

/// The payload of a [`HELLO`] frame.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Hello {
    /// The worker's [`PROTOCOL`].
    pub(crate) protocol: u32,
    /// The fingerprint of the worker's registry.
    pub(crate) fingerprint: u64,
    /// The worker's process id, as it sees it.
    pub(crate) pid: u32,
    /// The generation the pool gave the worker when it started it.
    pub(crate) generation: u64,
}

/// The payload of a [`CALL`] frame.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Call<'a> {
    /// The registered name of the function.
    #[serde(borrow)]
    pub(crate) func: &'a str,
    /// Each item's `postcard`-encoded argument: the function runs once per item.
    #[serde(borrow)]
    pub(crate) items: Vec<Bytes<'a>>,
}

/// The outcome of one item of a call, in a [`REPLY`] frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Reply<'a> {
    /// The function returned; its `postcard`-encoded result.
    #[serde(borrow)]
    Ok(Bytes<'a>),
    /// The function panicked with this message.
    Panicked(String),
    /// The worker's registry has no function of this name.
    UnknownFunction(String),
    /// The argument did not decode in the worker.
    BadArgs(String),
    /// The result did not encode in the worker.
    BadResult(String),
    /// The reply would have exceeded the maximum frame size.
    TooLarge {
        /// The reply's size in bytes.
        bytes: u64,
        /// The maximum frame size.
        limit: u64,
    },
}

/// A byte string, (de)serialized as `postcard` bytes (a length and the raw bytes) and
/// borrowed from the frame when decoding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bytes<'a>(pub(crate) &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a [u8]>::deserialize(deserializer).map(Bytes)
    }
}

impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

/// A frame read from a stream, borrowing its payload.
#[derive(Debug)]
pub(crate) struct Frame<'a> {
    /// [`HELLO`], [`CALL`] or [`REPLY`].
    pub(crate) kind: u8,
    /// The job the frame belongs to (0 for a hello or the initializer's call).
    pub(crate) job: u64,
    /// The `postcard`-encoded envelope.
    pub(crate) payload: &'a [u8],
}

/// Appends a frame to `out`, its payload the `postcard` encoding of `envelope`.
///
/// # Errors
///
/// The encoder's message if `envelope` does not encode (a `serde` implementation refused).
pub(crate) fn push<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    kind: u8,
    job: u64,
    envelope: &T,
) -> Result<(), String> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(kind);
    out.extend_from_slice(&job.to_le_bytes());
    let encoded = postcard::to_extend(envelope, std::mem::take(out));
    *out = encoded.map_err(|error| {
        error.to_string() // `out` was taken: the caller discards it on error
    })?;
    let length = u32::try_from(out.len() - start - 4).map_err(|_| "frame over 4 GiB".to_owned())?;
    out[start..start + 4].copy_from_slice(&length.to_le_bytes());
    Ok(())
}

/// The length a frame starting at `buf` announces (bytes after the length field), once its
/// four length bytes are there.
fn announced(buf: &[u8]) -> Option<usize> {
    let bytes: [u8; 4] = buf.get(..4)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes) as usize)
}

/// Reads the frame at the start of `buf`: `Ok(None)` if it is not complete yet, otherwise the
/// frame and the bytes it used.
///
/// # Errors
///
/// A protocol error if the announced length is below the header's or above `max_frame`.
pub(crate) fn parse(buf: &[u8], max_frame: usize) -> Result<Option<(Frame<'_>, usize)>, String> {
    let Some(length) = announced(buf) else {
        return Ok(None);
    };
    check_length(length, max_frame)?;
    let Some(body) = buf.get(4..4 + length) else {
        return Ok(None);
    };
    let job = u64::from_le_bytes(body[1..KIND_AND_ID].try_into().expect("8 bytes"));
    let frame = Frame {
        kind: body[0],
        job,
        payload: &body[KIND_AND_ID..],
    };
    Ok(Some((frame, 4 + length)))
}

/// Checks a frame's announced length against the header size and `max_frame`.
///
/// # Errors
///
/// The protocol error to report.
pub(crate) fn check_length(length: usize, max_frame: usize) -> Result<(), String> {
    if length < KIND_AND_ID {
        return Err(format!(
            "a frame announced {length} bytes, fewer than its own header: the stream is corrupt"
        ));
    }
    if length + 4 > max_frame {
        return Err(format!(
            "a frame announced {} bytes, over the maximum frame size of {max_frame} bytes",
            length + 4
        ));
    }
    Ok(())
}

/// Decodes a [`REPLY`] payload.
///
/// # Errors
///
/// [`ExecError::Protocol`] if the payload is not a list of replies.
pub(crate) fn replies(payload: &[u8]) -> Result<Vec<Reply<'_>>, ExecError> {
    postcard::from_bytes(payload).map_err(|error| {
        ExecError::Protocol(format!(
            "a worker's reply did not decode ({error}): the worker was replaced"
        ))
    })
}

/// The outcome of one item from its [`Reply`], decoding the result as `R`.
pub(crate) fn outcome<R: DeserializeOwned>(reply: Reply<'_>, func: &str) -> Result<R, ExecError> {
    match reply {
        Reply::Ok(bytes) => postcard::from_bytes(bytes.0).map_err(|error| {
            ExecError::Serialization(format!(
                "the result of {func:?} did not decode in the parent ({error}); are the result \
                 type's serde implementations symmetric?"
            ))
        }),
        Reply::Panicked(message) => Err(ExecError::Panicked(message)),
        Reply::UnknownFunction(name) => Err(ExecError::UnknownFunction(format!(
            "the worker has no function registered as {name:?}"
        ))),
        Reply::BadArgs(error) => Err(ExecError::Serialization(format!(
            "the argument of {func:?} did not decode in the worker ({error})"
        ))),
        Reply::BadResult(error) => Err(ExecError::Serialization(format!(
            "the result of {func:?} did not encode in the worker ({error})"
        ))),
        Reply::TooLarge { bytes, limit } => Err(ExecError::TooLarge {
            bytes: bytes as usize,
            limit: limit as usize,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_round_trips_and_announces_its_length() {
        let mut out = Vec::new();
        let call = Call {
            func: "square",
            items: vec![Bytes(&[7]), Bytes(&[1, 2])],
        };
        push(&mut out, CALL, 42, &call).unwrap();
        assert_eq!(announced(&out), Some(out.len() - 4));
        for cut in 0..out.len() {
            assert!(parse(&out[..cut], 1 << 20).unwrap().is_none(), "cut {cut}");
        }
        let (frame, used) = parse(&out, 1 << 20).unwrap().unwrap();
        assert_eq!((frame.kind, frame.job, used), (CALL, 42, out.len()));
        let decoded: Call<'_> = postcard::from_bytes(frame.payload).unwrap();
        assert_eq!(decoded.func, "square");
        assert_eq!(decoded.items, vec![Bytes(&[7]), Bytes(&[1, 2])]);
    }

    #[test]
    fn lengths_below_the_header_or_above_the_limit_are_refused() {
        let short = [3, 0, 0, 0, CALL, 0, 0];
        assert!(parse(&short, 1 << 20).unwrap_err().contains("corrupt"));
        let long = [0xff, 0xff, 0xff, 0x7f];
        assert!(parse(&long, 1 << 20)
            .unwrap_err()
            .contains("maximum frame size"));
    }

    #[test]
    fn bytes_encode_like_a_postcard_byte_string() {
        let raw: Vec<u8> = vec![1, 2, 3];
        let ours = postcard::to_allocvec(&Bytes(&raw)).unwrap();
        let theirs = postcard::to_allocvec(&raw).unwrap();
        assert_eq!(ours, theirs);
    }
}
