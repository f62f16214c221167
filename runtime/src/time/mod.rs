//! Time: [`sleep`], [`sleep_until`], [`timeout`] and [`interval`], the futures that wait on the
//! loop's timers (the same items as `evloop::sleep` and the others at the crate's top).

pub(crate) mod interval;
pub(crate) mod sleep;
pub(crate) mod timeout;
pub(crate) mod timers;

pub use self::interval::{interval, Interval};
pub use self::sleep::{sleep, sleep_until, Sleep};
pub use self::timeout::{timeout, Elapsed, Timeout};
