//! [`Map`]: the ordered stream of results of [`ProcessPool::map`].

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ExecError;
use crate::handle::Handle;
use crate::process::cell::Decode;
use crate::process::frame;
use crate::process::function::ProcessFn;
use crate::process::pool::{wrong_count, ProcessPool};

/// The results of one chunk.
type Chunk<R> = Vec<Result<R, ExecError>>;

/// Submits the next chunk of the input, or says the input is exhausted.
type NextChunk<R> = Box<dyn FnMut(&ProcessPool) -> Option<(usize, Handle<Chunk<R>>)> + Send>;

/// The results of [`ProcessPool::map`], in input order: a [`Stream`] of
/// `Result<R, ExecError>`, one per input item.
///
/// # Examples
///
/// ```
/// # use evloop_bridge::process::{ProcessFn, Registry};
/// # const SQUARE: ProcessFn<u64, u64> = ProcessFn::new("square", |x| x * x);
/// # fn functions() -> Registry { Registry::new().register(SQUARE) }
/// # evloop_bridge::process::init(functions);
/// # let pool = evloop_bridge::ProcessPool::builder(functions()).build()?;
/// // In async code: `pool.map(&SQUARE, 1..=3u64, 2).try_collect().await`.
/// assert_eq!(pool.map(&SQUARE, 1..=3u64, 2).wait(), Ok(vec![1, 4, 9]));
/// # Ok::<(), evloop_bridge::BuildError>(())
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct Map<R> {
    /// The pool the chunks go to.
    pool: ProcessPool,
    /// Pulls and submits the next chunk.
    next_chunk: NextChunk<R>,
    /// Chunks submitted and not yet yielded, in input order, with their item counts.
    in_flight: VecDeque<(usize, Handle<Chunk<R>>)>,
    /// Results of the chunk being yielded.
    ready: std::vec::IntoIter<Result<R, ExecError>>,
    /// Most chunks in flight.
    window: usize,
    /// Whether the input is exhausted.
    exhausted: bool,
}

impl<R: DeserializeOwned + Send + 'static> Map<R> {
    /// A stream over `items`, submitted `chunksize` at a time.
    pub(crate) fn new<A, I>(
        pool: ProcessPool,
        func: ProcessFn<A, R>,
        mut items: I,
        chunksize: usize,
    ) -> Self
    where
        A: Serialize + 'static,
        I: Iterator<Item = A> + Send + 'static,
    {
        let window = 2 * pool.max_workers();
        let next_chunk: NextChunk<R> = Box::new(move |pool: &ProcessPool| {
            let mut encoded = Ok(Vec::with_capacity(chunksize));
            let mut count = 0;
            for item in items.by_ref().take(chunksize) {
                count += 1;
                if let Ok(chunk) = &mut encoded {
                    match postcard::to_allocvec(&item) {
                        Ok(bytes) => chunk.push(bytes),
                        Err(error) => encoded = Err(error),
                    }
                }
            }
            if count == 0 {
                return None;
            }
            let name = func.name();
            let decode: Decode<Chunk<R>> = Box::new(move |payload| {
                let replies = frame::replies(payload)?;
                if replies.len() != count {
                    return Err(wrong_count(replies.len(), count));
                }
                Ok(replies
                    .into_iter()
                    .map(|reply| frame::outcome(reply, name))
                    .collect())
            });
            let timeout = None;
            Some((count, pool.submit_items(&func, encoded, decode, timeout)))
        });
        Map {
            pool,
            next_chunk,
            in_flight: VecDeque::new(),
            ready: Vec::new().into_iter(),
            window,
            exhausted: false,
        }
    }
}

impl<R> Map<R> {
    /// Submits chunks until the window is full or the input exhausted.
    fn top_up(&mut self) {
        while !self.exhausted && self.in_flight.len() < self.window {
            match (self.next_chunk)(&self.pool) {
                Some(chunk) => self.in_flight.push_back(chunk),
                None => self.exhausted = true,
            }
        }
    }

    /// The results of a finished chunk, its error repeated for each item if it failed whole.
    fn unpack(
        count: usize,
        outcome: Result<Chunk<R>, ExecError>,
    ) -> std::vec::IntoIter<Result<R, ExecError>> {
        match outcome {
            Ok(results) => results.into_iter(),
            Err(error) => (0..count)
                .map(|_| Err(error.clone()))
                .collect::<Vec<_>>()
                .into_iter(),
        }
    }

    /// Collects every result, blocking this thread (not for an event loop: await
    /// [`try_collect`](Self::try_collect) there).
    ///
    /// # Errors
    ///
    /// The first item's error, in input order; the remaining chunks still run, unwaited.
    pub fn wait(mut self) -> Result<Vec<R>, ExecError> {
        let mut results = Vec::new();
        loop {
            for result in self.ready.by_ref() {
                results.push(result?);
            }
            self.top_up();
            let Some((count, handle)) = self.in_flight.pop_front() else {
                return Ok(results);
            };
            self.ready = Self::unpack(count, handle.wait());
        }
    }

    /// Collects every result: a future for async code.
    ///
    /// # Errors
    ///
    /// The first item's error, in input order.
    pub fn try_collect(mut self) -> impl Future<Output = Result<Vec<R>, ExecError>> + Send
    where
        R: Send + 'static,
    {
        let mut results = Vec::new();
        poll_fn(move |cx| loop {
            match Pin::new(&mut self).poll_next(cx) {
                Poll::Ready(Some(Ok(result))) => results.push(result),
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Err(error)),
                Poll::Ready(None) => return Poll::Ready(Ok(std::mem::take(&mut results))),
                Poll::Pending => return Poll::Pending,
            }
        })
    }
}

// `Map` never pins its fields: the handles it polls are `Unpin`.
impl<R> Unpin for Map<R> {}

impl<R> Stream for Map<R> {
    type Item = Result<R, ExecError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(result) = this.ready.next() {
                return Poll::Ready(Some(result));
            }
            this.top_up();
            let Some((count, handle)) = this.in_flight.front_mut() else {
                return Poll::Ready(None);
            };
            let count = *count;
            match Pin::new(handle).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(outcome) => {
                    this.in_flight.pop_front();
                    this.ready = Self::unpack(count, outcome);
                }
            }
        }
    }
}

impl<R> fmt::Debug for Map<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("chunks_in_flight", &self.in_flight.len())
            .field("exhausted", &self.exhausted)
            .finish_non_exhaustive()
    }
}
