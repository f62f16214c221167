//! Registered functions: [`ProcessFn`], the typed reference a parent submits, and
//! [`Registry`], the table of them that parent and workers share by name.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::process::frame::PROTOCOL;

/// A function that may run in a worker process, named by a stable string: the typed
/// reference that [`ProcessPool::submit`](crate::ProcessPool::submit) takes.
///
/// Declare one as a `const` next to the function; the argument type `A` and the result type
/// `R` travel with it, so submitting an argument of the wrong type is a compile error in the
/// parent. Several arguments go in a tuple or a struct. Both types cross the process boundary
/// encoded with `postcard`, so they implement `serde`'s traits.
///
/// The name, not the function's address, identifies it in the worker: a worker looks the name
/// up in its [`Registry`], which is why every `ProcessFn` the pool calls must be registered
/// there (in the same executable, through [`init`](crate::process::init)).
///
/// # Examples
///
/// ```
/// use evloop_bridge::process::ProcessFn;
///
/// fn collatz_steps(mut n: u64) -> u32 {
///     let mut steps = 0;
///     while n > 1 {
///         n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
///         steps += 1;
///     }
///     steps
/// }
///
/// /// Submitted as `pool.submit(&COLLATZ, 27)`; `pool.submit(&COLLATZ, "27")` does not compile.
/// pub const COLLATZ: ProcessFn<u64, u32> = ProcessFn::new("collatz_steps", collatz_steps);
/// assert_eq!(COLLATZ.name(), "collatz_steps");
/// ```
pub struct ProcessFn<A, R> {
    /// The stable name the worker looks the function up by.
    name: &'static str,
    /// The function itself, called in the worker.
    func: fn(A) -> R,
    /// `ProcessFn` is `Send + Sync + Copy` whatever `A` and `R` are.
    _types: PhantomData<fn(A) -> R>,
}

impl<A, R> ProcessFn<A, R> {
    /// A reference to `func` under the stable `name`.
    ///
    /// Names are compared as plain strings: give each registered function its own (a path
    /// such as `"images::resize"` keeps them apart).
    pub const fn new(name: &'static str, func: fn(A) -> R) -> Self {
        ProcessFn {
            name,
            func,
            _types: PhantomData,
        }
    }

    /// The function's stable name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The signature recorded in the registry's fingerprint: the argument and result types.
    pub(crate) fn signature() -> (&'static str, &'static str) {
        (std::any::type_name::<A>(), std::any::type_name::<R>())
    }
}

impl<A, R> Clone for ProcessFn<A, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A, R> Copy for ProcessFn<A, R> {}

impl<A, R> fmt::Debug for ProcessFn<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (args, result) = Self::signature();
        write!(f, "ProcessFn({:?}: fn({args}) -> {result})", self.name)
    }
}

/// Why a registered function gave no encoded result (its panics are caught by the caller).
#[derive(Debug)]
pub(crate) enum CallError {
    /// The argument bytes did not decode to the function's argument type.
    BadArgs(String),
    /// The function's result could not be encoded.
    BadResult(String),
}

/// A registered function, erased over its types: decodes the argument, calls, encodes.
type Erased = Box<dyn Fn(&[u8]) -> Result<Vec<u8>, CallError> + Send + Sync>;

/// One registry entry.
struct Entry {
    /// `type_name` of the argument and of the result.
    signature: (&'static str, &'static str),
    /// The function behind its codec.
    call: Erased,
}

/// The functions a process pool may call, by name: built by the same code in the parent (for
/// [`ProcessPool::builder`](crate::ProcessPool::builder)) and in every worker (for
/// [`init`](crate::process::init)).
///
/// Each worker reports the [`fingerprint`](Self::fingerprint) of its registry when it starts;
/// a worker whose registry differs from the parent's (another build of the program, a
/// function registered only on one side) is refused, and the pool reports
/// [`ExecError::StartFailed`](crate::ExecError::StartFailed) instead of calling the wrong
/// function later.
///
/// # Examples
///
/// ```
/// use evloop_bridge::process::{ProcessFn, Registry};
///
/// const DOUBLE: ProcessFn<i64, i64> = ProcessFn::new("double", |x| 2 * x);
/// const CONCAT: ProcessFn<(String, String), String> =
///     ProcessFn::new("concat", |(a, b)| a + &b);
///
/// fn functions() -> Registry {
///     Registry::new().register(DOUBLE).register(CONCAT)
/// }
/// assert!(functions().contains("double"));
/// assert_eq!(functions().fingerprint(), functions().fingerprint());
/// ```
#[derive(Default)]
pub struct Registry {
    /// Entries by name; ordered, so the fingerprint does not depend on registration order.
    entries: BTreeMap<&'static str, Entry>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds `function` under its name.
    ///
    /// # Panics
    ///
    /// Panics if another function was registered under the same name: two functions cannot
    /// share a name, since the name is all a worker receives.
    pub fn register<A, R>(mut self, function: ProcessFn<A, R>) -> Self
    where
        A: DeserializeOwned + 'static,
        R: Serialize + 'static,
    {
        let func = function.func;
        let call: Erased = Box::new(move |bytes: &[u8]| {
            let args: A =
                postcard::from_bytes(bytes).map_err(|e| CallError::BadArgs(e.to_string()))?;
            postcard::to_allocvec(&func(args)).map_err(|e| CallError::BadResult(e.to_string()))
        });
        let entry = Entry {
            signature: ProcessFn::<A, R>::signature(),
            call,
        };
        if self.entries.insert(function.name, entry).is_some() {
            panic!(
                "two functions are registered under the name {:?}: give each ProcessFn its own name",
                function.name
            );
        }
        self
    }

