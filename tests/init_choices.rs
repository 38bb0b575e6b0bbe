//! `init =` and the constant initialisers: the values drawn match each formula's moments
//! (mean 0, the formula's variance, and the kurtosis of a uniform, 1.8, or a normal, 3) on
//! layers with a fan-in in the thousands, within a few standard errors; aliases and
//! `default` declarations; constants for biases and batch norm.

mod common;

use netc::ir::enable_checks;
use netc::runtime::ParamStore;

/// The initial tensors of `src` (seed 1), by name.
fn tensors(src: &str) -> std::collections::HashMap<String, Vec<f32>> {
    enable_checks();
    let mut sources = netc::diag::SourceMap::new();
    let g = netc::driver::compile(&mut sources, "t.net", src).unwrap_or_else(|f| panic!("{:?}", f.diagnostics));
    let program = netc::autodiff::training(&g).unwrap();
    let mut store = ParamStore::new(&program.params);
    netc::train::initialise(&mut store, &g, 1);
    store.infos.iter().map(|i| i.name.clone()).zip(store.values).collect()
}

/// Mean, variance and kurtosis (m4 / var²), in f64.
fn moments(v: &[f32]) -> (f64, f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let m = |p: i32| v.iter().map(|&x| (f64::from(x) - mean).powi(p)).sum::<f64>() / n;
    let var = m(2);
    (mean, var, m(4) / (var * var))
}

#[test]
fn weight_initialisers_have_their_formulas_moments() {
    // conv 512 → 512, 3×3: fan_in = fan_out = 4608, 2,359,296 weights.
    let (fan_in, fan_out) = (4608.0, 4608.0);
    // dense 8192 → 256: fan_in 8192, fan_out 256, 2,097,152 weights.
    let (din, dout) = (8192.0, 256.0);
    for (name, var_of, normal) in [
        ("glorot_uniform", (|i: f64, o: f64| 2.0 / (i + o)) as fn(f64, f64) -> f64, false),
        ("glorot_normal", |i, o| 2.0 / (i + o), true),
        ("he_uniform", |i, _| 2.0 / i, false),
        ("he_normal", |i, _| 2.0 / i, true),
        ("lecun_uniform", |i, _| 1.0 / i, false),
        ("lecun_normal", |i, _| 1.0 / i, true),
    ] {
        let t = tensors(&format!(
            "input 512x4x4\nc: conv(512, 3, pad = 1, init = {name}) relu flatten d: dense(256, init = {name}) relu o: dense(10)\n"
        ));
        for (tensor, want_var) in [("c.weight", var_of(fan_in, fan_out)), ("d.weight", var_of(din, dout))] {
            let v = &t[tensor];
            let n = v.len() as f64;
            let (mean, var, kurt) = moments(v);
            let want_kurt = if normal { 3.0 } else { 1.8 };
            // Standard errors: mean σ/√n; variance σ²·√((κ − 1)/n).
            let what =
                format!("{name} {tensor}: mean {mean:e}, variance {var:e} (formula {want_var:e}), kurtosis {kurt}");
            assert!(mean.abs() < 6.0 * (want_var / n).sqrt(), "{what}");
            assert!((var / want_var - 1.0).abs() < 6.0 * ((want_kurt - 1.0) / n).sqrt(), "{what}");
            assert!((kurt - want_kurt).abs() < 0.05, "{what}");
            if !normal {
                let bound = (3.0 * want_var).sqrt();
                let largest = v.iter().fold(0f64, |m, &x| m.max(f64::from(x).abs()));
                assert!(largest <= bound * (1.0 + 1e-6) && largest > 0.999 * bound, "{what}, largest {largest}");
            }
        }
    }
}

