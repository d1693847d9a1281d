//! LOLWUT's computer art, drawn our own way: version 5 is a take on Georg
//! Nees' "Schotter" (squares that tumble more the lower they are), rendered
//! in Braille dots; version 6 a random city skyline in terminal colours.

use bytes::Bytes;
use rand::Rng;
use storage::{CmdError, CmdResult};

/// A monochrome canvas.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<bool>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Canvas {
        Canvas {
            w,
            h,
            px: vec![false; w * h],
        }
    }

    fn set(&mut self, x: i64, y: i64) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            self.px[y as usize * self.w + x as usize] = true;
        }
    }

    fn get(&self, x: usize, y: usize) -> bool {
        x < self.w && y < self.h && self.px[y * self.w + x]
    }

    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64)) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.set(x, y);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Two by four pixels per Braille character.
    fn braille(&self) -> String {
        const BITS: [[u32; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];
        let mut out = String::new();
        for cy in (0..self.h).step_by(4) {
            for cx in (0..self.w).step_by(2) {
                let mut code = 0u32;
                for (dx, col) in BITS.iter().enumerate() {
                    for (dy, bit) in col.iter().enumerate() {
                        if self.get(cx + dx, cy + dy) {
                            code |= bit;
                        }
                    }
                }
                out.push(char::from_u32(0x2800 + code).unwrap_or(' '));
            }
            out.push('\n');
        }
        out
    }
}

/// Optional integer arguments, clamped to `[1, max]`, with defaults.
fn int_args<const N: usize>(
    args: &[Bytes],
    defaults: [i64; N],
    max: [i64; N],
) -> CmdResult<[i64; N]> {
    let mut v = defaults;
    for (i, a) in args.iter().take(N).enumerate() {
        v[i] = storage::numfmt::parse_i64(a).ok_or(CmdError::NotInteger)?;
    }
    for i in 0..N {
        v[i] = v[i].clamp(1, max[i]);
    }
    Ok(v)
}

/// LOLWUT VERSION 5 [columns [squares-per-row [squares-per-column]]].
pub fn schotter(args: &[Bytes]) -> CmdResult<String> {
    let [cols, per_row, per_col] = int_args(args, [66, 8, 12], [1000, 200, 200])?;
    let width = (cols * 2) as usize;
    let pad = if width > 4 { 2 } else { 0 };
    let side = ((width - pad * 2) / per_row as usize).max(1);
    let height = side * per_col as usize + pad * 2;
    let mut c = Canvas::new(width, height);
    let mut rng = rand::rng();
    for row in 0..per_col as usize {
        // Disorder grows towards the bottom, as in the plot.
        let chaos = row as f64 / per_col as f64;
        for col in 0..per_row as usize {
            let half = side as f64 / 2.0;
            let mut cx = (col * side + pad) as f64 + half;
            let mut cy = (row * side + pad) as f64 + half;
            let angle = rng.random_range(-1.0..=1.0) * chaos * std::f64::consts::FRAC_PI_4;
            cx += rng.random_range(-1.0..=1.0) * chaos * half / 2.0;
            cy += rng.random_range(-1.0..=1.0) * chaos * half / 2.0;
            let corners: Vec<(i64, i64)> = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
                .iter()
                .map(|&(dx, dy): &(f64, f64)| {
                    let (x, y) = (dx * half, dy * half);
                    let (s, co) = angle.sin_cos();
                    (
                        (cx + x * co - y * s).round() as i64,
                        (cy + x * s + y * co).round() as i64,
                    )
                })
                .collect();
            for i in 0..4 {
                c.line(corners[i], corners[(i + 1) % 4]);
            }
        }
    }
    Ok(format!(
        "{}\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. {}\n",
        c.braille(),
        crate::REDIS_VERSION
    ))
}

/// Terminal cells in four shades, sky to nearest building.
const SHADES: [&str; 4] = [
    "\x1b[0;97;107m \x1b[0m",
    "\x1b[0;37;47m \x1b[0m",
    "\x1b[0;90;100m \x1b[0m",
    "\x1b[0;30;40m \x1b[0m",
];

/// LOLWUT VERSION 6 [columns [rows]]: a skyline in three layers of
/// buildings, drawn with coloured terminal cells.
pub fn skyline(args: &[Bytes]) -> CmdResult<String> {
    let [cols, rows] = int_args(args, [80, 20], [1000, 1000])?;
    let (w, h) = (cols as usize, rows as usize);
    let mut grid = vec![vec![0usize; w]; h];
    let mut rng = rand::rng();
    for layer in 1..=3usize {
        let mut x = rng.random_range(0..4usize);
        while x < w {
            let bw = rng.random_range(3..=8usize);
            // Nearer layers are lower, so the far ones show behind them.
            let max_height = (h * (5 - layer) / 4).clamp(1, h);
            let height = rng.random_range(1..=max_height);
            for row in grid.iter_mut().skip(h - height) {
                for cell in row.iter_mut().skip(x).take(bw.min(w - x)) {
                    *cell = layer;
                }
            }
            x += bw + rng.random_range(1..=4usize);
        }
    }
    let mut out = String::new();
    for row in grid {
        for cell in row {
            out.push_str(SHADES[cell]);
        }
        out.push('\n');
    }
    out.push_str("Dedicated to the 8 bit game developers of past and present.\n");
    out.push_str("Original 8 bit image from Plaguemon by hikikomori. Redis ver. ");
    out.push_str(crate::REDIS_VERSION);
    out.push('\n');
    Ok(out)
}
