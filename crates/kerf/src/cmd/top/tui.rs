//! `kerf top` in the terminal (ratatui on crossterm): the totals above, a
//! table of the rows with CPU and memory bars, the keys below. It redraws
//! when a watch reports a change, on a key, and once a second for the ages.
//! Keys: `q`/Esc/Ctrl-C quit, `s` cycles the sort order, ↑/↓ scroll.

use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};
use ratatui::{DefaultTerminal, Frame};
use tokio::sync::mpsc;

use super::live::Fleet;
use super::prices::Pricing;
use super::table::{percent, totals};
use super::view::{FleetView, NodeRow, Usage, ViewOptions, fleet_view, format_age};
use crate::cmd::CmdError;

/// Characters a usage bar is drawn in.
const BAR_WIDTH: usize = 20;

/// What the keyboard asks for.
enum Input {
    Quit,
    CycleSort,
    Up,
    Down,
    Redraw,
}

/// Runs the screen until the user quits.
pub async fn run(
    fleet: &mut Fleet,
    pricing: &Pricing,
    mut options: ViewOptions,
) -> Result<(), CmdError> {
    let mut terminal = ratatui::try_init()
        .map_err(|e| CmdError::failed("setting up the terminal")(Box::new(e)))?;
    let result = run_on(&mut terminal, fleet, pricing, &mut options).await;
    ratatui::restore();
    result
}

async fn run_on(
    terminal: &mut DefaultTerminal,
    fleet: &mut Fleet,
    pricing: &Pricing,
    options: &mut ViewOptions,
) -> Result<(), CmdError> {
    let mut keys = keyboard();
    let mut state = TableState::default();
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    loop {
        let view = fleet_view(
            &fleet.snapshot(kerf_sim::Timestamp::now()),
            &pricing.catalog,
            options,
        );
        let errors = fleet.errors();
        terminal
            .draw(|frame| draw(frame, &view, options, &pricing.source, &errors, &mut state))
            .map_err(|e| CmdError::failed("drawing the terminal")(Box::new(e)))?;
        tokio::select! {
            changed = fleet.changed.changed() => {
                if changed.is_err() {
                    return Err(CmdError::failed("watching the cluster")(
                        "every watch stopped".into(),
                    ));
                }
            }
            _ = clock.tick() => {}
            input = keys.recv() => match input {
                None | Some(Input::Quit) => return Ok(()),
                Some(Input::CycleSort) => options.sort = options.sort.next(),
                Some(Input::Up) => state.select_previous(),
                Some(Input::Down) => state.select_next(),
                Some(Input::Redraw) => {}
            },
        }
    }
}

/// Key presses, read on a thread of their own (crossterm's read blocks).
fn keyboard() -> mpsc::UnboundedReceiver<Input> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        loop {
            let input = match event::read() {
                Ok(Event::Key(key)) if key.kind != KeyEventKind::Release => match key.code {
                    KeyCode::Char('q') | KeyCode::Esc => Input::Quit,
                    KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                        Input::Quit
                    }
                    KeyCode::Char('s') => Input::CycleSort,
                    KeyCode::Up | KeyCode::Char('k') => Input::Up,
                    KeyCode::Down | KeyCode::Char('j') => Input::Down,
                    _ => continue,
                },
                Ok(Event::Resize(..)) => Input::Redraw,
                Ok(_) => continue,
                // No terminal to read from: nothing can ever quit otherwise.
                Err(_) => Input::Quit,
            };
            let quit = matches!(input, Input::Quit);
            if tx.send(input).is_err() || quit {
                return;
            }
        }
    });
    rx
}

fn draw(
    frame: &mut Frame,
    view: &FleetView,
    options: &ViewOptions,
    prices: &str,
    errors: &std::collections::BTreeMap<&'static str, String>,
    state: &mut TableState,
) {
    let mut lines: Vec<Line> = totals(view)
        .lines()
        .map(|l| Line::raw(l.to_string()))
        .collect();
    lines.push(Line::raw(format!("prices: {prices}")));
    for (kind, e) in errors {
        lines.push(Line::styled(
            format!("watch {kind}: {e}"),
            Style::new().fg(Color::Red),
        ));
    }
    for problem in &view.problems {
        lines.push(Line::styled(
            format!("unreadable: {problem}"),
            Style::new().fg(Color::Yellow),
        ));
    }
    // The lines and the box's two borders.
    let header_height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let [top, table, keys] = Layout::vertical([
        Constraint::Length(header_height),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let pools = if options.pools.is_empty() {
        "all pools".to_string()
    } else {
        format!("pools {}", options.pools.join(", "))
    };
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(format!(" kerf top · {pools} "))),
        top,
    );

    let header = Row::new([
        "NODE", "POOL", "TYPE", "ZONE", "CAPACITY", "$/H", "AGE", "PODS", "CPU", "MEMORY",
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    let widths = [
        Constraint::Fill(3),
        Constraint::Fill(1),
        Constraint::Length(13),
        Constraint::Length(11),
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Length(4),
        Constraint::Length(4),
        Constraint::Length(BAR_WIDTH as u16 + 5),
        Constraint::Length(BAR_WIDTH as u16 + 5),
    ];
    let rows = view.rows.iter().map(row);
    frame.render_stateful_widget(
        Table::new(rows, widths)
            .header(header)
            .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED)),
        table,
        state,
    );
    frame.render_widget(
        Paragraph::new(format!(
            "q quit · s sort (by {}) · ↑/↓ scroll",
            options.sort.as_str()
        ))
        .style(Style::new().fg(Color::DarkGray)),
        keys,
    );
}