    /// Whether a function is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The number of registered functions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no function is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A 64-bit fingerprint of the protocol version and of every entry's name, argument type
    /// and result type (FNV-1a). Equal registries built by the same executable have equal
    /// fingerprints; type names are only stable within one build, which is all a pool needs,
    /// since its workers run the parent's own executable.
    pub fn fingerprint(&self) -> u64 {
        let mut hash = Fnv::new();
        hash.write(&PROTOCOL.to_le_bytes());
        for (name, entry) in &self.entries {
            for part in [name, entry.signature.0, entry.signature.1] {
                hash.write(part.as_bytes());
                hash.write(&[0]);
            }
        }
        hash.0
    }

    /// Whether `name` is registered with exactly these types.
    pub(crate) fn matches(&self, name: &str, signature: (&str, &str)) -> bool {
        self.entries
            .get(name)
            .is_some_and(|entry| entry.signature == signature)
    }

    /// Calls the function registered as `name` on encoded arguments; `None` if there is none.
    /// A panic of the function propagates.
    pub(crate) fn call(&self, name: &str, args: &[u8]) -> Option<Result<Vec<u8>, CallError>> {
        Some((self.entries.get(name)?.call)(args))
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(name, entry)| {
                let (args, result) = entry.signature;
                (name, format!("fn({args}) -> {result}"))
            }))
            .finish()
    }
}

/// The 64-bit FNV-1a hash: tiny, stable across builds and platforms (unlike std's hashers).
struct Fnv(u64);

impl Fnv {
    /// The FNV-1a offset basis.
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    /// Mixes in `bytes`.
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ProcessFn<u32, u32> = ProcessFn::new("a", |x| x);
    const B: ProcessFn<String, usize> = ProcessFn::new("b", |s: String| s.len());
    const B_OTHER_TYPES: ProcessFn<u64, usize> = ProcessFn::new("b", |x| x as usize);

    #[test]
    fn the_fingerprint_ignores_order_and_sees_names_and_types() {
        let ab = Registry::new().register(A).register(B).fingerprint();
        assert_eq!(ab, Registry::new().register(B).register(A).fingerprint());
        assert_ne!(ab, Registry::new().register(A).fingerprint());
        assert_ne!(
            ab,
            Registry::new()
                .register(A)
                .register(B_OTHER_TYPES)
                .fingerprint()
        );
        assert_ne!(Registry::new().fingerprint(), ab);
    }

    #[test]
    fn fnv_matches_the_published_test_vectors() {
        let mut empty = Fnv::new();
        empty.write(b"");
        assert_eq!(empty.0, 0xcbf2_9ce4_8422_2325);
        let mut a = Fnv::new();
        a.write(b"a");
        assert_eq!(a.0, 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn calls_decode_arguments_and_encode_results() {
        let registry = Registry::new().register(B);
        let args = postcard::to_allocvec(&"four".to_owned()).unwrap();
        let result = registry.call("b", &args).unwrap().unwrap();
        assert_eq!(postcard::from_bytes::<usize>(&result).unwrap(), 4);
        assert!(matches!(
            registry.call("b", &[0xff]),
            Some(Err(CallError::BadArgs(_)))
        ));
        assert!(registry.call("missing", &args).is_none());
        assert!(registry.matches("b", ProcessFn::<String, usize>::signature()));
        assert!(!registry.matches("b", ProcessFn::<u64, usize>::signature()));
    }

    #[test]
    #[should_panic(expected = "two functions are registered under the name \"b\"")]
    fn a_name_registered_twice_panics() {
        let _ = Registry::new().register(B).register(B_OTHER_TYPES);
    }
}
