//! Time: the loop's [`timers::Timers`] and the futures that wait on them: [`sleep::sleep`],
//! [`sleep::sleep_until`], [`timeout::timeout`] and [`interval::interval`].

pub(crate) mod interval;
pub(crate) mod sleep;
pub(crate) mod timeout;
pub(crate) mod timers;