fn row(r: &NodeRow) -> Row<'static> {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
    let name = if r.ready {
        Span::raw(r.name.clone())
    } else {
        Span::styled(
            format!("{} (not ready)", r.name),
            Style::new().fg(Color::Yellow),
        )
    };
    Row::new([
        Line::from(name),
        Line::raw(dash(&r.pool)),
        Line::raw(dash(&r.instance_type)),
        Line::raw(dash(&r.zone)),
        Line::raw(dash(&r.capacity_type)),
        Line::raw(
            r.price
                .map_or_else(|| "-".to_string(), |p| format!("{p:.4}")),
        ),
        Line::raw(format_age(r.age_seconds)),
        Line::raw(r.pods.to_string()),
        bar(&r.cpu),
        bar(&r.memory),
    ])
}

/// `██████░░░░░░  31%`, green below 70%, yellow below 90%, red above.
fn bar(usage: &Usage) -> Line<'static> {
    let Some(p) = usage.percent() else {
        return Line::raw("-");
    };
    let filled = ((p / 100.0 * BAR_WIDTH as f64).round() as usize).min(BAR_WIDTH);
    let colour = match p {
        p if p < 70.0 => Color::Green,
        p if p < 90.0 => Color::Yellow,
        _ => Color::Red,
    };
    Line::from(vec![
        Span::styled("█".repeat(filled), Style::new().fg(colour)),
        Span::styled(
            "░".repeat(BAR_WIDTH - filled),
            Style::new().fg(Color::DarkGray),
        ),
        Span::raw(format!(" {:>4}", percent(usage))),
    ])
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::cmd::top::view::SortKey;
    use crate::cmd::top::view_tests::fleet;

    /// The screen drawn into ratatui's test backend, as lines of text.
    fn screen(view: &FleetView, options: &ViewOptions) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(200, 20)).expect("test terminal");
        let mut state = TableState::default();
        terminal
            .draw(|f| {
                draw(
                    f,
                    view,
                    options,
                    "built-in us-east-1 catalogue",
                    &Default::default(),
                    &mut state,
                )
            })
            .expect("draw");
        let buffer = terminal.backend().buffer();
        let width = usize::from(buffer.area.width);
        buffer
            .content
            .chunks(width)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
            .collect()
    }

    #[test]
    fn the_screen_has_totals_rows_with_bars_and_the_keys() {
        let options = ViewOptions {
            sort: SortKey::Name,
            pools: vec![],
        };
        let view = fleet_view(&fleet(), &kerf_cloud::Catalog::builtin(), &options);
        let lines = screen(&view, &options);
        let text = lines.join("\n");
        assert!(text.contains("nodes: 3"), "{text}");
        assert!(text.contains("in-flight NodeClaims: 2"), "{text}");
        assert!(
            text.contains("prices: built-in us-east-1 catalogue"),
            "{text}"
        );
        let a = lines.iter().find(|l| l.contains("a-m5")).expect("row a-m5");
        // 75% of a 20-cell bar, CPU then memory (25%).
        assert!(
            a.contains(&format!("{}{}  75%", "█".repeat(15), "░".repeat(5))),
            "{a}"
        );
        assert!(
            a.contains(&format!("{}{}  25%", "█".repeat(5), "░".repeat(15))),
            "{a}"
        );
        let odd = lines
            .iter()
            .find(|l| l.contains("c-odd"))
            .expect("row c-odd");
        assert!(odd.contains("x9.huge"), "{odd}");
        assert!(text.contains("q quit · s sort (by name)"), "{text}");
        // Rows in the chosen order.
        let at = |name: &str| lines.iter().position(|l| l.contains(name));
        assert!(
            at("a-m5") < at("b-c5") && at("b-c5") < at("c-odd"),
            "{text}"
        );
    }
}