#[test]
fn aliases_defaults_and_constants() {
    let a = tensors(
        "input 3x8x8\nc: conv(8, 3, init = xavier_uniform) relu gap flatten d: dense(4, init = kaiming_normal)\n",
    );
    let b =
        tensors("input 3x8x8\nc: conv(8, 3, init = glorot_uniform) relu gap flatten d: dense(4, init = he_normal)\n");
    assert_eq!(a, b, "xavier = glorot, kaiming = he");
    // A file default applies to every call that does not say otherwise.
    let t = tensors(
        "input 3x8x8\ndefault conv(init = zeros, bias_init = 0.5)\nc1: conv(8, 3) c2: conv(8, 3, init = ones, bias_init = -1) \
         b: bn(gamma_init = 0, beta_init = 0.25) gap flatten d: dense(4, bias_init = 0.1)\n",
    );
    assert!(t["c1.weight"].iter().all(|&x| x == 0.0) && t["c1.bias"].iter().all(|&x| x == 0.5));
    assert!(t["c2.weight"].iter().all(|&x| x == 1.0) && t["c2.bias"].iter().all(|&x| x == -1.0));
    assert!(t["b.weight"].iter().all(|&x| x == 0.0) && t["b.bias"].iter().all(|&x| x == 0.25));
    assert!(t["b.running_var"].iter().all(|&x| x == 1.0), "state keeps its start");
    assert!(t["d.bias"].iter().all(|&x| x == 0.1_f32));
    // d has no `init`: today's default, LeCun uniform ±√(3/8) (it feeds no ReLU).
    let bound = (3.0f32 / 8.0).sqrt();
    assert!(t["d.weight"].iter().all(|&x| x.abs() <= bound) && t["d.weight"].iter().any(|&x| x.abs() > 0.5 * bound));
    // Without any choice the values are exactly what they were.
    let plain = tensors("input 3x8x8\nc: conv(8, 3) relu gap flatten d: dense(4)\n");
    let same = tensors("input 3x8x8\nc: conv(8, 3, bias = true) relu gap flatten d: dense(4, bias = true)\n");
    assert_eq!(plain, same);
}

#[test]
fn bad_initialisers_are_located_errors() {
    let check = |src: &str, code: &str, message: &str, span: &str, line: usize, col: usize, hint: Option<&str>| {
        let (diags, sources) = common::diagnose(src);
        let d = diags.first().unwrap_or_else(|| panic!("expected {code}:\n{src}"));
        let rendered = netc::diag::render_all(&diags, &sources, netc::diag::Style::Plain);
        assert_eq!(d.code, code, "{rendered}");
        assert!(d.message.contains(message), "{rendered}");
        let s = d.primary_span().unwrap();
        assert_eq!(&src[s.start as usize..s.end as usize], span, "{rendered}");
        let loc = sources.location(s);
        assert_eq!((loc.line, loc.col), (line, col), "{rendered}");
        if let Some(h) = hint {
            assert!(d.hint.as_deref().unwrap_or("").contains(h), "{rendered}");
        }
    };
    use netc::diag::codes;
    let src = "input 3x8x8\nconv(8, 3, init = glorot_unifrom) gap flatten dense(4)\n";
    check(
        src,
        codes::UNKNOWN_NAME,
        "unknown value `glorot_unifrom`",
        "glorot_unifrom",
        2,
        19,
        Some("`glorot_uniform`"),
    );
    let src = "input 3x8x8\nconv(8, 3, init = 0.1) gap flatten dense(4)\n";
    check(src, codes::BAD_VALUE, "must be an initialiser: glorot_uniform", "0.1", 2, 19, None);
    let src = "input 3x8x8\ndefault dense(init = same)\ngap flatten dense(4)\n";
    check(src, codes::BAD_VALUE, "`init` of `dense` must be an initialiser", "same", 2, 22, None);
    let src = "input 3x8x8\nconv(8, 3, bias = false, bias_init = 1) gap flatten dense(4)\n";
    check(src, codes::ARGUMENTS, "`bias_init` on a `conv` without bias", "1", 2, 38, None);
    let src = "input 3x8x8\nbn(init = he_normal) gap flatten dense(4)\n";
    check(src, codes::ARGUMENTS, "init", "init", 2, 4, None);
}
