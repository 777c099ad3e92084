//! The attribute's arguments: `key = value` pairs, checked one by one so that
//! each error points at the argument it is about.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprPath, Ident, Lit, Path, Token};

use crate::duration;

/// Every key, in the order the docs list them.
const KEYS: &str = "error_ratio, window, broken_time, recovery_time, passing_time, min_calls, \
                    broken_time_max, jitter, slow_call, failure, name, listener, crate";

/// The checked arguments of one `#[cutout(...)]`.
pub(crate) struct Args {
    /// `error_ratio`, as the `f32` the config stores.
    pub(crate) error_ratio: f32,
    /// `window`, in nanoseconds.
    pub(crate) window: u64,
    /// `broken_time`, in nanoseconds; `None` keeps the config's default.
    pub(crate) broken_time: Option<u64>,
    /// `recovery_time`, in nanoseconds.
    pub(crate) recovery_time: Option<u64>,
    /// `passing_time`, in nanoseconds.
    pub(crate) passing_time: Option<u64>,
    /// `min_calls`.
    pub(crate) min_calls: Option<u32>,
    /// `broken_time_max`, in nanoseconds.
    pub(crate) broken_time_max: Option<u64>,
    /// `jitter`, as the `f32` the config stores.
    pub(crate) jitter: Option<f32>,
    /// `slow_call`, in nanoseconds.
    pub(crate) slow_call: Option<u64>,
    /// `failure`: the predicate over `&E`, as written.
    pub(crate) failure: Option<Expr>,
    /// `name`: where the breaker is reachable from outside the function.
    pub(crate) name: Option<Name>,
    /// `listener`: the breaker's listener, built by a `const` constructor.
    pub(crate) listener: Option<Listener>,
    /// `crate`: the path of the adapter whose `__cutout` module to use, if the
    /// macro's default is not wanted.
    pub(crate) krate: Option<Path>,
}

/// The `name = ...` argument.
pub(crate) enum Name {
    /// `name = IDENT`: a `static` next to the function.
    Static(Ident),
    /// `name = Self::IDENT`: an associated `const` reference to a hidden
    /// `static`, for functions in `impl` blocks.
    Associated(ExprPath, Ident),
}

/// The `listener = Type::constructor(..)` argument.
pub(crate) struct Listener {
    /// The listener's type: the call's path without its last segment.
    pub(crate) ty: Path,
    /// The constructor call, as written.
    pub(crate) init: Expr,
}

/// One `key = value` pair, before it is checked.
struct Pair {
    key: Ident,
    value: Expr,
}

impl Parse for Pair {
    fn parse(input: ParseStream<'_>) -> syn::Result<Pair> {
        // `parse_any` so that the keyword `crate` is a key like the others.
        let key = Ident::parse_any(input)?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                key.span(),
                format!("expected `{key} = <value>`"),
            ));
        }
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(Pair { key, value })
    }
}

/// Collects every error rather than stopping at the first, so one compile
/// shows every bad argument.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn spanned(&mut self, tokens: impl ToTokens, message: impl core::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }
}

