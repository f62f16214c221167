//! `#[evloop::main]` and `#[evloop::test]`: an `async fn main` or an `async fn` test, run on an
//! evloop event loop. Use them through `evloop` (which re-exports them), not this crate.
//!
//! # Implementation
//!
//! Each attribute turns the `async fn` into a plain one whose body builds a loop with
//! `evloop::Builder` (applying the attribute's options, in the order given), and blocks on the
//! original body with `Runtime::block_on`: what `evloop::run` does, with the builder's
//! settings. It runs at compile time only and adds nothing at run time. The options are
//! checked here: an unknown name or a value of the wrong kind is a compile error pointing at
//! that option.
//!
//! # Examples
//!
//! ```ignore
//! #[evloop::main(name = "api", shutdown_timeout_ms = 2000)]
//! async fn main() -> std::io::Result<()> {
//!     evloop::sleep(std::time::Duration::from_millis(1)).await;
//!     Ok(())
//! }
//! ```
//!
//! (`ignore`: this crate cannot depend on `evloop`, which depends on it; `evloop`'s own
//! documentation runs these examples.)

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemFn, Lit, MetaNameValue, Token};

/// Runs an `async fn main` on an evloop event loop: see `evloop::main`.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Main, args.into(), item.into())
        .unwrap_or_else(|error| {
            // An empty `main` besides the error: rustc then reports only the error itself.
            let mut tokens = error.into_compile_error();
            tokens.extend(quote!(
                fn main() {}
            ));
            tokens
        })
        .into()
}

/// Runs an `async fn` test on an evloop event loop: see `evloop::test`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Test, args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Which attribute.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `#[evloop::main]`.
    Main,
    /// `#[evloop::test]`.
    Test,
}

impl Kind {
    /// The attribute as the user writes it.
    fn name(self) -> &'static str {
        match self {
            Kind::Main => "#[evloop::main]",
            Kind::Test => "#[evloop::test]",
        }
    }
}

/// What a value must be.
#[derive(Clone, Copy)]
enum Value {
    /// A string literal.
    Str,
    /// An integer literal.
    Int,
    /// `true` or `false`.
    Bool,
}

/// The options: the name the user writes, the kind of value, and how it becomes a builder call
/// on `builder` with the value `v`.
const OPTIONS: &[(&str, Value, &str)] = &[
    ("name", Value::Str, "name"),
    (
        "slow_poll_threshold_ms",
        Value::Int,
        "slow_poll_threshold(ms)",
    ),
    ("slow_poll_reports", Value::Bool, "slow_poll_reports"),
    ("stall_watchdog", Value::Bool, "stall_watchdog"),
    ("poll_timing", Value::Bool, "poll_timing"),
    ("trace_cycles", Value::Bool, "trace_cycles"),
    ("coop_budget", Value::Int, "coop_budget"),
    ("timer_slack_us", Value::Int, "timer_slack(us)"),
    ("idle_spin_us", Value::Int, "idle_spin(us)"),
    ("shutdown_timeout_ms", Value::Int, "shutdown_timeout(ms)"),
    ("crate", Value::Str, ""),
];

/// The expansion of either attribute, or the first error, pointing at its cause.
fn expand(kind: Kind, args: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let options = Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(args)?;
    let function: ItemFn = syn::parse2(item)?;
    check_signature(kind, &function)?;
    let mut krate: syn::Path = syn::parse_quote!(::evloop);
    let mut calls = Vec::new();
    for option in &options {
        let Some(key) = option.path.get_ident().map(ToString::to_string) else {
            return Err(unknown(
                option.path.span(),
                kind,
                &quote!(#option).to_string(),
            ));
        };
        let Some(&(_, value, call)) = OPTIONS.iter().find(|(name, _, _)| *name == key) else {
            return Err(unknown(option.path.span(), kind, &key));
        };
        let lit = literal(&option.value, value, &key)?;
        if key == "crate" {
            let Lit::Str(path) = lit else {
                unreachable!("checked")
            };
            krate = path.parse()?;
            continue;
        }
        calls.push(builder_call(call, lit, option.value.span()));
    }
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
        ..
    } = function;
    sig.asyncness = None;
    let test_attr = (kind == Kind::Test).then(|| quote!(#[::core::prelude::v1::test]));
    let what = kind.name();
    let body = quote_spanned! {block.span()=>
        let body = async move #block;
        let builder = #krate::Builder::new();
        #(let builder = builder.#calls;)*
        builder
            .build()
            .unwrap_or_else(|error| panic!("{}: the event loop could not be built: {}", #what, error))
            .block_on(body)
    };
    Ok(quote! {
        #test_attr
        #(#attrs)*
        #vis #sig {
            #body
        }
    })
}

/// Refuses a function the attribute cannot run: not `async`, with parameters, generic, or
/// (for `main`) not named `main`.
fn check_signature(kind: Kind, function: &ItemFn) -> syn::Result<()> {
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span(),
            format!(
                "{} needs an `async fn`: write `async fn {}`",
                kind.name(),
                sig.ident
            ),
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(syn::Error::new(
            sig.inputs.span(),
            format!("{} takes a function without parameters", kind.name()),
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            format!(
                "{} takes a function without generic parameters",
                kind.name()
            ),
        ));
    }
    if kind == Kind::Main && sig.ident != "main" {
        return Err(syn::Error::new(
            sig.ident.span(),
            "#[evloop::main] goes on `async fn main`; for a test, use #[evloop::test]",
        ));
    }
    Ok(())
}

/// The error of an unknown option.
fn unknown(span: Span, kind: Kind, key: &str) -> syn::Error {
    let known: Vec<&str> = OPTIONS.iter().map(|(name, _, _)| *name).collect();
    syn::Error::new(
        span,
        format!(
            "{} has no option `{key}`; its options are: {}",
            kind.name(),
            known.join(", ")
        ),
    )
}

/// The option's literal, checked to be of the kind `value`.
fn literal<'a>(expr: &'a Expr, value: Value, key: &str) -> syn::Result<&'a Lit> {
    let wrong = |what: &str| syn::Error::new(expr.span(), format!("`{key}` takes {what}"));
    let Expr::Lit(ExprLit { lit, .. }) = expr else {
        return Err(wrong(match value {
            Value::Str => "a string literal",
            Value::Int => "an integer literal",
            Value::Bool => "`true` or `false`",
        }));
    };
    match (value, lit) {
        (Value::Str, Lit::Str(_)) | (Value::Bool, Lit::Bool(_)) => Ok(lit),
        (Value::Int, Lit::Int(int)) => {
            int.base10_parse::<u64>()?;
            Ok(lit)
        }
        (Value::Str, _) => Err(wrong("a string literal")),
        (Value::Int, _) => Err(wrong("an integer literal")),
        (Value::Bool, _) => Err(wrong("`true` or `false`")),
    }
}

