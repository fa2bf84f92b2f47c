//! `apero sound-check`: a microphone meter (and, with `--echo`, your own
//! voice a second later) before a call, from the daemon's sound check.

use std::io::{IsTerminal, Write};

use apero_control::{meter_fraction, Event, SoundCheckState, METER_FLOOR_DB};

use crate::output::{self, outln};
use crate::Ctx;

#[derive(clap::Args, Debug)]
pub struct SoundCheckArgs {
    /// Also play your voice back to you, one second later, as your friends
    /// will hear it (use headphones, or expect the echo cancellation to work
    /// for its living).
    #[arg(long)]
    echo: bool,
    /// How long to run, in seconds (Ctrl-C ends it earlier).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=300))]
    seconds: u32,
}

/// What the run saw, printed at the end (the one JSON document with `--json`).
#[derive(Debug, Default, serde::Serialize)]
struct Summary {
    /// The loudest our microphone was, dBFS (after processing).
    loudest_db: f64,
    /// Whether speech was heard at some point.
    heard_speech: bool,
    echo: bool,
    /// The loudest our echo played, dBFS.
    echo_played_db: f64,
    input: Option<String>,
    output: Option<String>,
    input_error: Option<String>,
    output_error: Option<String>,
}

impl Summary {
    fn take(&mut self, s: &SoundCheckState) {
        self.loudest_db = self.loudest_db.max(s.level_db);
        self.heard_speech |= s.speaking;
        self.echo |= s.echo;
        self.echo_played_db = self.echo_played_db.max(s.playing_db);
        self.input.clone_from(&s.input);
        self.output.clone_from(&s.output);
        if s.running {
            self.input_error.clone_from(&s.input_error);
            self.output_error.clone_from(&s.output_error);
        }
    }
}

pub async fn run(ctx: &Ctx, a: SoundCheckArgs) -> anyhow::Result<()> {
    // Subscribed first, so no level is missed between the start and the stream.
    let mut events = ctx.client().await?.subscribe().await?;
    let mut c = ctx.client().await?;
    let first = c.sound_check(a.echo, Some(a.seconds)).await?;
    let mut sum = Summary { loudest_db: -100.0, echo_played_db: -100.0, ..Default::default() };
    sum.take(&first);
    let live = !ctx.json && std::io::stderr().is_terminal();
    if !ctx.json {
        eprintln!(
            "Speak into your microphone{}. {} seconds; Ctrl-C to stop.",
            if a.echo { ": you will hear yourself a second later" } else { "" },
            a.seconds
        );
    }
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => {
                c.sound_check_stop().await?;
                break;
            }
            e = events.next() => match e? {
                Some(Event::SoundCheck { state }) => {
                    sum.take(&state);
                    if !state.running {
                        break;
                    }
                    if live {
                        eprint!("\r{}", meter_line(&state));
                        let _ = std::io::stderr().flush();
                    }
                }
                Some(_) => {}
                None => anyhow::bail!("the daemon went away during the sound check"),
            }
        }
    }
    if live {
        eprintln!();
    }
    if ctx.json {
        output::json(&sum);
    } else {
        print_summary(&sum);
    }
    Ok(())
}

const WIDTH: usize = 30;

/// `mic [#########·····················]  -23 dB  speaking`
fn meter_line(s: &SoundCheckState) -> String {
    let bar = |db: f64| {
        let n = (meter_fraction(db) * WIDTH as f64).round() as usize;
        format!("{}{}", "#".repeat(n), "·".repeat(WIDTH - n))
    };
    let mut line = format!("mic [{}] {:>4.0} dB {:<8}", bar(s.level_db), s.level_db, if s.speaking { "speaking" } else { "" });
    if s.echo {
        line.push_str(&format!(" echo [{}]", bar(s.playing_db)));
    }
    if s.input_error.is_some() || s.output_error.is_some() {
        line.push_str(" (a device is missing)");
    }
    line
}

fn print_summary(s: &Summary) {
    if let Some(e) = &s.input_error {
        outln!("Microphone: {e}");
    }
    if let Some(e) = &s.output_error {
        outln!("Speaker: {e}");
    }
    let device = match &s.input {
        Some(d) => format!("Your microphone ({d})"),
        None => "Your microphone (the system's default)".to_string(),
    };
    if s.input_error.is_some() {
        outln!("Pick another microphone with `apero call settings --input NAME` (`apero devices` lists them).");
    } else if s.loudest_db <= METER_FLOOR_DB {
        outln!(
            "{device} sent only silence: is it muted, or is another one plugged in? `apero devices` lists them, `apero call settings --input NAME` picks one."
        );
    } else if !s.heard_speech {
        outln!(
            "{device} works (loudest {:.0} dB), but no speech was heard: speak closer to it, or check its level in your sound settings.",
            s.loudest_db
        );
    } else {
        outln!("{device} works: your voice reached {:.0} dB.", s.loudest_db);
    }
    if s.echo && s.output_error.is_none() {
        if s.echo_played_db > METER_FLOOR_DB {
            outln!("Your voice was played back on {}.", s.output.as_deref().unwrap_or("the default speaker"));
        } else {
            outln!("Nothing was played back: say something longer, then listen.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(level_db: f64, speaking: bool) -> SoundCheckState {
        SoundCheckState {
            running: true,
            echo: false,
            echo_delay_ms: 1000,
            level_db,
            speaking,
            playing_db: -100.0,
            seconds_left: 3,
            input: None,
            output: None,
            input_error: None,
            output_error: None,
        }
    }

    #[test]
    fn the_meter_fills_with_the_level() {
        let empty = meter_line(&state(-100.0, false));
        assert!(empty.contains(&format!("[{}]", "·".repeat(WIDTH))), "{empty}");
        let half = meter_line(&state(-30.0, true));
        assert!(half.contains(&format!("[{}{}]", "#".repeat(WIDTH / 2), "·".repeat(WIDTH / 2))), "{half}");
        assert!(half.contains("speaking"));
    }

    #[test]
    fn the_summary_keeps_the_loudest_and_any_speech() {
        let mut s = Summary { loudest_db: -100.0, echo_played_db: -100.0, ..Default::default() };
        s.take(&state(-40.0, false));
        s.take(&state(-20.0, true));
        s.take(&state(-70.0, false));
        assert_eq!(s.loudest_db, -20.0);
        assert!(s.heard_speech);
    }
}