impl Args {
    /// Parses and checks the attribute's arguments.
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
        let pairs =
            syn::parse::Parser::parse2(Punctuated::<Pair, Token![,]>::parse_terminated, tokens)
                .map_err(|e| {
                    let message = format!(
                        "{e}: #[cutout] takes `key = value` arguments, \
                         such as #[cutout(error_ratio = 0.2, window = \"30s\")]"
                    );
                    syn::Error::new(e.span(), message)
                })?;
        let mut errors = Errors::default();
        let mut seen: Vec<Ident> = Vec::new();
        let mut error_ratio = None;
        let mut window = None;
        let mut args = Args {
            error_ratio: 0.0,
            window: 0,
            broken_time: None,
            recovery_time: None,
            passing_time: None,
            min_calls: None,
            broken_time_max: None,
            jitter: None,
            slow_call: None,
            failure: None,
            name: None,
            listener: None,
            krate: None,
        };
        for Pair { key, value } in pairs {
            let key_name = key.to_string();
            if seen.contains(&key) {
                errors.spanned(&key, format!("duplicate argument `{key_name}`"));
                continue;
            }
            let checked = match key_name.as_str() {
                "error_ratio" => ratio(&value).map(|r| error_ratio = Some(r)),
                "window" => positive_duration(&key_name, &value).map(|d| window = Some(d)),
                "broken_time" => {
                    positive_duration(&key_name, &value).map(|d| args.broken_time = Some(d))
                }
                "recovery_time" => {
                    positive_duration(&key_name, &value).map(|d| args.recovery_time = Some(d))
                }
                "passing_time" => {
                    duration_literal(&key_name, &value).map(|d| args.passing_time = Some(d))
                }
                "min_calls" => min_calls(&value).map(|n| args.min_calls = Some(n)),
                "broken_time_max" => {
                    positive_duration(&key_name, &value).map(|d| args.broken_time_max = Some(d))
                }
                "jitter" => jitter(&value).map(|j| args.jitter = Some(j)),
                "slow_call" => {
                    positive_duration(&key_name, &value).map(|d| args.slow_call = Some(d))
                }
                "failure" => {
                    args.failure = Some(value);
                    Ok(())
                }
                "name" => name(&value).map(|n| args.name = Some(n)),
                "listener" => listener(&value).map(|l| args.listener = Some(l)),
                "crate" => crate_path(&value).map(|p| args.krate = Some(p)),
                _ => Err(syn::Error::new_spanned(
                    &key,
                    format!("unknown argument `{key_name}`; expected one of: {KEYS}"),
                )),
            };
            if let Err(e) = checked {
                errors.push(e);
            }
            seen.push(key);
        }
        let example = "such as #[cutout(error_ratio = 0.2, window = \"30s\")]";
        match error_ratio {
            Some(r) => args.error_ratio = r,
            None if !seen.iter().any(|k| k == "error_ratio") => errors.push(syn::Error::new(
                Span::call_site(),
                format!("missing required argument `error_ratio = <ratio in (0, 1]>`, {example}"),
            )),
            None => {}
        }
        match window {
            Some(w) => args.window = w,
            None if !seen.iter().any(|k| k == "window") => errors.push(syn::Error::new(
                Span::call_site(),
                format!("missing required argument `window = \"<duration>\"`, {example}"),
            )),
            None => {}
        }
        match errors.0 {
            Some(e) => Err(e),
            None => Ok(args),
        }
    }
}

/// `error_ratio`: a literal number in (0, 1].
fn ratio(value: &Expr) -> syn::Result<f32> {
    fraction(value, |r| r > 0.0 && r <= 1.0).ok_or_else(|| {
        syn::Error::new_spanned(
            value,
            "`error_ratio` must be a number greater than 0 and at most 1, such as 0.2",
        )
    })
}

/// `jitter`: a literal number in [0, 1).
fn jitter(value: &Expr) -> syn::Result<f32> {
    fraction(value, |j| (0.0..1.0).contains(&j)).ok_or_else(|| {
        syn::Error::new_spanned(
            value,
            "`jitter` must be a number at least 0 and less than 1, such as 0.1",
        )
    })
}

/// A literal number (a float, or a small unsuffixed integer such as `1`) as
/// the `f32` the config stores, if `valid` accepts it. Negative numbers are
/// not literals (`-0.1` is a negation), so they are refused here too.
fn fraction(value: &Expr, valid: impl Fn(f32) -> bool) -> Option<f32> {
    let parsed = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Float(f), ..
        }) if matches!(f.suffix(), "" | "f32") => f.base10_parse::<f32>().ok(),
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) if i.suffix().is_empty() => i.base10_parse::<u8>().ok().map(f32::from),
        _ => None,
    };
    parsed.filter(|&x| valid(x))
}

