//! HTTP/1.1 loads that `wrk` cannot make ([`evloop_bench::workloads::http_load`]), for
//! `bench-suite/scripts/http.sh`: `paced ADDR PATH RATE SECS`, `churn ADDR PATH SECS` or
//! `uneven ADDR SECS`. Prints one line: `requests N p50_us P p99_us P max_us M` (latencies over
//! every request).

use evloop_bench::workloads::http_load::{churn, paced, uneven};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: http_load paced ADDR PATH RATE SECS | churn ADDR PATH SECS | uneven ADDR SECS";
    let mut latencies = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["paced", addr, path, rate, secs] => {
            paced(addr.parse()?, path, rate.parse()?, secs.parse()?)?
        }
        ["churn", addr, path, secs] => churn(addr.parse()?, path, secs.parse()?)?,
        ["uneven", addr, secs] => uneven(addr.parse()?, secs.parse()?)?,
        _ => return Err(usage.into()),
    };
    if latencies.is_empty() {
        return Err("no request completed".into());
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_micros();
    println!(
        "requests {} p50_us {} p99_us {} max_us {}",
        latencies.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}