/// The builder method call of an option: `name(lit)`, or for the durations `m(Duration::..)`.
fn builder_call(call: &str, lit: &Lit, span: Span) -> TokenStream2 {
    let (method, unit) = match call.split_once('(') {
        Some((method, unit)) => (method, Some(unit.trim_end_matches(')'))),
        None => (call, None),
    };
    let method = syn::Ident::new(method, span);
    match unit {
        Some("ms") => quote_spanned!(span=> #method(::core::time::Duration::from_millis(#lit))),
        Some("us") => quote_spanned!(span=> #method(::core::time::Duration::from_micros(#lit))),
        _ => quote_spanned!(span=> #method(#lit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expansion of `#[evloop::main(args)]` on `item`, or its error message.
    fn main_of(args: &str, item: &str) -> Result<String, String> {
        let (args, item) = (args.parse().unwrap(), item.parse().unwrap());
        expand(Kind::Main, args, item)
            .map(|tokens| tokens.to_string())
            .map_err(|error| error.to_string())
    }

    #[::core::prelude::v1::test] // `test` alone is this crate's attribute
    fn options_become_builder_calls_in_order() {
        let out = main_of(
            r#"name = "api", shutdown_timeout_ms = 2000, trace_cycles = true"#,
            "async fn main() -> std::io::Result<()> { Ok(()) }",
        )
        .unwrap();
        let name = out.find("name (\"api\")").expect("name");
        let timeout =
            out.find("shutdown_timeout (:: core :: time :: Duration :: from_millis (2000))");
        let trace = out.find("trace_cycles (true)").expect("trace_cycles");
        assert!(
            name < timeout.expect("shutdown_timeout") && timeout.unwrap() < trace,
            "{out}"
        );
        assert!(
            out.contains("fn main () -> std :: io :: Result < () >"),
            "{out}"
        );
        assert!(!out.contains("async fn"), "{out}");
        assert!(out.contains(":: evloop :: Builder :: new ()"), "{out}");
    }

    #[::core::prelude::v1::test] // `test` alone is this crate's attribute
    fn a_test_gets_the_test_attribute_and_a_renamed_crate_is_used() {
        let (args, item) = (
            r#"crate = "my_evloop""#.parse().unwrap(),
            "async fn works() {}".parse().unwrap(),
        );
        let out = expand(Kind::Test, args, item).unwrap().to_string();
        assert!(
            out.starts_with("# [:: core :: prelude :: v1 :: test]"),
            "{out}"
        );
        assert!(out.contains("my_evloop :: Builder :: new ()"), "{out}");
    }

    #[::core::prelude::v1::test] // `test` alone is this crate's attribute
    fn errors_name_the_option_or_the_signature_at_fault() {
        let unknown = main_of("workers = 4", "async fn main() {}").unwrap_err();
        assert!(
            unknown.contains("no option `workers`") && unknown.contains("shutdown_timeout_ms"),
            "{unknown}"
        );
        let wrong = main_of("trace_cycles = 1", "async fn main() {}").unwrap_err();
        assert_eq!(wrong, "`trace_cycles` takes `true` or `false`");
        let wrong = main_of(r#"coop_budget = "many""#, "async fn main() {}").unwrap_err();
        assert_eq!(wrong, "`coop_budget` takes an integer literal");
        let not_async = main_of("", "fn main() {}").unwrap_err();
        assert!(not_async.contains("needs an `async fn`"), "{not_async}");
        let named = main_of("", "async fn serve() {}").unwrap_err();
        assert!(named.contains("#[evloop::test]"), "{named}");
        let params = main_of("", "async fn main(x: u8) {}").unwrap_err();
        assert!(params.contains("without parameters"), "{params}");
    }
}