/// A duration string literal, in nanoseconds (zero allowed).
fn duration_literal(key: &str, value: &Expr) -> syn::Result<u64> {
    let Expr::Lit(ExprLit {
        lit: Lit::Str(text),
        ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            format!("`{key}` must be a duration string: {}", duration::FORMS),
        ));
    };
    duration::parse_nanos(&text.value())
        .map_err(|message| syn::Error::new_spanned(value, format!("`{key}`: {message}")))
}

/// A duration string literal that must not be zero.
fn positive_duration(key: &str, value: &Expr) -> syn::Result<u64> {
    match duration_literal(key, value)? {
        0 => Err(syn::Error::new_spanned(
            value,
            format!("`{key}` must be greater than zero"),
        )),
        nanos => Ok(nanos),
    }
}

/// `min_calls`: a literal integer, at least 1.
fn min_calls(value: &Expr) -> syn::Result<u32> {
    let parsed = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) if matches!(i.suffix(), "" | "u32") => i.base10_parse::<u32>().ok(),
        _ => None,
    };
    match parsed {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(syn::Error::new_spanned(
            value,
            "`min_calls` must be a whole number of at least 1, such as 10",
        )),
    }
}

/// `name`: `IDENT` or `Self::IDENT`.
fn name(value: &Expr) -> syn::Result<Name> {
    if let Expr::Path(path) = value {
        if path.qself.is_none() && path.attrs.is_empty() {
            let segments: Vec<_> = path.path.segments.iter().collect();
            let plain = |i: usize| segments[i].arguments.is_none();
            match segments.as_slice() {
                [only] if path.path.leading_colon.is_none() && plain(0) => {
                    return Ok(Name::Static(only.ident.clone()));
                }
                [this, item] if this.ident == "Self" && plain(0) && plain(1) => {
                    return Ok(Name::Associated(path.clone(), item.ident.clone()));
                }
                _ => {}
            }
        }
    }
    Err(syn::Error::new_spanned(
        value,
        "`name` must be an identifier (a `static` next to the function, such as \
         `name = FETCH_BREAKER`) or `Self::IDENT` (an associated const, in an impl block)",
    ))
}

/// `listener`: a call `path::Type::constructor(args)`; the breaker's listener
/// type is the path without its last segment (the type cannot be inferred
/// for a `static`, and writing it twice would invite the two to differ).
fn listener(value: &Expr) -> syn::Result<Listener> {
    if let Expr::Call(call) = value {
        if let Expr::Path(func) = &*call.func {
            if call.attrs.is_empty() && func.qself.is_none() && func.path.segments.len() >= 2 {
                let mut ty = func.path.clone();
                ty.segments.pop();
                ty.segments.pop_punct();
                return Ok(Listener {
                    ty,
                    init: value.clone(),
                });
            }
        }
    }
    Err(syn::Error::new_spanned(
        value,
        "`listener` must be a call to the listener type's `const` constructor, \
         such as `listener = breaker_ops::OpsListener::new()`",
    ))
}

