//! Formulas in the configuration (issue 7): a potential `U(x, y, t)` or a target `ln q(x, y, t)`
//! written as text, parsed once by the `exmex` crate and evaluated at the cell centres of §1.
//!
//! Syntax (exmex's float operators): `+ - * / ^`, parentheses, `sqrt cbrt exp ln log log2 log10
//! sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh abs signum floor ceil round
//! trunc fract min max`, constants `PI` (`π`), `TAU` (`τ`), `E` (`e`); numbers like `0.5`, `.5`,
//! `4.`, and in scientific notation `2e-3`, `2.5E+2`, `1e5` (exmex's own number matcher takes
//! no exponent, so `1e-3*x` would read as `1`, the constant `e`, `-3*x`: [`SciNumber`] is ours).
//! Variables: `x`, `y` (cell-centre coordinates in the unit square, `((ix+½)h, (iy+½)h)`) and `t`
//! (time); any other name is an error. Evaluation is deterministic: the same text gives the same
//! bits on every thread count.

use crate::error::{escape_control, CgklError, Result};
use crate::grid::Grid;
use exmex::prelude::*;
use exmex::{FloatOpsFactory, MatchLiteral};

/// The variables a formula may use, in the order [`Formula::eval`] takes them.
pub const VARIABLES: [&str; 3] = ["x", "y", "t"];

/// Numeric literals of a formula: digits with an optional decimal point (`2`, `0.5`, `.5`, `4.`,
/// as exmex's default matcher) and an optional exponent `e`/`E`, sign, digits (`1e-3`, `2.5E+2`).
/// An `e` not followed by (signed) digits is not part of the number, so `2*e` and `x^e` keep
/// the constant e.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SciNumber;

impl MatchLiteral for SciNumber {
    fn is_literal(text: &str) -> Option<&str> {
        let b = text.as_bytes();
        let digits = |mut i: usize| {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            i
        };
        let int_end = digits(0);
        let mut end = int_end;
        let mut mantissa_digits = int_end;
        if b.get(end) == Some(&b'.') {
            let frac_end = digits(end + 1);
            mantissa_digits += frac_end - (end + 1);
            end = frac_end;
        }
        if mantissa_digits == 0 {
            return None;
        }
        if matches!(b.get(end), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(b.get(end + 1), Some(b'+' | b'-')));
            let exp_end = digits(end + 1 + sign);
            if exp_end > end + 1 + sign {
                end = exp_end;
            }
        }
        Some(&text[..end])
    }
}

/// The expression type: exmex's float operators with [`SciNumber`] literals.
type Expr = FlatEx<f64, FloatOpsFactory<f64>, SciNumber>;

/// A parsed formula f(x, y, t).
#[derive(Debug, Clone)]
pub struct Formula {
    key: String,
    text: String,
    expr: Expr,
    /// For each of the expression's variables (exmex sorts them by name): its slot in (x, y, t).
    slots: Vec<usize>,
}

impl Formula {
    /// Parses `text` for the config key `key`; errors name the key and the problem on one line.
    pub fn parse(key: &str, text: &str) -> Result<Self> {
        if text.trim().is_empty() {
            return Err(CgklError::config(
                key,
                "\"\"",
                "the formula is empty; write an expression in x, y, t, e.g. \"-ln(1 + x^2)\"",
            ));
        }
        const MAX_LEN: usize = 10_000;
        if text.len() > MAX_LEN {
            return Err(CgklError::config(
                key,
                format!("<{} characters>", text.len()),
                format!("formulas are limited to {MAX_LEN} characters"),
            ));
        }
        let shown = one_line(text);
        let expr = Expr::parse(text).map_err(|e| {
            let msg = one_line(&e.to_string());
            // exmex's count of operators and operands: say what to write instead
            let hint = if msg.contains(" ops and ") {
                "; every operator needs its operands and values need an operator between them: \
                 write products with * (2*x, not 2x) and numbers as 0.5, 2e-3 or 1E+5"
            } else {
                ""
            };
            CgklError::config(
                key,
                format!("\"{shown}\""),
                format!("cannot parse the formula: {msg}{hint}"),
            )
        })?;
        let mut slots = Vec::with_capacity(expr.var_names().len());
        for name in expr.var_names() {
            match VARIABLES.iter().position(|v| v == name) {
                Some(slot) => slots.push(slot),
                None => {
                    return Err(CgklError::config(
                        key,
                        format!("\"{shown}\""),
                        format!(
                            "unknown name `{}`: formulas may use only the variables x, y, t, \
                             the constants PI, E, TAU and functions such as exp, ln, sin, sqrt",
                            one_line(name)
                        ),
                    ))
                }
            }
        }
        Ok(Self {
            key: key.to_string(),
            text: text.to_string(),
            expr,
            slots,
        })
    }

