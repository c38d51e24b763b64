//! `chart.png`: one panel per metric (3 x 2), one horizontal bar per
//! contender, drawn with plotters' bitmap backend. Labels use the built-in
//! pixel font ([`super::glyphs`]), so rendering needs no system font.
//! Colours: the Linux bridge grey, ferrovs orange, OVS blue. A figure that
//! could not be taken shows the word FAILED instead of a bar.

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use super::contenders::Contender;
use super::glyphs;
use super::report::{Report, METRICS};

const W: u32 = 1260;
const PANEL_H: u32 = 250;
const SCALE: u32 = 2;
const LABEL_W: u32 = 17 * 6 * SCALE;
const VALUE_W: u32 = 9 * 6 * SCALE;

fn colour(c: Contender) -> RGBColor {
    match c {
        Contender::LinuxBridge => RGBColor(130, 130, 130),
        Contender::FerrovsAfPacket => RGBColor(230, 120, 30),
        Contender::FerrovsAfXdp => RGBColor(200, 70, 20),
        Contender::OvsAfPacket => RGBColor(70, 130, 200),
        Contender::OvsAfXdp => RGBColor(30, 80, 160),
        Contender::OvsAfPacketTso => RGBColor(120, 170, 230),
    }
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn text(area: &Area, s: &str, x: i32, y: i32, scale: u32, c: &RGBColor) -> anyhow::Result<()> {
    let mut ox = x;
    for ch in s.chars() {
        for (px, py) in glyphs::pixels(ch) {
            let x0 = ox + (px * scale) as i32;
            let y0 = y + (py * scale) as i32;
            area.draw(&Rectangle::new(
                [(x0, y0), (x0 + scale as i32 - 1, y0 + scale as i32 - 1)],
                c.filled(),
            ))
            .map_err(|e| anyhow!("draw: {e}"))?;
        }
        ox += (6 * scale) as i32;
    }
    Ok(())
}

pub fn write(r: &Report, path: &Path) -> anyhow::Result<()> {
    let rows = METRICS.len().div_ceil(2) as u32;
    let h = rows * PANEL_H + 40;
    let root = BitMapBackend::new(path, (W, h)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("fill: {e}"))?;
    let title = format!("FERROVS BENCH - {} S PER FIGURE - MEDIANS", r.duration_s);
    text(&root, &title, 10, 10, SCALE, &BLACK)?;
    let panel_w = W / 2;
    for (i, m) in METRICS.iter().enumerate() {
        let x = (i as u32 % 2) * panel_w;
        let y = 40 + (i as u32 / 2) * PANEL_H;
        text(&root, m.label(), x as i32 + 10, y as i32 + 6, SCALE, &BLACK)?;
        let max = r
            .columns
            .iter()
            .filter_map(|c| c.get(*m).and_then(|o| o.as_ref().ok().copied()))
            .fold(0.0f64, f64::max);
        let n = r.columns.len().max(1) as u32;
        let bar_h = ((PANEL_H - 50) / n).min(34);
        let bar_max = panel_w - LABEL_W - VALUE_W - 30;
        for (k, c) in r.columns.iter().enumerate() {
            let by = y as i32 + 34 + (k as u32 * bar_h) as i32;
            let lx = x as i32 + 10;
            text(&root, c.contender.name(), lx, by + 6, SCALE, &BLACK)?;
            let bx = lx + LABEL_W as i32;
            match c.get(*m) {
                Some(Ok(v)) => {
                    let len = if max > 0.0 {
                        (v / max * bar_max as f64).round() as i32
                    } else {
                        0
                    };
                    root.draw(&Rectangle::new(
                        [(bx, by + 3), (bx + len.max(1), by + bar_h as i32 - 4)],
                        colour(c.contender).filled(),
                    ))
                    .map_err(|e| anyhow!("draw: {e}"))?;
                    let val = if *v >= 100.0 {
                        format!("{v:.0}")
                    } else {
                        format!("{v:.2}")
                    };
                    text(&root, &val, bx + len.max(1) + 6, by + 6, SCALE, &BLACK)?;
                }
                Some(Err(_)) => text(&root, "FAILED", bx, by + 6, SCALE, &RED)?,
                None => text(&root, "-", bx, by + 6, SCALE, &BLACK)?,
            }
        }
    }
    root.present()
        .map_err(|e| anyhow!("write {}: {e}", path.display()))?;
    Ok(())
}