/// `crate`: a path to the adapter (or any module) holding `__cutout`.
fn crate_path(value: &Expr) -> syn::Result<Path> {
    match value {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => Ok(path.path.clone()),
        _ => Err(syn::Error::new_spanned(
            value,
            "`crate` must be a path to a crate or module holding a `__cutout` module, \
             such as `crate = ::my_reexport::breaker_tokio`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn fractions_are_plain_or_f32_literals() {
        let any = |_: f32| true;
        assert_eq!(fraction(&parse_quote!(0.25), any), Some(0.25));
        assert_eq!(fraction(&parse_quote!(0.25f32), any), Some(0.25));
        assert_eq!(fraction(&parse_quote!(1), any), Some(1.0));
        // The config stores an `f32`: an `f64` literal would be narrowed
        // behind the user's back, and a suffixed integer is not a ratio.
        assert_eq!(fraction(&parse_quote!(0.25f64), any), None);
        assert_eq!(fraction(&parse_quote!(1u8), any), None);
        assert_eq!(fraction(&parse_quote!(0.5), |r| r > 0.6), None);
    }

    #[test]
    fn min_calls_is_a_plain_or_u32_literal() {
        assert_eq!(min_calls(&parse_quote!(10)).unwrap(), 10);
        assert_eq!(min_calls(&parse_quote!(10u32)).unwrap(), 10);
        let refused: [Expr; 3] = [parse_quote!(10u64), parse_quote!(0), parse_quote!(N)];
        for bad in refused {
            let err = min_calls(&bad).unwrap_err();
            assert!(err.to_string().starts_with("`min_calls` must be"), "{err}");
        }
    }

    #[test]
    fn names_are_an_identifier_or_self_and_one() {
        assert!(matches!(name(&parse_quote!(FETCH)), Ok(Name::Static(i)) if i == "FETCH"));
        assert!(
            matches!(name(&parse_quote!(Self::FETCH)), Ok(Name::Associated(_, i)) if i == "FETCH")
        );
        let refused: [Expr; 8] = [
            parse_quote!(<T>::FETCH),
            parse_quote!(
                #[cfg(test)]
                FETCH
            ),
            parse_quote!(::FETCH),
            parse_quote!(FETCH::<u8>),
            parse_quote!(module::FETCH),
            parse_quote!(Self::<u8>::FETCH),
            parse_quote!(Self::FETCH::<u8>),
            parse_quote!(<T as Trait>::FETCH),
        ];
        for bad in refused {
            let Err(err) = name(&bad) else {
                panic!("accepted: {}", bad.to_token_stream());
            };
            assert!(err.to_string().starts_with("`name` must be"), "{err}");
        }
    }

    #[test]
    fn listeners_are_a_constructor_call_on_a_type_path() {
        let shown = |l: Listener| {
            (
                l.ty.to_token_stream().to_string(),
                l.init.to_token_stream().to_string(),
            )
        };
        assert_eq!(
            shown(listener(&parse_quote!(OpsListener::new())).unwrap()),
            ("OpsListener".into(), "OpsListener :: new ()".into())
        );
        assert_eq!(
            shown(listener(&parse_quote!(ops::OpsListener::new())).unwrap()),
            (
                "ops :: OpsListener".into(),
                "ops :: OpsListener :: new ()".into()
            )
        );
        assert_eq!(
            shown(listener(&parse_quote!(::log::Listener::<u8>::named("x", 1))).unwrap()),
            (
                ":: log :: Listener :: < u8 >".into(),
                ":: log :: Listener :: < u8 > :: named (\"x\" , 1)".into()
            )
        );
        let refused: [Expr; 6] = [
            parse_quote!(new()),
            parse_quote!(OpsListener),
            parse_quote!(ops::OpsListener::new),
            parse_quote!((ops::OpsListener::new)()),
            parse_quote!(<T as Trait>::new()),
            parse_quote!(
                #[cfg(test)]
                ops::OpsListener::new()
            ),
        ];
        for bad in refused {
            let Err(err) = listener(&bad) else {
                panic!("accepted: {}", bad.to_token_stream());
            };
            assert!(err.to_string().starts_with("`listener` must be"), "{err}");
        }
    }

    #[test]
    fn crate_is_a_plain_path() {
        let path = crate_path(&parse_quote!(::re::export)).unwrap();
        assert_eq!(path.to_token_stream().to_string(), ":: re :: export");
        for bad in [
            parse_quote!(<T as Trait>::export),
            parse_quote!(
                #[cfg(test)]
                re::export
            ),
            parse_quote!("re::export"),
        ] {
            let Err(err) = crate_path(&bad) else {
                panic!("accepted: {}", bad.to_token_stream());
            };
            assert!(err.to_string().starts_with("`crate` must be"), "{err}");
        }
    }
}