    /// The formula as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The formula quoted for a message: one line, control characters escaped, at most 80
    /// characters.
    pub fn shown(&self) -> String {
        format!("\"{}\"", one_line(&self.text))
    }

    /// True when the formula uses the time variable `t`.
    pub fn uses_t(&self) -> bool {
        self.slots.contains(&2)
    }

    /// f(x, y, t) (NaN where the formula is undefined, e.g. `ln` of a negative number).
    pub fn eval(&self, x: f64, y: f64, t: f64) -> f64 {
        let all = [x, y, t];
        let mut vars = [0.0; 3];
        for (v, &slot) in vars.iter_mut().zip(&self.slots) {
            *v = all[slot];
        }
        self.expr
            .eval(&vars[..self.slots.len()])
            .unwrap_or(f64::NAN)
    }

    /// `out_i = f(x_i, y_i, t)` at every cell centre of `grid`; errors at the first cell where the
    /// value is not finite, naming the cell, its coordinates and t.
    pub fn eval_cells(&self, grid: Grid, t: f64, out: &mut [f64]) -> Result<()> {
        for (i, o) in out.iter_mut().enumerate() {
            let (x, y) = grid.centre(i);
            let v = self.eval(x, y, t);
            if !v.is_finite() {
                let (ix, iy) = (i % grid.nx, i / grid.nx);
                return Err(CgklError::config(
                    &self.key,
                    format!("\"{}\"", one_line(&self.text)),
                    format!(
                        "the formula is {v} at cell (ix = {ix}, iy = {iy}), x = {x}, y = {y}, \
                         t = {t}; it must be finite at every cell centre"
                    ),
                ));
            }
            *o = v;
        }
        Ok(())
    }
}

/// The formula (or a message) on one line, control characters escaped, cut at 80 characters.
fn one_line(s: &str) -> String {
    let s = escape_control(&crate::error::one_line(s));
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_with_variables_in_any_order() {
        let f = Formula::parse("k", "t*100 + 10*y + x").unwrap();
        assert_eq!(f.eval(1.0, 2.0, 3.0), 321.0);
        assert!(f.uses_t());
        let g = Formula::parse("k", "exp(-((x-0.3)^2 + (y-0.3)^2)/(2*0.08^2))").unwrap();
        assert!(!g.uses_t());
        assert_eq!(g.eval(0.3, 0.3, 7.0), 1.0);
        let c = Formula::parse("k", "2*PI").unwrap();
        assert_eq!(c.eval(0.0, 0.0, 0.0), std::f64::consts::TAU);
    }

    #[test]
    fn numbers_take_an_exponent_and_e_stays_the_constant() {
        let e = std::f64::consts::E;
        for (text, want) in [
            ("1e-3*x", 1e-3 * 2.0),
            ("2.5E+2", 250.0),
            ("1e5", 1e5),
            ("1E5 + x", 1e5 + 2.0),
            (".5e1", 5.0),
            ("4.", 4.0),
            ("4.e1", 40.0),
            ("x*1e0", 2.0),
            ("2*e", 2.0 * e),
            ("x^e", 2f64.powf(e)),
            ("e*1e2", e * 100.0),
            ("exp(1) - e", 0.0),
            ("-3e-2*y", -3e-2 * 3.0),
        ] {
            let f = Formula::parse("k", text).unwrap_or_else(|err| panic!("{text}: {err}"));
            assert_eq!(f.eval(2.0, 3.0, 0.0), want, "{text}");
        }
        for (text, end) in [("1e-3*x", "1e-3"), ("2e", "2"), ("2E+", "2"), ("..5", "")] {
            assert_eq!(SciNumber::is_literal(text).unwrap_or(""), end, "{text}");
        }
        // `2e` is 2 followed by the constant e: still an error, now with what to write
        let msg = Formula::parse("k", "2e").unwrap_err().to_string();
        assert!(msg.contains("2*x, not 2x"), "{msg}");
    }

    #[test]
    fn bad_formulas_get_one_line_errors_naming_the_key() {
        for (text, want) in [
            ("", "empty"),
            ("x +* y", "cannot parse"),
            ("x + z", "unknown name `z`"),
            ("sin(x", "cannot parse"),
        ] {
            let e = Formula::parse("score.log_q", text).unwrap_err();
            let msg = e.to_string();
            assert!(e.is_input() && !msg.contains('\n'), "{msg}");
            assert!(
                msg.contains("score.log_q") && msg.contains(want),
                "{text}: {msg}"
            );
        }
        let grid = Grid::new(4, 4).unwrap();
        let f = Formula::parse("score.log_q", "ln(x - 0.5)").unwrap();
        let e = f
            .eval_cells(grid, 0.0, &mut [0.0; 16])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cell (ix = 0, iy = 0)") && e.contains("NaN"),
            "{e}"
        );
    }
}
