//! What users see of the bridge's errors: `unwrap` and a `main` returning one print its
//! `Debug`, which carries the whole explanation `Display` gives; `?` turns one into an
//! `io::Error` of the kind that fits, with the message and the original inside.

use std::io;
use std::time::Duration;

use evloop_bridge::{BuildError, ExecError, ThreadPool};

#[test]
fn debug_names_the_variant_and_carries_the_whole_explanation() {
    let errors = [
        ExecError::Cancelled,
        ExecError::ShutDown,
        ExecError::QueueFull { capacity: 3 },
        ExecError::TimedOut {
            after: Duration::from_secs(2),
        },
        ExecError::Panicked("bad input".into()),
        ExecError::StartFailed("no program".into()),
    ];
    for error in errors {
        let (debug, display) = (format!("{error:?}"), error.to_string());
        assert!(debug.ends_with(&display), "{debug} / {display}");
        assert!(
            debug.len() > display.len() + 2,
            "the variant is named: {debug}"
        );
    }
    let forgot = format!("{:?}", BuildError::UninitializedWorker);
    assert!(
        forgot.starts_with("UninitializedWorker: ") && forgot.contains("process::init"),
        "{forgot}"
    );
    let zero = format!("{:?}", BuildError::ZeroWorkers);
    assert!(zero.contains("max_workers must be at least 1"), "{zero}");
}

/// A job that panics, awaited with `?` in a function returning `io::Result`.
fn job_that_panics(pool: &ThreadPool) -> io::Result<u32> {
    let value = pool.submit(|| -> u32 { panic!("bad input") }).wait()?;
    Ok(value)
}

#[test]
fn question_mark_turns_an_exec_error_into_an_io_error_of_the_fitting_kind() {
    let pool = ThreadPool::new();
    let error = job_that_panics(&pool).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::Other);
    assert!(error.to_string().contains("bad input"), "{error}");
    let inner = error.into_inner().unwrap().downcast::<ExecError>().unwrap();
    assert_eq!(*inner, ExecError::Panicked("bad input".into()));

    let kinds = [
        (
            ExecError::TimedOut {
                after: Duration::from_secs(1),
            },
            io::ErrorKind::TimedOut,
        ),
        (ExecError::Cancelled, io::ErrorKind::Interrupted),
        (
            ExecError::TooLarge { bytes: 9, limit: 1 },
            io::ErrorKind::InvalidInput,
        ),
        (
            ExecError::Serialization("x".into()),
            io::ErrorKind::InvalidData,
        ),
        (ExecError::ShutDown, io::ErrorKind::Other),
    ];
    for (error, kind) in kinds {
        let message = error.to_string();
        let converted = io::Error::from(error);
        assert_eq!(converted.kind(), kind, "{converted}");
        assert_eq!(converted.to_string(), message);
    }
    let refused: io::Error = BuildError::ZeroWorkers.into();
    assert_eq!(refused.kind(), io::ErrorKind::InvalidInput);
}
